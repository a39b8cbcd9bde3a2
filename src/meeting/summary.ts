import { z } from "zod";
import { extractJsonObject } from "../llm/json-extract.ts";

// Meeting summary (PROTOCOL §6.1): the LLM prompt, the normalisation of whatever the LLM returns,
// and a heuristic summary for when there is no LLM or its output is unusable. Pure functions.
//
// The prompt carries only the transcript's last TRANSCRIPT_TAIL_CHARS characters: the end of a
// meeting (decisions, owners, next steps) matters most, and a bounded prompt keeps the reply from
// being cut by the token limit.

export const TRANSCRIPT_TAIL_CHARS = 4000;
export const MAX_ITEM_CHARS = 200;
export const MAX_TITLE_CHARS = 80;
export const SUMMARY_LISTS = ["bullets", "decisions", "actions", "risks", "nextSteps"] as const;
export type SummaryList = (typeof SUMMARY_LISTS)[number];
export const SUMMARY_LIMITS: Readonly<Record<SummaryList, number>> = { bullets: 6, decisions: 4, actions: 4, risks: 4, nextSteps: 4 };

export type Lang = "zh" | "en";
export type Segment = { text: string; speakerId?: string; ts: number };

// ---------------------------------------------------------------------------------------------
// Schemas

const NonBlank = /\S/;
const SummaryItem = z.string().regex(NonBlank, "empty item").max(MAX_ITEM_CHARS);

/** The Summary fields, for message schemas that embed them (`z.object({ ...summaryShape, … })`). */
export const summaryShape = {
  title: z.string().regex(NonBlank, "empty title").max(MAX_TITLE_CHARS),
  bullets: z.array(SummaryItem).max(SUMMARY_LIMITS.bullets),
  decisions: z.array(SummaryItem).max(SUMMARY_LIMITS.decisions),
  actions: z.array(SummaryItem).max(SUMMARY_LIMITS.actions),
  risks: z.array(SummaryItem).max(SUMMARY_LIMITS.risks),
  nextSteps: z.array(SummaryItem).max(SUMMARY_LIMITS.nextSteps),
};

/** Refinement: every list holds distinct items (case-insensitive, whitespace-normalised). */
export function checkDistinct(value: Record<SummaryList, string[]>, ctx: z.RefinementCtx): void {
  for (const list of SUMMARY_LISTS) {
    const seen = new Set<string>();
    value[list].forEach((item, i) => {
      const k = itemKey(item);
      if (seen.has(k)) ctx.addIssue({ code: "custom", message: "duplicate item", path: [list, i] });
      seen.add(k);
    });
  }
}

/** A normalised summary: non-empty title, lists of distinct non-empty strings within the limits. */
export const Summary = z.object(summaryShape).superRefine(checkDistinct);
export type Summary = z.infer<typeof Summary>;

/** What the LLM is asked to return (the shape in the system prompt), before normalisation. */
export const SummaryReply = z.object({
  title: z.string(),
  bullets: z.array(z.string()),
  decisions: z.array(z.string()),
  actions: z.array(z.string()),
  risks: z.array(z.string()),
  nextSteps: z.array(z.string()),
});
export type SummaryReply = z.infer<typeof SummaryReply>;

// ---------------------------------------------------------------------------------------------
// Small helpers

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
const CJK_G = /[\u3400-\u9fff\uf900-\ufaff]/g;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function collapse(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Cut to `max` code points, ending with "…" when cut (never splits a surrogate pair). */
function cap(s: string, max: number): string {
  const chars = Array.from(s);
  if (chars.length <= max) return s;
  return `${chars.slice(0, max - 1).join("").trimEnd()}…`;
}

/** Dedupe key: case-insensitive, whitespace-normalised, trailing punctuation ignored. */
function itemKey(s: string): string {
  return collapse(s.normalize("NFKC").toLowerCase()).replace(/[\s.。!！?？;；,，:：…]+$/u, "");
}

/** zh when CJK characters outnumber Latin words; en otherwise (also for empty text). */
export function detectLanguage(text: string): Lang {
  const cjk = (text.match(CJK_G) ?? []).length;
  const latin = (text.match(/[a-z]{2,}/gi) ?? []).length;
  return cjk > 0 && cjk >= latin ? "zh" : "en";
}

function isoMinute(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return undefined;
  return d.toISOString().slice(0, 16).replace("T", " ");
}

/** Milliseconds as "HH:MM:SS" (hours may exceed 99); negative or non-finite → "00:00:00". */
export function formatDuration(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}

function ordered(segments: readonly Segment[]): Segment[] {
  return segments
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => isRecord(s) && typeof s.text === "string" && collapse(s.text) !== "")
    .sort((a, b) => (Number(a.s.ts) || 0) - (Number(b.s.ts) || 0) || a.i - b.i)
    .map(({ s }) => s);
}

