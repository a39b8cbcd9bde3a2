import { CJK, CJK_G, detectLanguage } from "../../text/lang.ts";
import { MAX_TITLE_CHARS, SUMMARY_LIMITS, type Segment, type Summary, type SummaryList, cap, collapse, isoMinute, itemKey, ordered } from "./schema.ts";
import { normalizeList, normalizeTitle } from "./normalize.ts";

// A summary without the LLM (none configured, or its reply was unusable): meaningful sentences of
// the transcript sorted into the lists by labels and cues, in the transcript's language.

const ZH_FILLER =
  /^(?:嗯|啊|呃|额|哦|噢|喂|好|好的|对|对的|是|是的|行|可以|没问题|谢谢|谢谢大家|大家好|你好|各位好|那个|这个|然后|就是|开始吧|我们开始吧|散会|拜拜|再见)+$/;
const EN_FILLER =
  /^(?:(?:ok|okay|yes|yeah|yep|no|nope|right|sure|thanks|thank you|hello|hi|hey|um|uh|so|well|alright|cool|great|got it|sounds good|everyone|all|good morning|good afternoon|bye|see you|let us start|lets start|mhm|hmm)\s*)+$/;

function weight(s: string): number {
  const cjk = (s.match(CJK_G) ?? []).length;
  const words = (s.match(/[\p{L}\p{N}]{2,}/gu) ?? []).filter((w) => !CJK.test(w)).length;
  return cjk + words * 2.5;
}

