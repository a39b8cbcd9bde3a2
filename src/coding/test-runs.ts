import type { LineFact, Runner } from "./patterns.ts";

// Which tests are failing now. A runner's summary line ("Tests  2 failed | 10 passed (12)") closes
// a run and is the truth for it (PROTOCOL §8: testsFailed comes from the summary line when there is
// one); failing tests seen after it belong to the next run, which replaces it. Go prints no count
// line, so its failures simply accumulate. cargo prints one summary per test binary of the same
// invocation: those add up until the next `Compiling`/`Finished` line starts a new invocation.
// A `step` that starts a test run (status neither ok nor fail, name like "test") resets it all.
//
// The state is plain JSON (arrays, no Sets) so the capability can persist it next to the stats.

export const MAX_TRACKED = 32;

export interface TestFailure {
  runner: Runner;
  name?: string;
  file?: string;
}

export interface TestRun {
  failures: TestFailure[];
  /** Distinct named failures seen, counted beyond MAX_TRACKED. */
  named: number;
  packages: string[];
}

export interface TestRunState {
  pending: TestRun;
  closed: (TestRun & { failed: number; runner: Runner }) | null;
  /** The next cargo summary adds to `closed` (same `cargo test` invocation). */
  cargoOpen: boolean;
  /** The file of the last `FAIL <file>` line: jest prints the test names under it. */
  currentFile: string | null;
}

export function emptyRun(): TestRun {
  return { failures: [], named: 0, packages: [] };
}

export function emptyTestRuns(): TestRunState {
  return { pending: emptyRun(), closed: null, cargoOpen: false, currentFile: null };
}

function key(f: TestFailure): string {
  return `${f.runner}|${f.name ?? ""}|${f.name ? "" : (f.file ?? "")}`;
}

function addFailure(run: TestRun, f: TestFailure): TestRun {
  const k = key(f);
  const existing = run.failures.findIndex((x) => key(x) === k);
  if (existing >= 0) {
    // A later line may know the file of a test seen before (vitest prints names twice).
    const prev = run.failures[existing]!;
    if (prev.file || !f.file) return run;
    const failures = run.failures.slice();
    failures[existing] = { ...prev, file: f.file };
    return { ...run, failures };
  }
  const failures = run.failures.length < MAX_TRACKED ? [...run.failures, f] : run.failures;
  return { ...run, failures, named: run.named + (f.name ? 1 : 0) };
}

/** Named failures, without a go parent test whose subtest failed ("TestX" when "TestX/case" failed). */
export function leafFailures(run: TestRun): TestFailure[] {
  const names = run.failures.filter((f) => f.name).map((f) => f.name!);
  return run.failures.filter((f) => f.name && !(f.runner === "go" && names.some((n) => n.startsWith(`${f.name}/`))));
}

/** Failing tests in a run without a summary: named leaves, else failing files, else failing packages. */
export function runCount(run: TestRun): number {
  const leaves = leafFailures(run).length;
  if (leaves > 0) return leaves + Math.max(0, run.named - run.failures.filter((f) => f.name).length);
  const files = run.failures.filter((f) => !f.name).length;
  return files > 0 ? files : run.packages.length;
}

export function testsFailedOf(state: TestRunState): number {
  const pending = runCount(state.pending);
  if (pending > 0) return pending;
  return state.closed?.failed ?? 0;
}

/** The run the badge should talk about: the one in progress if it has failures, else the last closed one. */
export function currentRun(state: TestRunState): TestRun {
  return runCount(state.pending) > 0 || !state.closed ? state.pending : state.closed;
}

export function trackTests(state: TestRunState, facts: readonly LineFact[]): TestRunState {
  let s = state;
  for (const f of facts) {
    if (f.kind === "testFail") {
      const file = f.file ?? (f.runner === "jest" ? (s.currentFile ?? undefined) : undefined);
      const failure: TestFailure = { runner: f.runner };
      if (f.name) failure.name = f.name;
      if (file) failure.file = file;
      s = { ...s, pending: addFailure(s.pending, failure), currentFile: f.file && !f.name ? f.file : s.currentFile };
    } else if (f.kind === "testPackageFail") {
      const pkgs = s.pending.packages;
      if (!pkgs.includes(f.pkg) && pkgs.length < MAX_TRACKED) s = { ...s, pending: { ...s.pending, packages: [...pkgs, f.pkg] } };
    } else if (f.kind === "testSummary") {
      const adds = f.runner === "cargo" && s.cargoOpen && s.closed?.runner === "cargo";
      let run = s.pending;
      let failed = f.failed;
      if (adds && s.closed) {
        failed += s.closed.failed;
        run = s.closed;
        for (const x of s.pending.failures) run = addFailure(run, x);
      }
      s = { pending: emptyRun(), closed: { ...run, failed, runner: f.runner }, cargoOpen: f.runner === "cargo", currentFile: null };
    } else if (f.kind === "cargoBuild") {
      if (s.cargoOpen) s = { ...s, cargoOpen: false };
    }
  }
  return s;
}

const TEST_STEP = /\b(?:tests?|testing|vitest|jest|pytest|mocha|spec|specs|e2e|unit)\b|测试|单测/i;

/** A step that starts a test run: earlier results no longer describe the code under test. */
export function startsTestRun(name: string, outcome: "ok" | "fail" | "other"): boolean {
  return outcome === "other" && TEST_STEP.test(name);
}
