// Pulls the JSON object out of what a language model actually returns: code fences, chatter
// before and after, several objects, trailing commas. Portable (no runtime imports).
//
// The first plausible top-level object wins: a `{` followed by a key string or `}`, scanned to its
// balancing `}` with strings and escapes respected. A balanced candidate that does not parse (even
// after removing trailing commas) is skipped as a whole, so a nested object is never mistaken for
// the answer. A candidate that never balances means the output was cut off: that is reported as
// truncation, distinct from output that simply is not JSON.

export type JsonExtractErrorCode = "LLM_OUTPUT_NOT_JSON" | "LLM_OUTPUT_TRUNCATED" | "LLM_OUTPUT_EMPTY";

export type JsonExtractResult = { ok: true; value: Record<string, unknown> } | { ok: false; code: JsonExtractErrorCode };

const FENCE = /```[A-Za-z0-9_-]*/g;

export function extractJsonObject(text: string): JsonExtractResult {
  if (typeof text !== "string") return { ok: false, code: "LLM_OUTPUT_EMPTY" };
  const src = text.replace(/^\uFEFF/, "");
  if (src.replace(FENCE, "").trim() === "") return { ok: false, code: "LLM_OUTPUT_EMPTY" };

  let from = 0;
  while (from < src.length) {
    const start = nextCandidate(src, from);
    if (start < 0) break;
    const scan = scanObject(src, start);
    if (scan.kind === "open") return { ok: false, code: "LLM_OUTPUT_TRUNCATED" };
    if (scan.kind === "closed") {
      const value = parseObject(src.slice(start, scan.end + 1));
      if (value) return { ok: true, value };
    }
    from = scan.end + 1;
  }
  return { ok: false, code: "LLM_OUTPUT_NOT_JSON" };
}

/** Index of the next `{` that can open a JSON object (`{` then optional whitespace then `"` or `}`). */
function nextCandidate(s: string, from: number): number {
  for (let i = s.indexOf("{", from); i >= 0; i = s.indexOf("{", i + 1)) {
    let j = i + 1;
    while (j < s.length && isSpace(s.charCodeAt(j))) j++;
    // Reaching the end right after `{` is a cut-off object, not prose.
    if (j >= s.length || s[j] === '"' || s[j] === "}") return i;
  }
  return -1;
}

type Scan = { kind: "closed" | "mismatched"; end: number } | { kind: "open" };

/**
 * Scans the object opened at `start`: "closed" at the `}` that balances it, "mismatched" at a
 * closer that does not match its opener (not JSON; scanning resumes after it), "open" when the
 * text ends first (cut off).
 */
function scanObject(s: string, start: number): Scan {
  const closers: string[] = [];
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") closers.push("}");
    else if (c === "[") closers.push("]");
    else if (c === "}" || c === "]") {
      if (closers.pop() !== c) return { kind: "mismatched", end: i };
      if (closers.length === 0) return { kind: "closed", end: i };
    }
  }
  return { kind: "open" };
}

function parseObject(candidate: string): Record<string, unknown> | null {
  for (const attempt of [candidate, withoutTrailingCommas(candidate)]) {
    try {
      const v: unknown = JSON.parse(attempt);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
      return null;
    } catch {
      // try the next repair
    }
  }
  return null;
}

/** Removes commas that are directly followed (after whitespace) by `}` or `]`, outside strings. */
function withoutTrailingCommas(s: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? "";
    if (inString) {
      out += c;
      if (c === "\\" && i + 1 < s.length) out += s[++i] ?? "";
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === ",") {
      let j = i + 1;
      while (j < s.length && isSpace(s.charCodeAt(j))) j++;
      if (s[j] === "}" || s[j] === "]") continue;
    }
    out += c;
  }
  return out;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
