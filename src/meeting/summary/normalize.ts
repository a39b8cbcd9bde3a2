import { extractJsonObject } from "../../llm/json-extract.ts";
import { detectLanguage } from "../../text/lang.ts";
import { MAX_ITEM_CHARS, MAX_TITLE_CHARS, SUMMARY_LIMITS, SUMMARY_LISTS, type Summary, type SummaryList, cap, collapse, isRecord, itemKey } from "./schema.ts";

// Whatever the LLM returned, turned into a valid Summary (or null when nothing usable is in it):
// wrappers and alias keys accepted, items flattened, cleaned, deduplicated and cut to the limits.

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
  return k
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "");
}

const KEY_ALIASES: Record<"title" | SummaryList, string[]> = {
  title: ["title", "meetingtitle", "topic", "subject", "heading", "name", "标题", "主题", "会议标题", "会议主题"],
  bullets: [
    "bullets",
    "bulletpoints",
    "bullet",
    "keypoints",
    "points",
    "highlights",
    "keytakeaways",
    "takeaways",
    "summarypoints",
    "notes",
    "要点",
    "摘要",
    "重点",
    "纪要",
    "summary",
    "总结",
  ],
  decisions: ["decisions", "decision", "decisionsmade", "agreed", "agreements", "conclusions", "决定", "决策", "决议", "结论"],
  actions: ["actions", "actionitems", "actionitem", "action", "actionpoints", "todos", "todo", "tasks", "行动", "行动项", "待办", "待办事项", "任务"],
  risks: ["risks", "risk", "issues", "blockers", "concerns", "risksandissues", "openissues", "风险", "问题", "阻塞"],
  nextSteps: ["nextsteps", "nextstep", "next", "followups", "followup", "followupitems", "下一步", "后续", "后续步骤", "下一步计划"],
};

const MAIN_FIELDS = [
  "text",
  "content",
  "item",
  "description",
  "desc",
  "title",
  "summary",
  "action",
  "task",
  "decision",
  "risk",
  "step",
  "point",
  "name",
  "value",
  "detail",
  "details",
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

export function normalizeTitle(v: unknown): string {
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
