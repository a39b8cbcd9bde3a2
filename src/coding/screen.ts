import type { HistoryEntry } from "./history.ts";
import { isStackLine } from "./patterns.ts";

// The output rule of PROTOCOL §8: nothing sent to the badge repeats a raw log line or a stack
// trace, whoever wrote it (an LLM echoing its prompt, or our own heuristic quoting a name that
// happens to be long). An item is dropped when it
// - shares a long run of text with a raw history line: ≥ 40 characters, or ≥ 60% of the item when
//   that run is at least 16 characters (shorter runs are ordinary words like "npm test");
// - contains a whole raw line of at least 16 characters, names or not (a line that is mostly a
//   file name and a test count is still a line of the log), unless that line is itself a name;
// - looks like a stack frame, a traceback, a file path with line numbers, a memory address, a log
//   prefix (npm ERR!, FAIL, E   …) or a piece of code.
// Comparison is on normalised text (case, quotes, spacing, leading bullets) so cosmetic changes
// do not hide an echo. Names the signals found (test names, modules, files, codes, hosts) are
// masked first: naming "embassy_time::Ticker" or "rejects expired tokens" is advice, not an echo,
// and in a short (often Chinese) item such a name alone would pass the 60% mark.

export const ECHO_MIN_CHARS = 40;
export const ECHO_MIN_SHARE = 0.6;
const GRAM = 16;

export function normalizeForCompare(s: string): string {
  return s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[‘’`´"“”«»「」『』]/g, "'")
    .replace(/\s+/g, " ")
    .replace(/^[\s×✓✔✕✗✘❯›●•→>*+-]+/u, "")
    .trim();
}

export interface RawIndex {
  grams: Set<string>;
  lines: Set<string>;
}

/** Whole raw lines this long or longer may not appear inside an item (see containsRawLine). */
const WHOLE_LINE_MIN = GRAM;

/** Every GRAM-character window of every raw log line; built once per screening, not per item. */
export function rawIndex(entries: readonly HistoryEntry[]): RawIndex {
  const grams = new Set<string>();
  const lines = new Set<string>();
  for (const e of entries) {
    if (e.kind !== "log") continue;
    const line = normalizeForCompare(e.text);
    if (line.length < 4) continue;
    lines.add(line);
    for (let i = 0; i + GRAM <= line.length; i++) grams.add(line.slice(i, i + GRAM));
  }
  return { grams, lines };
}

const MASK = "\u0000";

/** The item normalised, with every allowed name replaced by a mask no raw line contains. */
function masked(item: string, allow: readonly string[]): string {
  let s = normalizeForCompare(item);
  const names = allow
    .map(normalizeForCompare)
    .filter((a) => a.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const a of names) s = s.split(a).join(MASK);
  return s;
}

/** Length of the longest run of `item` found in the raw lines (by overlapping GRAM windows). */
export function longestEcho(item: string, index: RawIndex, allow: readonly string[] = []): number {
  const s = masked(item, allow);
  if (index.lines.has(s)) return s.length;
  let best = 0;
  let run = 0;
  for (let i = 0; i + GRAM <= s.length; i++) {
    run = index.grams.has(s.slice(i, i + GRAM)) ? run + 1 : 0;
    if (run > 0) best = Math.max(best, run + GRAM - 1);
  }
  return best;
}

/**
 * The item, unmasked, contains a whole raw line. Masking names keeps advice that quotes a long test
 * name; it must not let through "❯ src/auth/auth.test.ts (5 tests | 2 failed) 5043ms", which is
 * mostly names and would pass the share rule once they are masked.
 */
export function containsRawLine(item: string, index: RawIndex, allow: readonly string[] = []): boolean {
  const s = normalizeForCompare(item);
  if (s.length < WHOLE_LINE_MIN) return false;
  const names = new Set(allow.map(normalizeForCompare));
  for (const line of index.lines) if (line.length >= WHOLE_LINE_MIN && !names.has(line) && s.includes(line)) return true;
  return false;
}

export function echoesRaw(item: string, index: RawIndex, allow: readonly string[] = []): boolean {
  const len = normalizeForCompare(item).length;
  const echo = longestEcho(item, index, allow);
  return echo >= ECHO_MIN_CHARS || (echo >= GRAM && echo >= ECHO_MIN_SHARE * len) || (len > 0 && echo === len) || containsRawLine(item, index, allow);
}

const RAW_SHAPES: RegExp[] = [
  /\bat\s+(?:async\s+)?[\w$.<>[\]]+\s+\(/, // at fn (
  /\(\S+:\d+:\d+\)/, // (file:1:2)
  /\bat\s+\S+:\d+:\d+/, // at file:1:2
  /File "[^"]+", line \d+/,
  /\bTraceback\b/,
  /[\w.\\/-]+\.[a-z][a-z0-9]{0,4}(?::\d+(?::\d+)?|\(\d+,\d+\))/i, // src/a.ts:12:5, a.py:3, a.ts(12,5)
  /\b0x[0-9a-f]{6,}\b/i,
  /^(?:npm (?:ERR!|WARN\b|error\b|warn\b)|FAIL\s|FAILED\s|PASS\s|E\s{2,}|ok\s{2,}|---\s(?:FAIL|PASS):|test result:|=== RUN)/i,
  /^(?:error|warning)(?:\[\w+\])?:\s|^error TS\d+:|^\w*(?:Error|Exception): /,
  /^\s*\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d/, // timestamped log line
  /```/,
  /goroutine \d+ \[|panicked at /,
];

/** Punctuation typical of code: a sentence has a few, a code line is made of them. */
function looksLikeCode(item: string): boolean {
  if (/=>|===|!==|&&|\|\||;\s*$|\{\s*\}|\)\s*\{|^\s*(?:const|let|var|import|def|fn|func|return)\s/.test(item)) return true;
  const symbols = (item.match(/[{}[\]();=<>|&$]/g) ?? []).length;
  return symbols >= 8 || (item.length >= 30 && symbols / item.length > 0.12);
}

export function looksRaw(item: string): boolean {
  return isStackLine(item) || RAW_SHAPES.some((re) => re.test(item)) || looksLikeCode(item);
}

/**
 * The items fit for the badge, in order. Pass the index when screening several lists; `allow` are
 * names that may be quoted (`signalNames(signals)`).
 */
export function screen(items: readonly string[], entries: readonly HistoryEntry[] | RawIndex, allow: readonly string[] = []): string[] {
  const index = "grams" in entries ? entries : rawIndex(entries);
  return items.filter((item) => !looksRaw(item) && !echoesRaw(item, index, allow));
}
