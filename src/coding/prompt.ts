import { redactText } from "../log.ts";
import type { Lang } from "../text/lang.ts";
import { capText, historyLanguage, type HistoryEntry } from "./history.ts";
import { INSIGHT_ITEM_MAX, INSIGHT_LIMITS, type CodingStats } from "./messages.ts";
import { isStackLine } from "./patterns.ts";
import type { Signals } from "./signals.ts";

// The coding insight prompt. The system part fixes the four keys and their limits and forbids
// echoing logs (LLMs otherwise paste the error line back: legacy notes, block 8). The user part is
// mostly the signal digest — counts, files, codes, modules — so the model reasons from facts, plus
// a few recent error lines, redacted and shortened, as context. Bounded to PROMPT_MAX_CHARS so the
// 512-token answer is fast and never crowded out.

export const PROMPT_MAX_CHARS = 3000;
export const INSIGHT_MAX_TOKENS = 512;
const LOG_LINE_MAX = 160;
const LOG_LINES = 8;

const LANG_RULE: Record<Lang, string> = {
  zh: "Write every string in Simplified Chinese; keep file names, error codes, module names and commands as they are.",
  en: "Write every string in English.",
};

export function insightSystemPrompt(lang: Lang): string {
  return [
    "You watch a developer's build and test output and advise them on a small badge screen.",
    "Reply with exactly one JSON object and nothing else: no code fences, no markdown, no text before or after it.",
    'The object has exactly these four keys: {"insights":string[],"risks":string[],"actions":string[],"nextSteps":string[]}',
    `- insights: at most ${INSIGHT_LIMITS.insights} observations: what broke, or the state of the work.`,
    `- risks: at most ${INSIGHT_LIMITS.risks} risks or blockers.`,
    `- actions: at most ${INSIGHT_LIMITS.actions} concrete fixes, most important first: build errors, then out of memory, missing modules, failing tests, timeouts, network, lint.`,
    `- nextSteps: at most ${INSIGHT_LIMITS.nextSteps} things to run or check after the fixes.`,
    `Each item is one short plain sentence (under ${Math.min(100, INSIGHT_ITEM_MAX)} characters), specific (name the file, error code, module or test), distinct from the others, never empty.`,
    "Never copy a log line, a stack trace, a file path with line numbers or code into an item: say what it means in your own words.",
    "Use [] for a list with nothing to say. Only use facts from the input; do not invent files, codes or tests.",
    LANG_RULE[lang],
  ].join("\n");
}

