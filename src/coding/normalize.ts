import { extractJsonObject } from "../llm/json-extract.ts";
import { capText } from "./history.ts";
import { INSIGHT_ITEM_MAX, INSIGHT_LIMITS, INSIGHT_LISTS, type InsightList, type InsightLists } from "./messages.ts";

// Whatever the LLM returned → the four lists, or null when nothing is usable. LLMs answer with
// the asked shape most of the time; the rest of the time they wrap it ({"result":{…}}), rename
// keys (next_steps, recommendations, 建议), return objects instead of strings, or one string where
// a list was asked. All of those still carry good items, so they are accepted; screening for raw
// log echoes happens after this (screen.ts), on the normalised items.

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function normKey(k: string): string {
  return k
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "");
}

const ALIASES: Record<InsightList, string[]> = {
  insights: ["insights", "insight", "observations", "findings", "analysis", "summary", "highlights", "要点", "洞察", "发现", "观察", "总结", "分析"],
  risks: ["risks", "risk", "issues", "problems", "blockers", "concerns", "warnings", "风险", "问题", "隐患"],
  actions: ["actions", "action", "actionitems", "fixes", "fix", "recommendations", "suggestions", "todo", "todos", "行动", "建议", "操作", "措施"],
  nextSteps: ["nextsteps", "nextstep", "next", "followups", "followup", "steps", "下一步", "后续", "后续步骤"],
};

const WRAPPERS = ["result", "results", "data", "output", "response", "insight", "insights", "answer", "json", "content"];

const ITEM_FIELDS = [
  "text",
  "content",
  "item",
  "insight",
  "risk",
  "action",
  "step",
  "suggestion",
  "recommendation",
  "description",
  "message",
  "title",
  "summary",
  "detail",
  "value",
];

function lookup(obj: Record<string, unknown>): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) if (!m.has(normKey(k))) m.set(normKey(k), v);
  return m;
}

function hasListKeys(obj: Record<string, unknown>): boolean {
  const keys = lookup(obj);
  return INSIGHT_LISTS.some((l) => ALIASES[l].some((a) => keys.has(a) && !isRecord(keys.get(a))));
}

/** A JSON object from text, also when the text is itself a JSON-encoded string. */
function parseText(text: string): unknown {
  const found = extractJsonObject(text);
  if (found.ok) return found.value;
  try {
    const inner: unknown = JSON.parse(text.trim());
    if (typeof inner === "string") {
      const again = extractJsonObject(inner);
      return again.ok ? again.value : null;
    }
    return Array.isArray(inner) ? inner : null;
  } catch {
    return null;
  }
}

function itemText(v: unknown, depth = 0): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (!isRecord(v) || depth > 1) return undefined;
  const keys = lookup(v);
  for (const f of ITEM_FIELDS) {
    const t = itemText(keys.get(f), depth + 1);
    if (t?.trim()) return t;
  }
  return undefined;
}

const BULLET = /^(?:[-*+•·●▪◦‣]\s*|\d{1,2}[.)、]\s*|[（(]\d{1,2}[)）]\s*)+/u;

/** "key" for duplicates: case, spacing and trailing punctuation ignored. */
export function itemKey(s: string): string {
  return s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim()
    .replace(/[\s.。!！?？;；,，:：…]+$/u, "");
}

/** Coerce, clean, cap, drop empties and duplicates, keep at most `limit`. */
export function normalizeItems(value: unknown, limit: number, maxChars = INSIGHT_ITEM_MAX): string[] {
  const raw: unknown[] = Array.isArray(value) ? value.flat(1) : typeof value === "string" ? value.split(/\r?\n/) : value == null ? [] : [value];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of raw) {
    if (out.length >= limit) break;
    const t = itemText(v);
    if (t === undefined) continue;
    const cleaned = t
      .replace(/\s+/g, " ")
      .trim()
      .replace(BULLET, "")
      .replace(/^(\*\*|__)(.+)\1$/, "$2")
      .trim();
    const item = capText(cleaned, maxChars);
    const k = itemKey(item);
    if (!k || seen.has(k)) continue;
    seen.add(k);
    out.push(item);
  }
  return out;
}

function emptyLists(): InsightLists {
  return { insights: [], risks: [], actions: [], nextSteps: [] };
}

export function normalizeInsight(raw: unknown): InsightLists | null {
  let value = typeof raw === "string" ? parseText(raw) : raw;
  // A bare list of strings: the model skipped the keys; treat them as insights.
  if (Array.isArray(value)) value = { insights: value };
  if (!isRecord(value)) return null;
  let obj: Record<string, unknown> = value;
  for (let depth = 0; depth < 3 && !hasListKeys(obj); depth++) {
    const keys = lookup(obj);
    const inner = WRAPPERS.map((w) => keys.get(w)).find((v): v is Record<string, unknown> => isRecord(v));
    const innerText = WRAPPERS.map((w) => keys.get(w)).find((v): v is string => typeof v === "string");
    const parsed = inner ?? (innerText ? parseText(innerText) : null);
    if (!isRecord(parsed)) break;
    obj = parsed;
  }
  const keys = lookup(obj);
  const lists = emptyLists();
  const used = new Set<string>();
  for (const list of INSIGHT_LISTS) {
    for (const alias of ALIASES[list]) {
      if (used.has(alias) || !keys.has(alias) || isRecord(keys.get(alias))) continue;
      used.add(alias);
      const more = normalizeItems(keys.get(alias), INSIGHT_LIMITS[list]);
      lists[list] = normalizeItems([...lists[list], ...more], INSIGHT_LIMITS[list]);
    }
  }
  return INSIGHT_LISTS.some((l) => lists[l].length > 0) ? lists : null;
}
