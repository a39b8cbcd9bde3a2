// What one log line says, as typed facts. The patterns follow the real output of the tools
// (vitest, jest, mocha, pytest, go test, cargo test; tsc, gcc/clang, rustc, go, javac, esbuild;
// eslint, biome, ruff/flake8, clippy, golangci-lint; node, npm, CI runners). One line may carry
// several facts: `error TS2307: Cannot find module 'x'` is both a compile error and a missing module.
// Facts, not raw text, are what the heuristic and the prompt digest are built from.

import type { LineFact } from "./facts.ts";
import { moduleFact, networkFact, oomFact, timeoutFact } from "./patterns-runtime.ts";

export type { Ecosystem, LineFact, OomKind, Runner } from "./facts.ts";

const JS_FILE = String.raw`[^\s()]+?\.(?:[cm]?[jt]sx?|vue|svelte)`;

// ---- test runners --------------------------------------------------------------------------

const VITEST_FAIL = new RegExp(String.raw`^\s*FAIL\s+(${JS_FILE})\s+>\s+(.+?)\s*$`);
const VITEST_SUITE_FAIL = new RegExp(String.raw`^\s*FAIL\s+(${JS_FILE})\s+\[\s*[^\]]*\]\s*$`);
const JEST_FILE_FAIL = new RegExp(String.raw`^\s*FAIL\s+(${JS_FILE})(?:\s+\([\d.]+\s*m?s\))?\s*$`);
const JEST_NAME = /^\s*●\s+(.+?)\s*$/;
const JEST_NOT_A_TEST = /^(?:Test suite failed to run|Console|Invalid test|.*Did not exit)/i;
const VITEST_SUMMARY = /^\s*Tests\s{2,}(.*\d.*)$/;
const JEST_SUMMARY = /^\s*Tests:\s+(.*\d+ total)\s*$/;
const MOCHA_FAILING = /^\s*(\d+) failing\s*$/;
const PYTEST_FAILED = /^FAILED\s+(\S+?\.py)::(\S+?)(?:\s+-\s.*)?$/;
const PYTEST_SUMMARY = /^=+ (.*\b(?:passed|failed|errors?|skipped|deselected|xfailed)\b.*?) in [\d.]+s(?: \([^)]*\))? =+$/;
const GO_FAIL = /^\s*--- FAIL: (\S+) \([\d.]+s\)/;
const GO_PKG_FAIL = /^FAIL\s+(\S+)\s+(?:[\d.]+s|\(cached\)|\[(?:build|setup) failed\])\s*$/;
const CARGO_FAIL = /^test (\S+) \.\.\. FAILED\s*$/;
const CARGO_SUMMARY = /^test result: (?:FAILED|ok)\. (\d+) passed; (\d+) failed/;
const CARGO_BUILD = /^\s*(?:Compiling|Finished)\s+\S/;

function count(text: string, word: RegExp): number {
  const m = word.exec(text);
  return m ? Number(m[1]) : 0;
}