// Credentials that show up in CI output beyond what redactText (bearer, JWT, token= query) covers.
const SECRETS: [RegExp, string][] = [
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, "$1[redacted]@"], // https://user:pass@host
  [/\b(?:ghp|gho|ghs|ghu|github_pat|glpat|xox[abpr]|npm|sk|pk|rk)[-_][A-Za-z0-9_-]{16,}/g, "[redacted]"],
  [/\bAKIA[0-9A-Z]{16}\b/g, "[redacted]"],
  [/\b((?:password|passwd|secret|token|api[-_]?key|access[-_]?key)\s*[=:]\s*)["']?[^\s"',;]{4,}/gi, "$1[redacted]"],
  // Long opaque strings (keys, signed blobs); no "/" or "." so paths and host names survive.
  [/\b[A-Za-z0-9+_-]{40,}={0,2}/g, "[redacted]"],
];

/** A log line fit for the prompt: secrets removed, whitespace collapsed, shortened. */
export function redactLine(text: string): string {
  let out = redactText(text);
  for (const [re, rep] of SECRETS) out = out.replace(re, rep);
  return capText(out.replace(/\s+/g, " ").trim(), LOG_LINE_MAX);
}

function list(items: readonly string[], n = 3): string {
  return items.slice(0, n).join(", ");
}

/** The signals as short lines; only what is present. */
export function signalDigest(s: Signals): string[] {
  const out: string[] = [];
  const b = s.build;
  if (b.failed) {
    const errs = b.errors
      .slice(0, 3)
      .map((e) => [e.code, e.file, e.line ? `line ${e.line}` : ""].filter(Boolean).join(" "))
      .filter(Boolean);
    out.push(`- build failed: ${b.count} error(s) from ${list(b.tools)}${errs.length ? ` (${errs.join("; ")})` : ""}`);
  }
  if (s.oom.count) out.push(`- out of memory: ${list(s.oom.kinds)}`);
  if (s.modules.length)
    out.push(
      `- missing modules: ${s.modules
        .slice(0, 4)
        .map((m) => `${m.name} (${m.ecosystem})`)
        .join(", ")}`,
    );
  const t = s.tests;
  if (t.failed) {
    const from = t.fromSummary ? "per the runner summary" : "seen so far";
    out.push(
      `- failing tests: ${t.failed} ${list(t.runners)} (${from})${t.files.length ? ` in ${list(t.files)}` : ""}${t.packages.length ? ` packages ${list(t.packages)}` : ""}`,
    );
    if (t.names.length)
      out.push(
        `  tests: ${t.names
          .slice(0, 4)
          .map((n) => capText(n, 60))
          .join("; ")}`,
      );
  }
  if (s.timeouts.count) out.push(`- timeouts: ${list(s.timeouts.kinds)}`);
  if (s.network.count) out.push(`- network errors: ${list(s.network.codes)}${s.network.hosts.length ? ` (hosts ${list(s.network.hosts)})` : ""}`);
  if (s.lint.warnings + s.lint.errors)
    out.push(
      `- lint: ${s.lint.warnings} warning(s), ${s.lint.errors} error(s)${s.lint.rules.length ? `, rules ${list(s.lint.rules)}` : ""}${s.lint.files.length ? ` in ${list(s.lint.files)}` : ""}`,
    );
  if (s.steps.failed.length) out.push(`- failed steps: ${list(s.steps.failed)}`);
  if (s.steps.passed.length) out.push(`- passed steps: ${list(s.steps.passed)}`);
  return out;
}

/** The last error/warning lines and the very last lines, oldest first, without stack or code frames. */
export function recentLines(entries: readonly HistoryEntry[], max = LOG_LINES): string[] {
  const logs = entries.filter((e) => e.kind === "log" && !isStackLine(e.text));
  const picked = new Set<HistoryEntry>();
  for (let i = logs.length - 1; i >= 0 && picked.size < max - 2; i--) if (logs[i]!.level !== "info") picked.add(logs[i]!);
  for (const e of logs.slice(-2)) picked.add(e);
  const lines = logs.filter((e) => picked.has(e)).map((e) => redactLine(e.text));
  return lines.filter((l, i) => l !== "" && lines.indexOf(l) === i);
}

function statsText(stats: CodingStats): string {
  const build = stats.buildSuccess === null ? "not run" : stats.buildSuccess ? "ok" : "failed";
  return `errors ${stats.errorCount}, warnings ${stats.warnCount}, last step "${stats.lastStep || "none"}", build ${build}, tests failed ${stats.testsFailed}`;
}

export function buildInsightPrompt(
  entries: readonly HistoryEntry[],
  signals: Signals,
  stats: CodingStats,
  phase: string,
): { system: string; user: string; lang: Lang } {
  const lang = historyLanguage(entries);
  const head = [`Phase: ${capText(phase || "unknown", 64)}`, `Stats: ${statsText(stats)}`];
  const digest = signalDigest(signals);
  head.push(digest.length ? "Signals:" : "Signals: nothing failing so far.", ...digest);
  let user = head.join("\n");
  if (user.length > PROMPT_MAX_CHARS) user = capText(user, PROMPT_MAX_CHARS);
  const lines = recentLines(entries);
  if (lines.length) {
    const title = "\nRecent log lines (context only: never quote them):";
    // Newest lines matter most: add from the end while they fit, then restore order.
    const kept: string[] = [];
    let size = user.length + title.length;
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = `\n| ${lines[i]}`;
      if (size + line.length > PROMPT_MAX_CHARS) break;
      kept.unshift(line);
      size += line.length;
    }
    if (kept.length) user += title + kept.join("");
  }
  return { system: insightSystemPrompt(lang), user, lang };
}
