import { detectLanguage, type Lang } from "../text/lang.ts";
import { stepOutcome, type CodingLogIn, type CodingPhaseIn, type CodingStats, type CodingStepIn, type LogLevel } from "./messages.ts";
import { inferLevel, lineFacts, type LineFact } from "./patterns.ts";
import { emptyTestRuns, startsTestRun, testsFailedOf, trackTests, type TestRunState } from "./test-runs.ts";

// The bounded coding history (PROTOCOL §8: 200 lines of ≤512 chars) and its stats, as pure logic.
// Storage (SQLite rows in the device object) lives elsewhere; this file only says what a row holds,
// how a message becomes rows and how the stats follow from them.
//
// Stats two ways, same reducer: `reduceStats` folds one entry into a small JSON state (persist it
// next to the rows and update it per entry); `statsOf(entries)` folds a whole list (rebuild after a
// lost state, or tests). Incremental stats count everything since the last `clear`; `statsOf` over
// the stored window counts only the last 200 lines. Both are "right": prefer the incremental one.

export const HISTORY_MAX = 200;
export const HISTORY_TEXT_MAX = 512;

export type HistoryKind = "log" | "step" | "phase";

export interface HistoryEntry {
  kind: HistoryKind;
  level: LogLevel;
  /** log: one line of output; step: the step name; phase: the phase name. ≤ HISTORY_TEXT_MAX chars. */
  text: string;
  /** step and phase: the name as sent. */
  name?: string;
  /** step: the status as sent (lower-cased). */
  status?: string;
  ts: number;
}

// ANSI colour/cursor sequences (CSI and OSC): CI output forwarded from a terminal is full of them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control sequences is the point
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: same
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

/** Cut to `max` code points with a trailing "…" (never splits a surrogate pair). */
export function capText(s: string, max: number): string {
  if (s.length <= max) return s;
  const chars = Array.from(s);
  if (chars.length <= max) return s;
  return `${chars.slice(0, max - 1).join("")}…`;
}

/**
 * One raw line as it is stored: colours stripped, a progress line overwritten by `\r` reduced to
 * its last state, control characters removed, trailing space trimmed (leading indentation is kept:
 * eslint and stack frames are recognised by it), cut to HISTORY_TEXT_MAX.
 */
export function cleanLine(raw: string): string {
  const noAnsi = raw.replace(ANSI, "");
  const segments = noAnsi.split("\r").filter((seg) => seg.trim() !== "");
  const last = segments[segments.length - 1] ?? "";
  return capText(last.replace(/\t/g, "    ").replace(CONTROL, "").trimEnd(), HISTORY_TEXT_MAX);
}

/**
 * A message as history rows. A `log` text may hold many lines (a forwarded chunk of output): each
 * non-empty line with a letter or digit becomes one row, so separators ("⎯⎯⎯", "====") do not use up
 * the 200 rows. The level is the one sent, raised when the line itself is an error or a warning.
 * All rows are returned; `appendBounded` keeps the last HISTORY_MAX.
 */
export function entriesFromMessage(msg: CodingLogIn | CodingStepIn | CodingPhaseIn, ts: number): HistoryEntry[] {
  if (msg.event === "step") {
    const name = capText(msg.name.trim(), HISTORY_TEXT_MAX);
    const level: LogLevel = stepOutcome(msg.status) === "fail" ? "error" : "info";
    return [{ kind: "step", level, text: name, name, status: msg.status, ts }];
  }
  if (msg.event === "phase") {
    const name = capText(msg.phase.trim(), HISTORY_TEXT_MAX);
    return [{ kind: "phase", level: "info", text: name, name, ts }];
  }
  const out: HistoryEntry[] = [];
  for (const raw of msg.text.split("\n")) {
    const text = cleanLine(raw);
    if (!/[\p{L}\p{N}]/u.test(text)) continue;
    out.push({ kind: "log", level: raiseLevel(msg.level, inferLevel(text, lineFacts(text))), text, ts });
  }
  return out;
}

const RANK: Record<LogLevel, number> = { info: 0, warn: 1, error: 2 };

function raiseLevel(sent: LogLevel, inferred: LogLevel): LogLevel {
  return RANK[inferred] > RANK[sent] ? inferred : sent;
}

/** The history after adding `added`: oldest rows dropped beyond `max`. */
export function appendBounded(entries: readonly HistoryEntry[], added: readonly HistoryEntry[], max = HISTORY_MAX): HistoryEntry[] {
  const all = [...entries, ...added];
  return all.length > max ? all.slice(all.length - max) : all;
}

// ---- stats -----------------------------------------------------------------------------------

const BUILD_STEP =
  /\b(?:build|builds|building|compile|compiling|tsc|typecheck|type-check|bundle|webpack|vite|rollup|esbuild|make|cmake|gradle|mvn|maven|cargo build|go build)\b|构建|编译|打包/i;

/** Steps that build the code: their outcome is `buildSuccess` (§8). */
export function isBuildStep(name: string): boolean {
  return BUILD_STEP.test(name);
}

export interface StatsState {
  stats: CodingStats;
  tests: TestRunState;
}

export function emptyStats(): CodingStats {
  return { errorCount: 0, warnCount: 0, lastStep: "", buildSuccess: null, testsFailed: 0 };
}

export function emptyStatsState(): StatsState {
  return { stats: emptyStats(), tests: emptyTestRuns() };
}

function isBuildError(facts: readonly LineFact[]): boolean {
  return facts.some((f) => f.kind === "compile" || f.kind === "buildFail" || (f.kind === "compileSummary" && f.errors > 0));
}

/** The state after one more entry (pure: the input is not modified). */
export function reduceStats(state: StatsState, entry: HistoryEntry): StatsState {
  const stats = { ...state.stats };
  let tests = state.tests;
  if (entry.level === "error") stats.errorCount += 1;
  else if (entry.level === "warn") stats.warnCount += 1;
  if (entry.kind === "step") {
    const name = entry.name ?? entry.text;
    const outcome = stepOutcome(entry.status ?? "");
    stats.lastStep = name;
    if (isBuildStep(name) && outcome !== "other") stats.buildSuccess = outcome === "ok";
    if (startsTestRun(name, outcome)) tests = emptyTestRuns();
  } else if (entry.kind === "log") {
    const facts = lineFacts(entry.text);
    if (isBuildError(facts)) stats.buildSuccess = false;
    tests = trackTests(tests, facts);
  }
  stats.testsFailed = testsFailedOf(tests);
  return { stats, tests };
}

export function statsOf(entries: readonly HistoryEntry[]): CodingStats {
  return entries.reduce(reduceStats, emptyStatsState()).stats;
}

/** The phase the badge is in: the last `phase` entry's name, "" before any. */
export function currentPhase(entries: readonly HistoryEntry[]): string {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (e.kind === "phase") return e.name ?? e.text;
  }
  return "";
}

/**
 * The language to answer in. Step and phase names are written by the developer, tool output is
 * almost always English: Chinese step or phase names mean a Chinese-speaking developer even when
 * every log line is English. Otherwise the log lines decide (a Chinese toolchain or test names).
 */
export function historyLanguage(entries: readonly HistoryEntry[]): Lang {
  const labels = entries
    .filter((e) => e.kind !== "log")
    .map((e) => e.text)
    .join(" ");
  if (detectLanguage(labels) === "zh") return "zh";
  const logs = entries
    .filter((e) => e.kind === "log")
    .map((e) => e.text)
    .join(" ");
  return detectLanguage(logs);
}
