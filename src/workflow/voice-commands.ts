// Working-mode voice commands (PROTOCOL §5, §7): an utterance that is a task command runs directly,
// without the LLM. Pure functions: parse the text, pick the task, say what happened.
//
// Precision over recall. The whole utterance (minus politeness fillers and particles) must match a
// command grammar; a command word inside a longer sentence ("我今天完成了报告的初稿…") is not a
// command, and a target that is not recognisably a task ("mark the weather as done") rejects the
// match. A false negative costs one LLM turn; a false positive changes someone's task list.

export type TaskIntent = "assign" | "complete" | "refresh";
export type Lang = "zh" | "en";

export type TaskCommand = {
  intent: TaskIntent;
  /** 1-based position in the list as the device shows it; -1 means "the last one". */
  ordinal?: number;
  /** Task id or title words, when said ("claim task t-12", "完成登录页面任务"). */
  taskRef?: string;
  /** Language of the utterance (CJK characters → zh), for the spoken confirmation. */
  lang?: Lang;
};

export type TaskLike = { id: string; title: string; status: "open" | "done"; owner?: string };

type Target = { ordinal?: number; taskRef?: string };

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
/** Longest utterance still considered: commands are short; long sentences go to the LLM. */
const MAX_ZH_CHARS = 30;
const MAX_EN_WORDS = 14;
const MAX_REF_CHARS = 40;

export function detectLang(text: string): Lang {
  return CJK.test(text) ? "zh" : "en";
}

export function parseTaskCommand(text: string): TaskCommand | null {
  if (typeof text !== "string") return null;
  const base = text.normalize("NFKC").toLowerCase().trim();
  if (!base) return null;
  const lang = detectLang(base);
  const found = parseZh(base) ?? parseEn(base);
  if (!found) return null;
  const cmd: TaskCommand = { intent: found.intent, lang };
  if (found.ordinal !== undefined) cmd.ordinal = found.ordinal;
  if (found.taskRef !== undefined) cmd.taskRef = found.taskRef;
  return cmd;
}

type Parsed = Target & { intent: TaskIntent };

/** A grammar rule: the whole utterance matches `re`; group 1 (if any) is the target phrase. */
type Rule = { intent: TaskIntent; re: RegExp; target: "none" | "optional" | "required"; list?: boolean };

function applyRules(s: string, rules: Rule[], parseTarget: (t: string) => Target | null, isList: (t: string) => boolean): Parsed | null {
  for (const rule of rules) {
    const m = rule.re.exec(s);
    if (!m) continue;
    const raw = (m[1] ?? "").trim();
    if (rule.list) {
      if (isList(raw) && (raw !== "" || rule.target !== "required")) return { intent: rule.intent };
      continue;
    }
    if (rule.target === "none") {
      if (raw === "") return { intent: rule.intent };
      continue;
    }
    if (raw === "") {
      if (rule.target === "optional") return { intent: rule.intent };
      continue;
    }
    const target = parseTarget(raw);
    if (target) return { intent: rule.intent, ...target };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Numbers and ordinals

const ZH_DIGITS: Record<string, number> = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };

/** "3", "三", "十", "十二", "二十", "二十三", "两" → number; anything else → undefined. */
export function parseChineseNumber(s: string): number | undefined {
  if (/^\d{1,3}$/.test(s)) return Number(s);
  if (!/^[零〇一二两三四五六七八九十]{1,3}$/.test(s)) return undefined;
  const i = s.indexOf("十");
  if (i === -1) return s.length === 1 ? ZH_DIGITS[s] : undefined;
  if (s.indexOf("十", i + 1) !== -1) return undefined;
  const before = s.slice(0, i);
  const after = s.slice(i + 1);
  const tens = before === "" ? 1 : ZH_DIGITS[before];
  const ones = after === "" ? 0 : ZH_DIGITS[after];
  if (tens === undefined || ones === undefined || before.length > 1 || after.length > 1) return undefined;
  return tens * 10 + ones;
}

const EN_NUMBERS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
};
const EN_ORDINALS: Record<string, number> = {
  first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10, eleventh: 11, twelfth: 12,
  last: -1, final: -1,
};

function validOrdinal(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 999 ? n : undefined;
}

function parseEnNumber(s: string): number | undefined {
  if (/^\d{1,3}$/.test(s)) return Number(s);
  return EN_NUMBERS[s];
}

// ---------------------------------------------------------------------------------------------
// Chinese