function testFacts(line: string, out: LineFact[]): void {
  let m: RegExpExecArray | null;
  if ((m = VITEST_FAIL.exec(line))) out.push({ kind: "testFail", runner: "vitest", file: m[1]!, name: m[2]! });
  else if ((m = VITEST_SUITE_FAIL.exec(line))) out.push({ kind: "testFail", runner: "vitest", file: m[1]! });
  else if ((m = JEST_FILE_FAIL.exec(line))) out.push({ kind: "testFail", runner: "jest", file: m[1]! });
  else if ((m = JEST_NAME.exec(line)) && !JEST_NOT_A_TEST.test(m[1]!)) out.push({ kind: "testFail", runner: "jest", name: m[1]! });
  else if ((m = VITEST_SUMMARY.exec(line)) && /\d+ (?:failed|passed)/.test(m[1]!))
    out.push({ kind: "testSummary", runner: "vitest", failed: count(m[1]!, /(\d+) failed/), passed: count(m[1]!, /(\d+) passed/) });
  else if ((m = JEST_SUMMARY.exec(line)))
    out.push({ kind: "testSummary", runner: "jest", failed: count(m[1]!, /(\d+) failed/), passed: count(m[1]!, /(\d+) passed/) });
  else if ((m = MOCHA_FAILING.exec(line))) out.push({ kind: "testSummary", runner: "mocha", failed: Number(m[1]), passed: 0 });
  else if ((m = PYTEST_FAILED.exec(line))) out.push({ kind: "testFail", runner: "pytest", file: m[1]!, name: m[2]! });
  else if ((m = PYTEST_SUMMARY.exec(line)))
    out.push({ kind: "testSummary", runner: "pytest", failed: count(m[1]!, /(\d+) failed/), passed: count(m[1]!, /(\d+) passed/) });
  else if ((m = GO_FAIL.exec(line))) out.push({ kind: "testFail", runner: "go", name: m[1]! });
  else if ((m = GO_PKG_FAIL.exec(line))) out.push({ kind: "testPackageFail", runner: "go", pkg: m[1]! });
  else if ((m = CARGO_FAIL.exec(line))) out.push({ kind: "testFail", runner: "cargo", name: m[1]! });
  else if ((m = CARGO_SUMMARY.exec(line))) out.push({ kind: "testSummary", runner: "cargo", failed: Number(m[2]), passed: Number(m[1]) });
  else if (CARGO_BUILD.test(line)) out.push({ kind: "cargoBuild" });
}

// ---- compilers and bundlers ------------------------------------------------------------------