function isFiller(s: string): boolean {
  const k = s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .replace(/'/g, "");
  const compact = k.replace(/\s+/g, "");
  return compact === "" || ZH_FILLER.test(compact) || EN_FILLER.test(collapse(k));
}

function meaningful(s: string): boolean {
  return !isFiller(s) && weight(s) >= 6;
}

/** Sentences of a transcript segment. */
function sentences(text: string): string[] {
  return collapse(text)
    .split(/(?<=[。！？；!?;])\s*|(?<=\.)\s+/u)
    .map((s) => s.replace(/^[,，、\s]+|[,，、\s]+$/gu, ""))
    .filter((s) => s.length >= 2);
}

const NEGATED_RISK =
  /没(?:有)?(?:什么)?(?:问题|风险)|不是问题|问题不大|\bno (?:problem|issue|risk|concern|blocker)s?\b|\bnot (?:a |an )?(?:problem|issue|risk|concern)\b|\bno worries\b/i;

type Cue = Exclude<SummaryList, "bullets">;

// A sentence that starts with a label ("下一步：…", "Risk: …", "TODO …") goes to that list.
const LABELS: [Cue, RegExp][] = [
  ["decisions", /^(?:决定|决议|结论|decisions?|decided|agreed)\s*(?:是|为)?\s*[:：,，]\s*/i],
  ["risks", /^(?:风险|问题|阻塞|隐患|risks?|blockers?|issues?|concerns?)\s*(?:是|为)?\s*[:：,，]\s*/i],
  ["actions", /^(?:(?:待办|行动项?|任务|action items?|actions?)\s*(?:是|为)?\s*[:：,，]|(?:todo|to-do)\b[:：,，]?)\s*/i],
  ["nextSteps", /^(?:(?:接下来|后续|follow[- ]?ups?)\s*(?:是|为|就是)?\s*[:：,，]|(?:下一步|下步|next steps?)\s*(?:是|为|就是)?\s*[:：,，]?)\s*/i],
];

// Otherwise the first cue that matches, strongest first: a sentence naming an owner ("张三负责…")
// is an action even when it mentions a problem; a bare "问题/issue" is only a weak risk cue.
const CUES: [Cue, RegExp][] = [
  [
    "decisions",
    /决定|决议|定下来|定了|确定了|敲定|达成(?:一致|共识)|一致同意|同意了|就这么定|拍板|最终方案|\b(?:decided|decide to|decision|agreed|agree to|we will go with|going with|approved|settled on|consensus)\b/i,
  ],
  ["risks", /风险|隐患|阻塞|瓶颈|延期|延误|来不及|\b(?:risks?|risky|blockers?|blocked|blocking|bottleneck|at risk|might slip|could slip|delay(?:ed|s)?)\b/i],
  [
    "actions",
    /负责|需要|待办|安排|提交|截止|我来|你来|由.{1,6}(?:来|负责)|\b(?:will|todo|to-do|action items?|needs? to|has to|have to|must|assigned?|owner|responsible|take care of|deadline|due)\b/i,
  ],
  ["risks", /问题|困难|担心|担忧|卡住|\b(?:issues?|problems?|concerns?|concerned|worr(?:y|ied))\b/i],
  ["nextSteps", /下周|明天|跟进|下次会议|\b(?:next week|next time|follow[- ]?up|going forward|moving forward|tomorrow|next meeting)\b/i],
];

function classify(s: string): { cue: Cue | undefined; text: string } {
  for (const [cue, re] of LABELS) {
    const m = re.exec(s);
    if (m && s.length > m[0].length) {
      const rest = s.slice(m[0].length);
      return { cue, text: CJK.test(rest) ? rest : titleCase(rest) };
    }
  }
  if (isTopic(s)) return { cue: undefined, text: s };
  for (const [cue, re] of CUES) {
    if (cue === "risks" && NEGATED_RISK.test(s) && !re.test(s.replace(NEGATED_RISK, ""))) continue;
    if (re.test(s)) return { cue, text: s };
  }
  return { cue: undefined, text: s };
}

const TOPIC_CUES: RegExp[] = [
  /(?:今天|本次|这次|我们)?(?:会议|开会)?(?:主要)?(?:要)?(?:讨论|议题是|主题是|聊)(?:一下|的是)?[:：，,]?\s*(.{2,})/u,
  /\b(?:the agenda is|agenda:|the topic is|today we(?: will| are going to)? (?:discuss|talk about|cover|review)|let us (?:discuss|talk about|review)|lets (?:discuss|talk about|review)|we are here to (?:discuss|talk about|review)|this meeting is (?:about|to discuss))\s*(.{3,})/i,
];

function titleCase(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function shortTitle(s: string): string {
  const t = s.replace(/[。！？；!?;.,，、:：\s]+$/u, "").trim();
  if (CJK.test(t)) return cap(t, 30);
  if (t.length <= 60) return titleCase(t);
  const cut = t.slice(0, 60);
  const sp = cut.lastIndexOf(" ");
  return `${titleCase(sp > 20 ? cut.slice(0, sp) : cut)}…`;
}

function topicOf(s: string): string | undefined {
  const norm = s.replace(/\blet['’]s\b/gi, "let us");
  for (const re of TOPIC_CUES) {
    const topic = re.exec(norm)?.[1]?.trim();
    if (topic && weight(topic) >= 2) return topic;
  }
  return undefined;
}

function isTopic(s: string): boolean {
  return topicOf(s) !== undefined;
}

function pickTitle(units: string[]): string | undefined {
  for (const u of units.slice(0, 12)) {
    const topic = topicOf(u);
    if (topic) return shortTitle(topic);
  }
  const first = units.find(meaningful);
  return first ? shortTitle(first) : undefined;
}

function overlaps(a: string, b: string): boolean {
  const ka = itemKey(a).replace(/[^\p{L}\p{N}]+/gu, "");
  const kb = itemKey(b).replace(/[^\p{L}\p{N}]+/gu, "");
  return ka === kb || (kb.length >= 6 && ka.includes(kb)) || (ka.length >= 6 && kb.includes(ka));
}

/**
 * A degraded but valid summary without the LLM: a title from the stated topic or the first
 * meaningful sentence (else "Meeting <date>"), bullets from the most informative distinct
 * sentences (in meeting order), decisions/risks/actions/next steps from keyword cues in Chinese
 * and English (the latest ones win). `reason` (why the LLM was not used) is not part of the
 * Summary: the caller sends it as the message's `degraded` field (PROTOCOL §6.1), so a summary has
 * the same shape whichever way it was made.
 */
export function heuristicSummary(segments: readonly Segment[], reason: string, opts: { startedAt?: number } = {}): Summary {
  void reason;
  const segs = ordered(segments);
  const units: string[] = segs.flatMap((s) => sentences(s.text));
  const lang = detectLanguage(units.join(" "));
  const when = isoMinute(opts.startedAt ?? segs[0]?.ts ?? 0);
  const dateTitle = lang === "zh" && units.length ? `会议 ${when ?? ""}`.trim() : when ? `Meeting ${when}` : "Meeting";
  const title = normalizeTitle(pickTitle(units)) || dateTitle;

  const cued: Record<Cue, string[]> = { decisions: [], actions: [], risks: [], nextSteps: [] };
  const scored: { text: string; score: number; i: number }[] = [];
  units.forEach((u, i) => {
    if (isFiller(u)) return;
    const { cue, text } = classify(u);
    if (cue && weight(text) >= 3) cued[cue].push(text);
    if (!meaningful(u) || overlaps(u, title) || shortTitle(u) === title) return; // the title already says it
    let score = Math.min(weight(u), 60);
    if (/\d/.test(u)) score += 5;
    if (cue) score -= 10; // already reported in its own list
    scored.push({ text: u, score, i });
  });

  const bullets: { text: string; i: number }[] = [];
  for (const c of [...scored].sort((a, b) => b.score - a.score || a.i - b.i)) {
    if (bullets.length >= SUMMARY_LIMITS.bullets) break;
    if (bullets.some((b) => overlaps(b.text, c.text))) continue;
    bullets.push(c);
  }
  bullets.sort((a, b) => a.i - b.i);

  const latest = (items: string[], limit: number): string[] => {
    const distinct: string[] = [];
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i]!;
      if (!distinct.some((d) => overlaps(d, item))) distinct.unshift(item);
    }
    return distinct.slice(-limit);
  };

  return {
    title: cap(title, MAX_TITLE_CHARS),
    bullets: normalizeList(
      bullets.map((b) => b.text),
      SUMMARY_LIMITS.bullets,
    ),
    decisions: normalizeList(latest(cued.decisions, SUMMARY_LIMITS.decisions), SUMMARY_LIMITS.decisions),
    actions: normalizeList(latest(cued.actions, SUMMARY_LIMITS.actions), SUMMARY_LIMITS.actions),
    risks: normalizeList(latest(cued.risks, SUMMARY_LIMITS.risks), SUMMARY_LIMITS.risks),
    nextSteps: normalizeList(latest(cued.nextSteps, SUMMARY_LIMITS.nextSteps), SUMMARY_LIMITS.nextSteps),
  };
}
