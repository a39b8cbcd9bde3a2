import { isBuildStep, type HistoryEntry } from "./history.ts";
import { stepOutcome } from "./messages.ts";
import { lineFacts, type Ecosystem, type LineFact, type OomKind, type Runner } from "./patterns.ts";
import { currentRun, emptyTestRuns, leafFailures, startsTestRun, trackTests, type TestRunState } from "./test-runs.ts";

// Signals: what the history says went wrong, as counts and short names (files, codes, modules,
// rules), deduplicated and bounded, newest evidence first where order matters. Nothing here is a raw
// line: the heuristic and the prompt digest are built from these fields only.

export const MAX_LISTED = 6;

export interface CompileError {
  tool: string;
  file?: string;
  line?: number;
  code?: string;
}

export interface MissingModule {
  name: string;
  ecosystem: Ecosystem;
}

export interface Signals {
  tests: { failed: number; fromSummary: boolean; runners: Runner[]; names: string[]; files: string[]; packages: string[] };
  build: { failed: boolean; count: number; errors: CompileError[]; codes: string[]; files: string[]; tools: string[] };
  /** Newest first. */
  modules: MissingModule[];
  oom: { count: number; kinds: OomKind[] };
  timeouts: { count: number; kinds: string[] };
  /** hosts: a host that failed to resolve first. */
  network: { count: number; codes: string[]; hosts: string[] };
  lint: { warnings: number; errors: number; rules: string[]; files: string[]; tools: string[] };
  steps: { failed: string[]; passed: string[]; last: string };
}

function push<T>(list: T[], item: T, max = MAX_LISTED): void {
  if (!list.includes(item) && list.length < max) list.push(item);
}

function pushRecent(list: MissingModule[], item: MissingModule, max = MAX_LISTED): void {
  const i = list.findIndex((m) => m.name === item.name);
  if (i >= 0) list.splice(i, 1);
  list.unshift(item);
  if (list.length > max) list.length = max;
}