// ---------------------------------------------------------------------------------------------
// Prompt

/** The transcript as lines "speaker: text", oldest first. */
export function transcriptText(segments: readonly Segment[]): string {
  return ordered(segments)
    .map((s) => {
      const text = collapse(s.text);
      const who = typeof s.speakerId === "string" ? collapse(s.speakerId) : "";
      return who ? `${who}: ${text}` : text;
    })
    .join("\n");
}

/**
 * The last `max` characters of `text` (UTF-16 units, as String.length counts). A cut that falls
 * inside a short line drops the fragment so the tail starts at a line; a cut inside a long line
 * keeps the fragment after a leading "…". The result is never longer than `max`.
 */
export function tailText(text: string, max = TRANSCRIPT_TAIL_CHARS): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  let start = text.length - max + 1; // room for the "…" marker
  const code = text.charCodeAt(start);
  if (code >= 0xdc00 && code <= 0xdfff) start += 1;
  let tail = text.slice(start);
  if (text[start - 1] !== "\n") {
    const nl = tail.indexOf("\n");
    if (nl !== -1 && nl < 200) return { text: tail.slice(nl + 1), truncated: true };
  }
  tail = `…${tail}`;
  return { text: tail, truncated: true };
}

const LANG_RULE: Record<Lang, string> = {
  zh: "The transcript is in Chinese: write every string in Simplified Chinese.",
  en: "The transcript is in English: write every string in English.",
};

export function buildSummaryPrompt(
  segments: readonly Segment[],
  opts: { startedAt: number; endedAt: number },
): { system: string; user: string; truncated: boolean; lang: Lang } {
  const { text, truncated } = tailText(transcriptText(segments), TRANSCRIPT_TAIL_CHARS);
  const lang = detectLanguage(text);
  const system = [
    "You summarise meeting transcripts.",
    "Reply with exactly one JSON object and nothing else: no code fences, no markdown, no text before or after it.",
    'The object has exactly these keys: {"title":string,"bullets":string[],"decisions":string[],"actions":string[],"risks":string[],"nextSteps":string[]}',
    `- title: a short title for the meeting (at most ${Math.floor(MAX_TITLE_CHARS / 2)} characters).`,
    `- bullets: at most ${SUMMARY_LIMITS.bullets} key points of the discussion.`,
    `- decisions: at most ${SUMMARY_LIMITS.decisions} decisions that were made.`,
    `- actions: at most ${SUMMARY_LIMITS.actions} action items, with the owner when known.`,
    `- risks: at most ${SUMMARY_LIMITS.risks} risks, blockers or open problems.`,
    `- nextSteps: at most ${SUMMARY_LIMITS.nextSteps} next steps.`,
    `Every item is one short plain sentence (under ${MAX_ITEM_CHARS} characters), distinct from the others; never an empty string.`,
    "Use [] for a list with nothing to put in it. Only use what the transcript says; do not invent names, dates or facts.",
    `Write in the same language as the transcript. ${LANG_RULE[lang]}`,
  ].join("\n");
  const start = isoMinute(opts.startedAt);
  const header = [
    start ? `Meeting started ${start} UTC, duration ${formatDuration(opts.endedAt - opts.startedAt)}.` : `Meeting duration ${formatDuration(opts.endedAt - opts.startedAt)}.`,
    truncated ? `Only the last ${TRANSCRIPT_TAIL_CHARS} characters of the transcript are included; earlier parts are omitted.` : "",
    text ? "Transcript:" : "Transcript: (empty: nothing was said)",
  ].filter(Boolean);
  const user = text ? `${header.join("\n")}\n${text}` : header.join("\n");
  return { system, user, truncated, lang };
}

// ---------------------------------------------------------------------------------------------
// Normalisation of the LLM reply

/** The reply's JSON object; also unwraps a reply that is itself a JSON-encoded string. */
function jsonFromText(text: string): Record<string, unknown> | null {
  const found = extractJsonObject(text);
  if (found.ok) return found.value;
  try {
    const inner: unknown = JSON.parse(text.trim());
    if (typeof inner === "string") {
      const again = extractJsonObject(inner);
      if (again.ok) return again.value;
    }
  } catch {
    /* not a JSON string either */
  }
  return null;
}

function normKey(k: string): string {
  return k.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
}