const TSC_PAREN = new RegExp(String.raw`^\s*(${JS_FILE})\((\d+),\d+\): error (TS\d+):`);
const TSC_PRETTY = new RegExp(String.raw`^\s*(${JS_FILE}):(\d+):\d+ - error (TS\d+):`);
const TSC_BARE = /^\s*error (TS\d+):/;
const TSC_FOUND = /^Found (\d+) errors? in /;
const TSC_FOUND_WATCH = /^.*Found (\d+) errors?\. Watching for file changes/;
const CC_ERROR = /^(\S+?\.(?:c|cc|cpp|cxx|h|hh|hpp|m|mm|ino)):(\d+):(?:\d+:)? (?:fatal )?error: /;
const RUSTC_ERROR = /^error\[(E\d{4})\]:/;
const RUST_LOCATION = /^\s*--> (\S+?):(\d+):\d+\s*$/;
const GO_COMPILE = /^(\.{0,2}\/?[\w./-]*\.go):(\d+):\d+: (.+)$/;
const GOLANGCI = /\((\w[\w-]*)\)\s*$/;
const JAVAC = /^(\S+\.(?:java|kt)):(\d+): error: /;
const ESBUILD = /^\s*(?:✘|X|x) \[ERROR\] /;
const ESBUILD_LOCATION = new RegExp(String.raw`^\s+(${JS_FILE}):(\d+):\d+:\s*$`);
const BUILD_FAIL: [RegExp, string][] = [
  [/error: could not compile `/, "cargo"],
  [/\bBuild failed with \d+ errors?/i, "esbuild"],
  [/^\s*error during build:/, "vite"],
  [/^\s*Failed to compile\.?\s*$/, "webpack"],
  [/^\s*ERROR in /, "webpack"],
  [/^\s*> Build error occurred/, "next"],
  [/^\s*BUILD FAILED\b/, "gradle"],
  [/^\s*\[ERROR\] BUILD FAILURE/, "maven"],
  [/^\s*make(?:\[\d+\])?: \*\*\* .*Error \d+/, "make"],
  [/^\s*ERROR: failed to solve:/, "docker"],
];

function compileFacts(line: string, out: LineFact[]): void {
  let m: RegExpExecArray | null;
  if ((m = TSC_PAREN.exec(line)) || (m = TSC_PRETTY.exec(line))) out.push({ kind: "compile", tool: "tsc", file: m[1]!, line: Number(m[2]), code: m[3]! });
  else if ((m = TSC_BARE.exec(line))) out.push({ kind: "compile", tool: "tsc", code: m[1]! });
  else if ((m = TSC_FOUND.exec(line)) || (m = TSC_FOUND_WATCH.exec(line))) out.push({ kind: "compileSummary", errors: Number(m[1]) });
  else if ((m = CC_ERROR.exec(line))) out.push({ kind: "compile", tool: "cc", file: m[1]!, line: Number(m[2]) });
  else if ((m = RUSTC_ERROR.exec(line))) out.push({ kind: "compile", tool: "rustc", code: m[1]! });
  else if ((m = RUST_LOCATION.exec(line)) || (m = ESBUILD_LOCATION.exec(line))) out.push({ kind: "location", file: m[1]!, line: Number(m[2]) });
  else if ((m = JAVAC.exec(line))) out.push({ kind: "compile", tool: "javac", file: m[1]!, line: Number(m[2]) });
  else if (ESBUILD.test(line)) out.push({ kind: "compile", tool: "esbuild" });
  else if ((m = GO_COMPILE.exec(line))) {
    const linter = GOLANGCI.exec(m[3]!);
    if (linter) out.push({ kind: "lint", tool: "golangci-lint", severity: "warning", rule: linter[1]!, file: m[1]! });
    else out.push({ kind: "compile", tool: "go", file: m[1]!, line: Number(m[2]) });
  }
  for (const [re, tool] of BUILD_FAIL) {
    if (re.test(line)) {
      out.push({ kind: "buildFail", tool });
      break;
    }
  }
}

// ---- linters ------------------------------------------------------------------------------

const ESLINT_ITEM = /^\s+\d+:\d+\s+(warning|error)\s+(.+?)(?:\s{2,}(@?[\w-]+(?:\/[\w-]+)*))?\s*$/;
const ESLINT_SUMMARY = /^\s*✖ \d+ problems? \((\d+) errors?, (\d+) warnings?\)/;
const LINT_FILE = /^(?:[A-Za-z]:\\|\/|\.\/)?[\w@.\\/-]+\.(?:[cm]?[jt]sx?|vue|svelte)\s*$/;
const BIOME = /^(\S+?):\d+:\d+ (lint\/[\w/]+)/;
const RUFF = /^(\S+?\.pyi?):\d+:\d+: ([A-Z]{1,4}\d{3,4})\b/;
const FOUND_ONLY = /^Found (\d+) (errors?|warnings?)\.\s*$/;
const RUST_WARNING = /^warning: (?!.*generated \d+ warnings?)(.+)$/;
const RUST_WARNING_SUMMARY = /^warning: `[^`]+` \([^)]*\) generated (\d+) warnings?/;
const RUST_LINT_RULE = /#\[(?:warn|deny)\(([\w:]+)\)\]/;

function lintFacts(line: string, out: LineFact[]): void {
  let m: RegExpExecArray | null;
  if ((m = ESLINT_ITEM.exec(line))) {
    const fact: LineFact = { kind: "lint", tool: "eslint", severity: m[1] === "error" ? "error" : "warning" };
    if (m[3]) fact.rule = m[3];
    out.push(fact);
  } else if ((m = ESLINT_SUMMARY.exec(line))) out.push({ kind: "lintSummary", errors: Number(m[1]), warnings: Number(m[2]) });
  else if ((m = BIOME.exec(line))) out.push({ kind: "lint", tool: "biome", severity: "warning", rule: m[2]!, file: m[1]! });
  else if ((m = RUFF.exec(line))) out.push({ kind: "lint", tool: "ruff", severity: "warning", rule: m[2]!, file: m[1]! });
  else if ((m = FOUND_ONLY.exec(line))) {
    const n = Number(m[1]);
    out.push({ kind: "lintSummary", errors: m[2]!.startsWith("error") ? n : 0, warnings: m[2]!.startsWith("warning") ? n : 0 });
  } else if ((m = RUST_WARNING_SUMMARY.exec(line))) out.push({ kind: "lintSummary", errors: 0, warnings: Number(m[1]) });
  else if (RUST_WARNING.test(line)) out.push({ kind: "lint", tool: "rustc", severity: "warning" });
  else if ((m = RUST_LINT_RULE.exec(line))) out.push({ kind: "lintRule", rule: m[1]! });
  else if (LINT_FILE.test(line) && /[/\\]/.test(line)) out.push({ kind: "lintFile", file: line.trim() });
}

// ---- the whole line --------------------------------------------------------------------------

const STACK: RegExp[] = [
  /^\s*at\s+(?:async\s+)?\S.*(?::\d+:\d+\)?|\(<anonymous>\)|\(index \d+\)|\(native\))\s*$/,
  /^\s{2,}at\s+\S/,
  /^\s*File "[^"]+", line \d+/,
  /^\s*Traceback \(most recent call last\)/,
  /^\s*\d+: 0x[0-9a-f]{4,}\b/i,
  /^\s*goroutine \d+ \[[\w ]+\]:/,
  /^\s+\S+\.go:\d+ \+0x[0-9a-f]+/,
  /^\s*\d+:\s+(?:0x[0-9a-f]+ - )?[\w<>]+(?:::[\w<>{}]+)+/,
  /^\s*(?:>\s*)?\d+\s*\|/,
  /^\s+\|\s+\^/,
  /^\s*❯ \S+:\d+:\d+\s*$/,
];