/** "src/auth/auth.test.ts" → "auth.test.ts": the badge has room for a file name, not a path. */
export function baseName(path: string): string {
  const parts = path.replace(/\\/g, "/").split("/").filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

interface Acc {
  tests: TestRunState;
  compile: { errors: CompileError[]; keys: Set<string>; summary: number | null; failed: boolean; tools: string[] };
  modules: MissingModule[];
  oom: Signals["oom"];
  timeouts: Signals["timeouts"];
  network: Signals["network"];
  lint: { pendingW: number; pendingE: number; closed: { w: number; e: number } | null; rules: string[]; files: string[]; tools: string[] };
  lintFile: string | null;
  /** Index in compile.errors (or -1 for the lint list) of the last item that still lacks a file. */
  awaitingLocation: { list: "compile" | "lint"; index: number; ttl: number } | null;
  stepOutcomes: Map<string, "ok" | "fail" | "other">;
  lastStep: string;
}

function newAcc(): Acc {
  return {
    tests: emptyTestRuns(),
    compile: { errors: [], keys: new Set(), summary: null, failed: false, tools: [] },
    modules: [],
    oom: { count: 0, kinds: [] },
    timeouts: { count: 0, kinds: [] },
    network: { count: 0, codes: [], hosts: [] },
    lint: { pendingW: 0, pendingE: 0, closed: null, rules: [], files: [], tools: [] },
    lintFile: null,
    awaitingLocation: null,
    stepOutcomes: new Map(),
    lastStep: "",
  };
}

function resetBuild(acc: Acc): void {
  acc.compile = { errors: [], keys: new Set(), summary: null, failed: false, tools: [] };
  acc.modules = [];
}

function onFact(acc: Acc, f: LineFact): void {
  switch (f.kind) {
    case "compile": {
      acc.compile.failed = true;
      push(acc.compile.tools, f.tool);
      // The same error printed twice (tsc --watch) counts once; errors without a location are distinct.
      const k = f.file ? `${f.tool}|${f.file}|${f.line ?? ""}|${f.code ?? ""}` : `#${acc.compile.keys.size}`;
      if (acc.compile.keys.has(k)) return;
      acc.compile.keys.add(k);
      const e: CompileError = { tool: f.tool };
      if (f.file) e.file = f.file;
      if (f.line) e.line = f.line;
      if (f.code) e.code = f.code;
      if (acc.compile.errors.length < 8) acc.compile.errors.push(e);
      if (!f.file) acc.awaitingLocation = { list: "compile", index: acc.compile.errors.length - 1, ttl: 6 };
      return;
    }
    case "compileSummary":
      acc.compile.summary = f.errors;
      if (f.errors === 0) resetBuild(acc);
      return;
    case "buildFail":
      acc.compile.failed = true;
      push(acc.compile.tools, f.tool);
      return;
    case "location": {
      const w = acc.awaitingLocation;
      if (w?.list === "compile") {
        const e = acc.compile.errors[w.index];
        if (e && !e.file) Object.assign(e, { file: f.file, line: f.line });
      } else if (w?.list === "lint") push(acc.lint.files, baseName(f.file));
      acc.awaitingLocation = null;
      return;
    }
    case "module":
      pushRecent(acc.modules, { name: f.module, ecosystem: f.ecosystem });
      return;
    case "oom":
      acc.oom.count += 1;
      push(acc.oom.kinds, f.what);
      return;
    case "timeout":
      acc.timeouts.count += 1;
      push(acc.timeouts.kinds, f.what);
      return;
    case "network":
      acc.network.count += 1;
      push(acc.network.codes, f.code);
      // A host that does not resolve is the one to name in advice: it goes first.
      if (f.host && (f.code === "ENOTFOUND" || f.code === "DNS")) {
        acc.network.hosts = [f.host, ...acc.network.hosts.filter((h) => h !== f.host)].slice(0, MAX_LISTED);
      } else if (f.host) push(acc.network.hosts, f.host);
      return;
    case "lint": {
      if (f.severity === "error") acc.lint.pendingE += 1;
      else acc.lint.pendingW += 1;
      push(acc.lint.tools, f.tool);
      if (f.rule) push(acc.lint.rules, f.rule);
      const file = f.file ?? (f.tool === "eslint" ? acc.lintFile : null);
      if (file) push(acc.lint.files, baseName(file));
      else if (f.tool === "rustc") acc.awaitingLocation = { list: "lint", index: -1, ttl: 4 };
      return;
    }
    case "lintRule":
      push(acc.lint.rules, f.rule);
      return;
    case "lintFile":
      acc.lintFile = f.file;
      return;
    case "lintSummary":
      acc.lint.closed = { w: f.warnings, e: f.errors };
      acc.lint.pendingW = 0;
      acc.lint.pendingE = 0;
      return;
    default:
      return; // test facts go through trackTests
  }
}

function onLog(acc: Acc, text: string): void {
  const facts = lineFacts(text);
  if (acc.awaitingLocation && --acc.awaitingLocation.ttl < 0) acc.awaitingLocation = null;
  if (!facts.some((f) => f.kind === "lint" || f.kind === "lintFile")) acc.lintFile = null;
  for (const f of facts) onFact(acc, f);
  acc.tests = trackTests(acc.tests, facts);
}

function onStep(acc: Acc, entry: HistoryEntry): void {
  const name = entry.name ?? entry.text;
  const outcome = stepOutcome(entry.status ?? "");
  acc.lastStep = name;
  acc.stepOutcomes.delete(name); // re-insert: Map order is recency
  acc.stepOutcomes.set(name, outcome);
  if (isBuildStep(name) && outcome === "ok") resetBuild(acc);
  if (startsTestRun(name, outcome)) acc.tests = emptyTestRuns();
}

export function extractSignals(entries: readonly HistoryEntry[]): Signals {
  const acc = newAcc();
  for (const e of entries) {
    if (e.kind === "log") onLog(acc, e.text);
    else if (e.kind === "step") onStep(acc, e);
  }
  const run = currentRun(acc.tests);
  const closed = acc.tests.closed;
  const fromSummary = run === closed && closed !== null;
  const leaves = leafFailures(run);
  const tests: Signals["tests"] = {
    failed: fromSummary ? closed.failed : leaves.length || run.failures.length || run.packages.length,
    fromSummary,
    runners: [],
    names: [],
    files: [],
    packages: run.packages.slice(0, MAX_LISTED),
  };
  if (fromSummary) push(tests.runners, closed.runner);
  for (const f of run.failures) {
    push(tests.runners, f.runner);
    if (f.file) push(tests.files, f.file);
  }
  for (const f of leaves) push(tests.names, f.name!);
  const c = acc.compile;
  const steps = [...acc.stepOutcomes.entries()].reverse();
  return {
    tests,
    build: {
      failed: c.failed,
      count: Math.max(c.keys.size, c.summary ?? 0),
      errors: c.errors,
      codes: [...new Set(c.errors.flatMap((e) => (e.code ? [e.code] : [])))].slice(0, MAX_LISTED),
      files: [...new Set(c.errors.flatMap((e) => (e.file ? [e.file] : [])))].slice(0, MAX_LISTED),
      tools: c.tools,
    },
    modules: acc.modules,
    oom: acc.oom,
    timeouts: acc.timeouts,
    network: acc.network,
    lint: {
      warnings: acc.lint.pendingW || acc.lint.pendingE ? acc.lint.pendingW : (acc.lint.closed?.w ?? 0),
      errors: acc.lint.pendingW || acc.lint.pendingE ? acc.lint.pendingE : (acc.lint.closed?.e ?? 0),
      rules: acc.lint.rules,
      files: acc.lint.files,
      tools: acc.lint.tools,
    },
    steps: {
      failed: steps
        .filter(([, o]) => o === "fail")
        .map(([n]) => n)
        .slice(0, MAX_LISTED),
      passed: steps
        .filter(([, o]) => o === "ok")
        .map(([n]) => n)
        .slice(0, MAX_LISTED),
      last: acc.lastStep,
    },
  };
}

/** Nothing at all went wrong in the history. */
export function isQuiet(s: Signals): boolean {
  return (
    !s.build.failed &&
    s.tests.failed === 0 &&
    s.modules.length === 0 &&
    s.oom.count === 0 &&
    s.timeouts.count === 0 &&
    s.network.count === 0 &&
    s.lint.warnings + s.lint.errors === 0 &&
    s.steps.failed.length === 0
  );
}

/** Names the advice may quote (screen.ts masks them): identifiers, never sentences of a log. */
export function signalNames(s: Signals): string[] {
  const testNames = s.tests.names.flatMap((n) => [n, ...n.split(/\s+[>›]\s+|::/)]);
  return [
    ...testNames,
    ...s.tests.files,
    ...s.tests.files.map(baseName),
    ...s.tests.packages,
    ...s.build.files,
    ...s.build.codes,
    ...s.modules.map((m) => m.name),
    ...s.network.hosts,
    ...s.lint.rules,
    ...s.lint.files,
    ...s.steps.failed,
    ...s.steps.passed,
  ].filter((n) => n.trim().length >= 4 && n.length <= 80);
}