const KEY_ALIASES: Record<"title" | SummaryList, string[]> = {
  title: ["title", "meetingtitle", "topic", "subject", "heading", "name", "标题", "主题", "会议标题", "会议主题"],
  bullets: [
    "bullets", "bulletpoints", "bullet", "keypoints", "points", "highlights", "keytakeaways", "takeaways", "summarypoints",
    "notes", "要点", "摘要", "重点", "纪要", "summary", "总结",
  ],
  decisions: ["decisions", "decision", "decisionsmade", "agreed", "agreements", "conclusions", "决定", "决策", "决议", "结论"],
  actions: [
    "actions", "actionitems", "actionitem", "action", "actionpoints", "todos", "todo", "tasks", "行动", "行动项", "待办", "待办事项", "任务",
  ],
  risks: ["risks", "risk", "issues", "blockers", "concerns", "risksandissues", "openissues", "风险", "问题", "阻塞"],
  nextSteps: ["nextsteps", "nextstep", "next", "followups", "followup", "followupitems", "下一步", "后续", "后续步骤", "下一步计划"],
};

const MAIN_FIELDS = [
  "text", "content", "item", "description", "desc", "title", "summary", "action", "task", "decision", "risk", "step", "point", "name", "value", "detail", "details",
];
const OWNER_FIELDS = ["owner", "assignee", "who", "responsible", "by", "person", "负责人"];
const DUE_FIELDS = ["due", "deadline", "duedate", "when", "date", "截止", "截止时间"];

function primitiveText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  return undefined;
}

function fieldOf(obj: Record<string, unknown>, names: string[]): string | undefined {
  const byKey = new Map(Object.entries(obj).map(([k, v]) => [normKey(k), v] as const));
  for (const n of names) {
    const t = primitiveText(byKey.get(n));
    if (t !== undefined && collapse(t) !== "") return collapse(t);
  }
  return undefined;
}

/** One list item as text: strings as is, numbers/booleans stringified, objects by their main field. */
function itemText(v: unknown, depth = 0): string | undefined {
  const p = primitiveText(v);
  if (p !== undefined) return p;
  if (Array.isArray(v) && depth < 2) {
    const parts = v.map((x) => itemText(x, depth + 1)).filter((x): x is string => !!x && collapse(x) !== "");
    return parts.length ? parts.join("; ") : undefined;
  }
  if (!isRecord(v) || depth >= 2) return undefined;
  const main = fieldOf(v, MAIN_FIELDS);
  const owner = fieldOf(v, OWNER_FIELDS);
  const due = fieldOf(v, DUE_FIELDS);
  if (main) {
    const extras = [owner, due].filter((x): x is string => !!x && !main.includes(x));
    return extras.length ? `${main} (${extras.join(", ")})` : main;
  }
  const parts = Object.values(v)
    .map((x) => primitiveText(x))
    .filter((x): x is string => x !== undefined && collapse(x) !== "");
  return parts.length ? parts.join(", ") : undefined;
}

const BULLET_MARK = /^(?:[-*+]\s+|[•·●▪◦‣]\s*|\d{1,2}(?:[.)]\s+|、)|[（(]\d{1,2}[)）]\s*)/;

function cleanItem(s: string): string {
  let t = collapse(s);
  let prev = "";
  while (prev !== t) {
    prev = t;
    t = t.replace(BULLET_MARK, "").trim();
  }
  t = t.replace(/^(\*\*|__)(.+)\1$/, "$2").trim();
  return t;
}

/** Coerce, clean, cap, drop empties and duplicates, keep at most `limit`. */
export function normalizeList(value: unknown, limit: number, maxChars = MAX_ITEM_CHARS): string[] {
  let raw: unknown[];
  if (Array.isArray(value)) raw = value.flatMap((v) => (Array.isArray(v) ? v : [v]));
  else if (typeof value === "string") raw = value.split(/\r?\n/);
  else if (value === undefined || value === null) raw = [];
  else raw = [value];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of raw) {
    if (out.length >= limit) break;
    const text = itemText(v);
    if (text === undefined) continue;
    const item = cap(cleanItem(text), maxChars);
    if (!item) continue;
    const k = itemKey(item);
    if (!k || seen.has(k)) continue;
    seen.add(k);
    out.push(item);
  }
  return out;
}