/** A stack frame, a traceback header or a source code frame: context, never a message for a badge. */
export function isStackLine(text: string): boolean {
  return STACK.some((re) => re.test(text));
}

/** All facts of one line (already stripped of ANSI codes). Stack frames carry none. */
export function lineFacts(text: string): LineFact[] {
  const out: LineFact[] = [];
  if (!/[A-Za-z0-9]/.test(text) || isStackLine(text)) return out;
  testFacts(text, out);
  compileFacts(text, out);
  lintFacts(text, out);
  const mod = moduleFact(text);
  if (mod) out.push(mod);
  const oom = oomFact(text);
  if (oom) out.push(oom);
  const timeout = timeoutFact(text);
  if (timeout) out.push(timeout);
  const net = networkFact(text);
  if (net) out.push(net);
  return out;
}

const ERROR_TEXT =
  /^\s*(?:error|fatal|panic)(?:\[\w+\])?[:\s]|^\s*(?:Error|ERROR|FATAL|Fatal error|Uncaught)\b[:\s[]|^\s*npm (?:ERR!|error)\s|^\s*##\[error\]|^\s*(?:✘|✗)\s|\b\w*Error: |\bexit(?:ed)? (?:with )?(?:code|status):? [1-9]/;
const WARN_TEXT = /^\s*(?:warning|warn|WARNING|WARN|Warning)\b[:\s[]|^\s*npm (?:WARN|warn)\s|^\s*##\[warning\]|\b\w+Warning: |^\s*⚠/;

/**
 * The level a line deserves by its content: devices often forward a whole tool's output as `info`.
 * Stack frames and code frames stay `info` so one exception does not count as twenty errors.
 */
export function inferLevel(text: string, facts: readonly LineFact[]): "info" | "warn" | "error" {
  if (isStackLine(text)) return "info";
  for (const f of facts) {
    if (f.kind === "testFail" || f.kind === "compile" || f.kind === "buildFail" || f.kind === "module" || f.kind === "oom") return "error";
    if (f.kind === "network" || f.kind === "timeout" || f.kind === "testPackageFail") return "error";
    if (f.kind === "testSummary" && f.failed > 0) return "error";
    if (f.kind === "lint") return f.severity === "error" ? "error" : "warn";
  }
  if (ERROR_TEXT.test(text)) return "error";
  if (WARN_TEXT.test(text)) return "warn";
  return "info";
}
