import { CJK } from "../../text/lang.ts";
import { MAX_REF_CHARS, applyRules, validOrdinal, type Parsed, type Rule, type Target } from "./rules.ts";

// The Chinese command grammar (simplified and traditional characters, Chinese numerals).

/** Longest utterance still considered: commands are short; long sentences go to the LLM. */
const MAX_ZH_CHARS = 30;

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

// Traditional → simplified for the characters the grammar uses (ASR may emit either).
const TRAD: Record<string, string> = {
  個: "个",
  條: "条",
  項: "项",
  務: "务",
  認: "认",
  領: "领",
  標: "标",
  記: "记",
  單: "单",
  幫: "帮",
  請: "请",
  來: "来",
  負: "负",
  責: "责",
  處: "处",
  給: "给",
  後: "后",
  為: "为",
  經: "经",
  們: "们",
  關: "关",
  閉: "闭",
  結: "结",
  東: "东",
  幹: "干",
  這: "这",
  麼: "么",
  嗎: "吗",
  顯: "显",
  讀: "读",
  唸: "念",
  詢: "询",
  獲: "获",
  開: "开",
  兩: "两",
  號: "号",
  設: "设",
  狀: "状",
  態: "态",
  裡: "里",
  裏: "里",
  淨: "净",
  換: "换",
  辦: "办",
  與: "与",
  將: "将",
  乾: "干",
  團: "团",
  隊: "队",
  組: "组",
  錄: "录",
  頁: "页",
  報: "报",
  會: "会",
  還: "还",
  沒: "没",
  樣: "样",
  剛: "刚",
  歸: "归",
  讓: "让",
  覽: "览",
  載: "载",
  覺: "觉",
};

const ZH_PUNCT = /[\s,.!?;:~…。、，！？；：～“”"'‘’「」『』《》〈〉()（）【】[\]<>·—_-]+/g;
const ZH_LEAD = /^(?:小智|你好|请你?|麻烦你?|帮我|帮忙|帮个忙|好的|好吧|好|嗯+|呃+|额+|哦+|那么|那就|那(?![个条项件些])|然后|现在|就|可以|ok|okay|hey|hi)+/;
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

const ZH_LIST = /^(?:我的|我们的|所有的?|全部的?|大家的|团队的?|小组的?|组里的?)?(?:任务列表|任务清单|任务|列表|清单|待办事项|待办列表|待办)?$/;
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

export function parseZh(s: string): Parsed | null {
  if (!CJK.test(s)) return null;
  if (/[吗么]\s*[?？]?\s*$/.test(s)) return null; // a question about a task is not a command
  const t = zhNormalise(s);
  if (!t || t.length > MAX_ZH_CHARS) return null;
  return applyRules(t, ZH_RULES, parseZhTarget, (x) => ZH_LIST.test(x) && (x === "" || ZH_LIST_WORD.test(x)));
}