// Traditional → simplified for the characters the grammar uses (ASR may emit either).
const TRAD: Record<string, string> = {
  個: "个", 條: "条", 項: "项", 務: "务", 認: "认", 領: "领", 標: "标", 記: "记", 單: "单", 幫: "帮", 請: "请",
  來: "来", 負: "负", 責: "责", 處: "处", 給: "给", 後: "后", 為: "为", 經: "经", 們: "们", 關: "关", 閉: "闭",
  結: "结", 東: "东", 幹: "干", 這: "这", 麼: "么", 嗎: "吗", 顯: "显", 讀: "读", 唸: "念", 詢: "询", 獲: "获",
  開: "开", 兩: "两", 號: "号", 設: "设", 狀: "状", 態: "态", 裡: "里", 裏: "里", 淨: "净", 換: "换", 辦: "办",
  與: "与", 將: "将", 乾: "干", 團: "团", 隊: "队", 組: "组", 錄: "录", 頁: "页", 報: "报", 會: "会", 還: "还",
  沒: "没", 樣: "样", 剛: "刚", 歸: "归", 讓: "让", 覽: "览", 載: "载", 覺: "觉",
};

const ZH_PUNCT = /[\s,.!?;:~…。、，！？；：～“”"'‘’「」『』《》〈〉()（）【】\[\]<>·—_-]+/g;
const ZH_LEAD =
  /^(?:小智|你好|请你?|麻烦你?|帮我|帮忙|帮个忙|好的|好吧|好|嗯+|呃+|额+|哦+|那么|那就|那(?![个条项件些])|然后|现在|就|可以|ok|okay|hey|hi)+/;
const ZH_TAIL = /(?:吧|了|啦|呀|啊|哦|喔|噢|呢|哈|嘛|哇|哟|一下|好了|就好|谢谢你?|谢了|ok|okay)+$/;

function zhNormalise(s: string): string {
  let out = "";
  for (const ch of s) out += TRAD[ch] ?? ch;
  out = out.replace(ZH_PUNCT, (m) => (/^[-_]+$/.test(m) ? m : ""));
  out = out.replace(/一下/g, "");
  // Strip fillers at both ends; the tail particles repeatedly ("做完了吧" → "做完").
  let prev = "";
  while (prev !== out) {
    prev = out;
    out = out.replace(ZH_LEAD, "").replace(ZH_TAIL, "");
  }
  return out;
}

const ZH_NUM = "(\\d{1,3}|[零〇一二两三四五六七八九十]{1,3})";
const ZH_CL = "(?:个|条|项|号|件)";
const ZH_DEICTIC = /^(?:这个|那个|这条|那条|这项|那项|这件|该|它|这|那|我的|一个|一条|一项|下一个|下个|新的?)?(?:任务|事|事情|活|工作)?$/;
const ZH_ORD_RULES: RegExp[] = [
  new RegExp(`^(?:任务)?(?:列表里的?|列表中的?|清单里的?)?第${ZH_NUM}${ZH_CL}?(?:任务|事情?|活)?$`),
  new RegExp(`^(?:任务|编号|序号|号码)(?:第)?${ZH_NUM}${ZH_CL}?$`),
  new RegExp(`^${ZH_NUM}号(?:任务)?$`),
  /^(\d{1,3})$/,
  /^#(\d{1,3})(?:任务)?$/,
];
const ZH_LAST = /^(?:列表里的?)?(?:最后|最末|末尾)(?:一|那)?(?:个|条|项|件)?(?:任务)?$/;
const ZH_NOT_REF = /^(?:这个|那个|我的|所有|全部|所有的|全部的|大家的|今天的?|这些|那些|新|一个|几个|多个|两个|别的|其他)$/;
const ZH_VERBISH = /认领|领取|完成|做完|搞定|刷新|标记|分配|我来|负责/;

function parseZhTarget(t: string): Target | null {
  if (ZH_DEICTIC.test(t)) return {};
  if (ZH_LAST.test(t)) return { ordinal: -1 };
  for (const re of ZH_ORD_RULES) {
    const m = re.exec(t);
    if (m) {
      const n = validOrdinal(parseChineseNumber(m[1] ?? ""));
      return n === undefined ? null : { ordinal: n };
    }
  }
  // A named task needs the word 任务 as an anchor: "任务abc-1", "登录页面任务", "登录页面这个任务".
  let ref: string | undefined;
  const after = /^任务(?:编号|id)?(.+)$/.exec(t);
  const before = /^(.+?)(?:这个|那个|这条|那条)?任务$/.exec(t);
  if (after) ref = after[1];
  else if (before) ref = before[1];
  if (ref === undefined) return null;
  ref = ref.replace(/^(?:叫|叫做|名为|是)/, "").replace(/的$/, "");
  if (!ref || ref.length > MAX_REF_CHARS || ZH_NOT_REF.test(ref) || ZH_VERBISH.test(ref)) return null;
  return { taskRef: ref };
}

const ZH_LIST =
  /^(?:我的|我们的|所有的?|全部的?|大家的|团队的?|小组的?|组里的?)?(?:任务列表|任务清单|任务|列表|清单|待办事项|待办列表|待办)?$/;
const ZH_LIST_WORD = /任务|列表|清单|待办/;

const ZH_RULES: Rule[] = [
  // refresh
  { intent: "refresh", re: /^(?:重新)?刷新(.*)$/, target: "optional", list: true },
  {
    intent: "refresh",
    re: /^(?:更新|重新加载|加载|拉取|同步|获取|查看|看看|看下|看|显示|列出|读|念|播报|查询|查|打开|给我看|告诉我|说说|报)(.+)$/,
    target: "required",
    list: true,
  },
  { intent: "refresh", re: /^((?:我的|我们的|所有|全部)?(?:任务列表|任务清单|待办列表|待办事项)|(?:我的|我们的)任务)$/, target: "required", list: true },
  { intent: "refresh", re: /^(?:我|我们)?(?:现在)?(?:有|还有)(?:哪些|什么|几个|多少)(?:任务|待办|事情?)$/, target: "none" },
  // assign
  { intent: "assign", re: /^(?:我来|我要|我想|我先|我去|我)?(?:认领|领取|接手|接下|承接)了?(.*)$/, target: "optional" },
  { intent: "assign", re: /^(?:我来|我要|我想|我先|我去|我)?领了?(.+)$/, target: "required" },
  { intent: "assign", re: /^我来(?:做|负责|处理|搞|干|弄|跟进|接|办|完成)(.*)$/, target: "optional" },
  { intent: "assign", re: /^我(?:来)?(?:做|负责|处理|跟进)(.+)$/, target: "required" },
  {
    intent: "assign",
    re: /^(.+?)(?:我来做|我来负责|我来处理|我来跟进|我来搞|我来|我认领|我领|我要了|我要|归我|给我|我负责|我来接|我接)$/,
    target: "required",
  },
  { intent: "assign", re: /^把?(.*?)(?:分配|指派|派|交|安排)给我$/, target: "optional" },
  { intent: "assign", re: /^给我(?:分配|指派|派|安排)(.*)$/, target: "optional" },
  // complete
  {
    intent: "complete",
    re: /^把?(.*?)(?:标记|标注|标|设置|设|改|置)(?:为|成)?(?:已经|已)?(?:完成|完结|做完|搞定|结束|关闭|done)(?:状态)?$/,
    target: "optional",
  },
  { intent: "complete", re: /^(?:标记|标注|把)(.+?)(?:为|成)?(?:已经|已)?(?:完成|完结|做完)(?:状态)?$/, target: "required" },
  { intent: "complete", re: /^我?(?:已经|已|都)?(?:完成|做完|搞定|干完|弄完)了?(.*)$/, target: "optional" },
  { intent: "complete", re: /^我?(?:已经|已|都)?(?:结束|关闭|关掉)了?(.+)$/, target: "required" },
  { intent: "complete", re: /^(.+?)我?(?:已经|已|都|也)?(?:完成|做完|搞定|干完|弄完|结束|关闭|完结)$/, target: "required" },
];

function parseZh(s: string): Parsed | null {
  if (!CJK.test(s)) return null;
  if (/[吗么]\s*[?？]?\s*$/.test(s)) return null; // a question about a task is not a command
  const t = zhNormalise(s);
  if (!t || t.length > MAX_ZH_CHARS) return null;
  return applyRules(t, ZH_RULES, parseZhTarget, (x) => ZH_LIST.test(x) && (x === "" || ZH_LIST_WORD.test(x)));
}

// ---------------------------------------------------------------------------------------------
// English

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

function parseEn(s: string): Parsed | null {
  const t = enNormalise(s);
  if (!t || t.split(" ").length > MAX_EN_WORDS) return null;
  // Questions ("is task 2 done", "did you refresh") are not commands.
  if (/^(?:is|are|was|were|did|do|does|has|have|had|should|shall|why|how|when|who|where)\b/.test(t)) return null;
  return applyRules(t, EN_RULES, parseEnTarget, (x) => EN_LIST.test(x) && (x === "" || EN_LIST_WORD.test(x)));
}

// ---------------------------------------------------------------------------------------------
// Target resolution

/** The list as the device shows it: open tasks first, then done ones, each in the order given. */
export function displayOrder<T extends TaskLike>(tasks: readonly T[]): T[] {
  return [...tasks.filter((t) => t.status === "open"), ...tasks.filter((t) => t.status !== "open")];
}

function sameId(a: string | undefined, b: string): boolean {
  return !!a && a.trim().toLowerCase() === b.trim().toLowerCase();
}

function key(s: string): string {
  return s.normalize("NFKC").toLowerCase().replace(/[\s\p{P}\p{S}]+/gu, "");
}

function words(s: string): string[] {
  return s
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

const REF_STOP = new Set(["the", "a", "an", "task", "to", "of", "for", "and", "on", "in"]);

/** A task named by id or title words; open tasks win among equally good matches. */
export function findTaskByRef<T extends TaskLike>(ref: string, tasks: readonly T[]): T | undefined {
  const list = displayOrder(tasks);
  const r = ref.trim().replace(/^#/, "");
  if (!r) return undefined;
  const rk = key(r);
  const tiers: ((t: T) => boolean)[] = [
    (t) => sameId(t.id, r) || sameId(t.id.replace(/^#/, ""), r),
    (t) => rk.length > 0 && key(t.title) === rk,
    (t) => rk.length > 0 && (CJK.test(r) ? key(t.title).includes(rk) : ` ${words(t.title).join(" ")} `.includes(` ${words(r).join(" ")} `)),
    (t) => {
      const want = words(r).filter((w) => !REF_STOP.has(w));
      if (want.length === 0 || CJK.test(r)) return false;
      const have = new Set(words(t.title));
      return want.every((w) => have.has(w));
    },
    (t) => CJK.test(r) && key(t.title).length >= 2 && rk.includes(key(t.title)),
  ];
  for (const tier of tiers) {
    const hit = list.find(tier);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * The task a command is about: by ordinal in the displayed list (-1: the last open task, else the
 * last one), by taskRef (id or title words), else for assign the first open unowned task and for
 * complete the first open task owned by the sender, else the first open task. refresh → null.
 */
export function resolveTaskTarget(cmd: TaskCommand, tasks: readonly TaskLike[], sender: string): string | null {
  if (cmd.intent === "refresh") return null;
  const list = displayOrder(tasks);
  const open = list.filter((t) => t.status === "open");
  if (cmd.ordinal !== undefined) {
    if (cmd.ordinal === -1) return (open.at(-1) ?? list.at(-1))?.id ?? null;
    if (!Number.isInteger(cmd.ordinal) || cmd.ordinal < 1) return null;
    return list[cmd.ordinal - 1]?.id ?? null;
  }
  if (cmd.taskRef !== undefined && cmd.taskRef.trim() !== "") return findTaskByRef(cmd.taskRef, list)?.id ?? null;
  if (cmd.intent === "assign") return open.find((t) => !t.owner || t.owner.trim() === "")?.id ?? null;
  return (open.find((t) => sameId(t.owner, sender)) ?? open[0])?.id ?? null;
}

// ---------------------------------------------------------------------------------------------
// Spoken confirmation

const MAX_SPOKEN_TITLE = 40;

function spokenTitle(title: string): string {
  const t = title.replace(/\s+/g, " ").trim();
  const chars = Array.from(t);
  return chars.length <= MAX_SPOKEN_TITLE ? t : `${chars.slice(0, MAX_SPOKEN_TITLE - 1).join("")}…`;
}

/** A short sentence for TTS; `lang` defaults to the command's language (zh when unknown). */
export function confirmationText(cmd: TaskCommand, task: Pick<TaskLike, "title"> | null, lang?: Lang): string {
  const l = lang ?? cmd.lang ?? "zh";
  const zh = l === "zh";
  if (cmd.intent === "refresh") return zh ? "已刷新任务列表" : "Task list refreshed.";
  if (task) {
    const title = spokenTitle(task.title) || (zh ? "未命名任务" : "untitled task");
    if (cmd.intent === "assign") return zh ? `已认领：${title}` : `Claimed: ${title}`;
    return zh ? `已标记完成：${title}` : `Marked done: ${title}`;
  }
  if (cmd.ordinal !== undefined) {
    if (cmd.ordinal === -1) return zh ? "没有找到最后一个任务" : "I couldn't find the last task.";
    return zh ? `没有找到第${cmd.ordinal}个任务` : `I couldn't find task number ${cmd.ordinal}.`;
  }
  if (cmd.taskRef) return zh ? "没有找到这个任务" : "I couldn't find that task.";
  if (cmd.intent === "assign") return zh ? "没有可认领的任务" : "There is no open task to claim.";
  return zh ? "没有未完成的任务" : "There is no open task to mark done.";
}
