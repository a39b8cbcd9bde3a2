import { MAX_REF_CHARS, applyRules, validOrdinal, type Parsed, type Rule, type Target } from "./rules.ts";

// The English command grammar (contractions, number words, ordinals).

/** Longest utterance still considered: commands are short; long sentences go to the LLM. */
const MAX_EN_WORDS = 14;

const EN_NUMBERS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
};
const EN_ORDINALS: Record<string, number> = {
  first: 1,
  second: 2,
  third: 3,
  fourth: 4,
  fifth: 5,
  sixth: 6,
  seventh: 7,
  eighth: 8,
  ninth: 9,
  tenth: 10,
  eleventh: 11,
  twelfth: 12,
  last: -1,
  final: -1,
};

function parseEnNumber(s: string): number | undefined {
  if (/^\d{1,3}$/.test(s)) return Number(s);
  return EN_NUMBERS[s];
}

const CONTRACTIONS: [RegExp, string][] = [
  [/\bi'll\b/g, "i will"],
  [/\bi'm\b/g, "i am"],
  [/\bi'd\b/g, "i would"],
  [/\bi've\b/g, "i have"],
  [/\bit's\b/g, "it is"],
  [/\bthat's\b/g, "that is"],
  [/\bwhat's\b/g, "what is"],
  [/\blet's\b/g, "let us"],
  [/\bgonna\b/g, "going to"],
  [/\bwanna\b/g, "want to"],
];
const EN_LEAD =
  /^(?:(?:please|ok|okay|hey|hi|so|um+|uh+|er+|erm|hmm+|well|now|and|alright|all right|yeah|yes|right|can you|could you|would you|will you|just|go ahead and|kindly|then)\s+)+/;
const EN_TAIL = /(?:\s+(?:please|thanks|thank you|now|then|ok|okay|right now|for me|already))+$/;

function enNormalise(s: string): string {
  let out = s.replace(/[’‘`]/g, "'");
  for (const [re, rep] of CONTRACTIONS) out = out.replace(re, rep);
  // Keep '#' (task #2) and in-word '-' / '_' / '.' (ids like t-12); everything else is a separator.
  out = out.replace(/[^\p{L}\p{N}#'\-_.\s]/gu, " ").replace(/'/g, "");
  out = out.replace(/(^|\s)[-_.]+|[-_.]+(?=\s|$)/g, " ");
  out = out.replace(/\bno\.?\s+(?=\d)/g, "number ");
  out = out.replace(/#\s+(?=\d)/g, "#");
  out = out.replace(/\s+/g, " ").trim();
  let prev = "";
  while (prev !== out) {
    prev = out;
    out = out.replace(EN_LEAD, "").replace(EN_TAIL, "").trim();
  }
  return out;
}

const EN_ORD_WORD = "(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last|final|\\d{1,3}(?:st|nd|rd|th))";
const EN_NUM = "(\\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)";
const EN_WHERE = "(?: (?:on|in|from) (?:the|my|our) (?:list|task list|tasks))?";
const EN_DEICTIC =
  /^(?:it|this|that|this one|that one|one|a task|the task|task|this task|that task|my task|the next one|next one|the next task|next task|a new task|a new one|another one|another task)$/;
const EN_ORD_RE = new RegExp(`^(?:the )?${EN_ORD_WORD}(?: one| task| item| todo)?${EN_WHERE}$`);
const EN_NUM_RES: RegExp[] = [
  new RegExp(`^(?:the )?(?:(?:task|item|todo) )?(?:number|num|#) ?${EN_NUM}${EN_WHERE}$`),
  new RegExp(`^(?:the )?(?:task|item|todo) ${EN_NUM}${EN_WHERE}$`),
  new RegExp(`^#(\\d{1,3})${EN_WHERE}$`),
];
const EN_STOP_REF = /^(?:the|a|an|my|our|this|that|it|all|every|each|some|any|list|tasks?|one|next|new|other|another|weather|meeting)$/;

function parseEnTarget(t: string): Target | null {
  if (EN_DEICTIC.test(t)) return {};
  const o = EN_ORD_RE.exec(t);
  if (o) {
    const w = o[1] ?? "";
    if (w in EN_ORDINALS) return { ordinal: EN_ORDINALS[w] };
    const n = validOrdinal(Number.parseInt(w, 10));
    return n === undefined ? null : { ordinal: n };
  }
  for (const re of EN_NUM_RES) {
    const m = re.exec(t);
    if (m) {
      const n = validOrdinal(parseEnNumber(m[1] ?? ""));
      return n === undefined ? null : { ordinal: n };
    }
  }
  // A named task needs "task" as an anchor: "task t-12", "task called login page", "the login page task".
  const after = /^(?:the )?task (?:called |named |titled |id |with id )?(.+)$/.exec(t);
  const before = /^(?:the )?(.+?) task$/.exec(t);
  const ref = (after ?? before)?.[1]?.trim();
  if (!ref || ref.length > MAX_REF_CHARS || ref.split(" ").length > 6 || EN_STOP_REF.test(ref)) return null;
  if (/^(?:list|board)$|\b(?:is|are|was|were|to|for|me)\b/.test(ref)) return null;
  return { taskRef: ref };
}

const EN_LIST =
  /^(?:(?:the|my|our|all|all the|all my|all our|all of the|all of my) )?(?:(?:open|current|pending|team|group) )?(?:task list|tasks|todo list|to do list|todos|task board|list|board)?$/;
const EN_LIST_WORD = /\b(?:tasks?|todos?|to do|list|board)\b/;

const EN_SUBJ = "(?:i will also|i will|i can|let me|let us|i want to|i would like to|i am going to|i shall|i am|i have|i)";
const TAKE_VERBS = "(?:take care of|take on|take|grab|pick up|pick|do|handle|own|work on|deal with)";

const EN_RULES: Rule[] = [
  // refresh
  { intent: "refresh", re: /^refresh(?: (.+))?$/, target: "optional", list: true },
  { intent: "refresh", re: /^(?:reload|resync|sync|update|fetch|pull|get|load)(?: (.+))?$/, target: "required", list: true },
  {
    intent: "refresh",
    re: /^(?:show me|show|list|read me|read out|read|tell me|what are|what is on|what is in|give me|check|open|display)(?: (.+))?$/,
    target: "required",
    list: true,
  },
  { intent: "refresh", re: /^((?:my|our|the) (?:tasks|task list|todo list|todos)|task list|todo list)$/, target: "required", list: true },
  { intent: "refresh", re: /^what (?:tasks )?(?:do i have|have i got|is on my plate)$/, target: "none" },
  // assign
  { intent: "assign", re: new RegExp(`^(?:${EN_SUBJ} )?claim(?: (.+?))?(?: for me)?$`), target: "optional" },
  { intent: "assign", re: new RegExp(`^${EN_SUBJ} ${TAKE_VERBS} (.+)$`), target: "required" },
  { intent: "assign", re: new RegExp(`^${TAKE_VERBS} (.+)$`), target: "required" },
  { intent: "assign", re: /^(?:assign|give|hand|allocate)(?: (.+?))? to me$/, target: "optional" },
  { intent: "assign", re: /^assign me(?: to)?(?: (.+))?$/, target: "optional" },
  { intent: "assign", re: /^(?:give|hand) me (.+)$/, target: "required" },
  { intent: "assign", re: /^(?:put|sign) me (?:down )?(?:for|on) (.+)$/, target: "required" },
  { intent: "assign", re: /^(.+?) is mine$/, target: "required" },
  // complete
  {
    intent: "complete",
    re: /^mark(?: (.+?))??(?: as)? (?:done|complete|completed|finished|closed|resolved|checked|checked off)$/,
    target: "optional",
  },
  {
    intent: "complete",
    re: new RegExp(
      `^(?:${EN_SUBJ} )?(?:complete|completed|finish|finished|close|closed|resolve|resolved|check off|checked off|tick off|ticked off|done with|done|finished with) (.+)$`,
    ),
    target: "required",
  },
  {
    intent: "complete",
    re: /^(.+?) (?:is |are |has been |was |is now |now )?(?:done|complete|completed|finished|closed|resolved)$/,
    target: "required",
  },
];

export function parseEn(s: string): Parsed | null {
  const t = enNormalise(s);
  if (!t || t.split(" ").length > MAX_EN_WORDS) return null;
  // Questions ("is task 2 done", "did you refresh") are not commands.
  if (/^(?:is|are|was|were|did|do|does|has|have|had|should|shall|why|how|when|who|where)\b/.test(t)) return null;
  return applyRules(t, EN_RULES, parseEnTarget, (x) => EN_LIST.test(x) && (x === "" || EN_LIST_WORD.test(x)));
}