function normalizeTitle(v: unknown): string {
  const t = Array.isArray(v) ? itemText(v[0]) : itemText(v);
  if (!t) return "";
  const cleaned = cleanItem(collapse(t).replace(/^#+\s*/, ""))
    .replace(/^["'“”「『《]+|["'“”」』》]+$/g, "")
    .trim();
  return cap(cleaned, MAX_TITLE_CHARS);
}

function lookup(obj: Record<string, unknown>): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) {
    const nk = normKey(k);
    if (!m.has(nk)) m.set(nk, v);
  }
  return m;
}

const WRAPPERS = ["summary", "result", "data", "meeting", "output", "response"];

/** Has at least one list key (a title alone does not make an object a summary). */
function hasListKeys(obj: Record<string, unknown>): boolean {
  const keys = lookup(obj);
  return SUMMARY_LISTS.some((l) => KEY_ALIASES[l].some((a) => a !== "summary" && keys.has(a)));
}

/**
 * Whatever the LLM returned (object or text) → a valid Summary, or null when nothing is usable.
 * Accepts key variants (next_steps, action_items, keyPoints, Chinese keys…), a wrapper object
 * ({"summary":{…}}), list items as strings, numbers or objects ({"task":…,"owner":…}), and a
 * string where a list was expected (one item per line). A missing title with usable lists gets
 * `fallbackTitle` (default "会议纪要" / "Meeting summary" by the content's language).
 */
export function normalizeSummary(raw: unknown, opts: { fallbackTitle?: string } = {}): Summary | null {
  const parsed = typeof raw === "string" ? jsonFromText(raw) : raw;
  if (!isRecord(parsed)) return null;
  let obj: Record<string, unknown> = parsed;
  for (let depth = 0; depth < 2 && !hasListKeys(obj); depth++) {
    const outer: Record<string, unknown> = obj;
    const inner = WRAPPERS.map((k) => lookup(outer).get(k)).find((v): v is Record<string, unknown> => isRecord(v) && hasListKeys(v));
    if (!inner) break;
    // {"title":…, "summary":{"bullets":…}}: the outer title still counts when the inner has none.
    obj = { ...outer, ...inner };
  }
  const keys = lookup(obj);
  const pick = (field: "title" | SummaryList): unknown => {
    for (const alias of KEY_ALIASES[field]) {
      const v = keys.get(alias);
      if (v !== undefined && v !== null && !(isRecord(v) && hasListKeys(v))) return v;
    }
    return undefined;
  };
  const lists = {} as Record<SummaryList, string[]>;
  for (const list of SUMMARY_LISTS) lists[list] = normalizeList(pick(list), SUMMARY_LIMITS[list]);
  let title = normalizeTitle(pick("title"));
  const anyItems = SUMMARY_LISTS.some((l) => lists[l].length > 0);
  if (!title && !anyItems) return null;
  if (!title) {
    const fallback = opts.fallbackTitle ? normalizeTitle(opts.fallbackTitle) : "";
    title = fallback || (detectLanguage(SUMMARY_LISTS.flatMap((l) => lists[l]).join(" ")) === "zh" ? "会议纪要" : "Meeting summary");
  }
  return { title, ...lists };
}

// ---------------------------------------------------------------------------------------------
// Heuristic summary (no LLM, or its reply was unusable)

const ZH_FILLER = /^(?:嗯|啊|呃|额|哦|噢|喂|好|好的|对|对的|是|是的|行|可以|没问题|谢谢|谢谢大家|大家好|你好|各位好|那个|这个|然后|就是|开始吧|我们开始吧|散会|拜拜|再见)+$/;
const EN_FILLER =
  /^(?:(?:ok|okay|yes|yeah|yep|no|nope|right|sure|thanks|thank you|hello|hi|hey|um|uh|so|well|alright|cool|great|got it|sounds good|everyone|all|good morning|good afternoon|bye|see you|let us start|lets start|mhm|hmm)\s*)+$/;

function weight(s: string): number {
  const cjk = (s.match(CJK_G) ?? []).length;
  const words = (s.match(/[\p{L}\p{N}]{2,}/gu) ?? []).filter((w) => !CJK.test(w)).length;
  return cjk + words * 2.5;
}

function isFiller(s: string): boolean {
  const k = s.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}\s]+/gu, " ").replace(/'/g, "");
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

const NEGATED_RISK = /没(?:有)?(?:什么)?(?:问题|风险)|不是问题|问题不大|\bno (?:problem|issue|risk|concern|blocker)s?\b|\bnot (?:a |an )?(?:problem|issue|risk|concern)\b|\bno worries\b/i;

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
  [
    "risks",
    /风险|隐患|阻塞|瓶颈|延期|延误|来不及|\b(?:risks?|risky|blockers?|blocked|blocking|bottleneck|at risk|might slip|could slip|delay(?:ed|s)?)\b/i,
  ],
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
    bullets: normalizeList(bullets.map((b) => b.text), SUMMARY_LIMITS.bullets),
    decisions: normalizeList(latest(cued.decisions, SUMMARY_LIMITS.decisions), SUMMARY_LIMITS.decisions),
    actions: normalizeList(latest(cued.actions, SUMMARY_LIMITS.actions), SUMMARY_LIMITS.actions),
    risks: normalizeList(latest(cued.risks, SUMMARY_LIMITS.risks), SUMMARY_LIMITS.risks),
    nextSteps: normalizeList(latest(cued.nextSteps, SUMMARY_LIMITS.nextSteps), SUMMARY_LIMITS.nextSteps),
  };
}
