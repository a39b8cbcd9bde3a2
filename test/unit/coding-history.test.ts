import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  appendBounded,
  cleanLine,
  currentPhase,
  emptyStatsState,
  entriesFromMessage,
  HISTORY_MAX,
  HISTORY_TEXT_MAX,
  historyLanguage,
  reduceStats,
  statsOf,
  type HistoryEntry,
} from "../../src/coding/history.ts";
import type { LogLevel } from "../../src/coding/messages.ts";

// PROTOCOL §8: bounded history (200 lines of ≤512 chars) and its stats.

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/coding/${name}`, import.meta.url), "utf8");

let clock = 1_000;
function log(text: string, level: LogLevel = "info"): HistoryEntry[] {
  return entriesFromMessage({ type: "coding", event: "log", level, text }, clock++);
}
function step(name: string, status: string): HistoryEntry[] {
  return entriesFromMessage({ type: "coding", event: "step", name, status }, clock++);
}
function phase(p: string): HistoryEntry[] {
  return entriesFromMessage({ type: "coding", event: "phase", phase: p }, clock++);
}
const all = (...parts: HistoryEntry[][]): HistoryEntry[] => parts.flat();

describe("entries", () => {
  it("one row per non-empty line, colours and carriage-return progress removed", () => {
    const rows = log("\u001b[31mFAIL\u001b[39m  src/a.test.ts > a > b\n\n   \n⎯⎯⎯⎯⎯⎯\r\ndownloading 10%\rdownloading 100%\n\tindented");
    expect(rows.map((r) => r.text)).toEqual(["FAIL  src/a.test.ts > a > b", "downloading 100%", "    indented"]);
    expect(rows[0]).toMatchObject({ kind: "log", level: "error" });
  });

  it("cuts each line to 512 chars", () => {
    const [row] = log("x".repeat(2000));
    expect(Array.from(row!.text)).toHaveLength(HISTORY_TEXT_MAX);
    expect(row!.text.endsWith("…")).toBe(true);
    expect(cleanLine("😀".repeat(600)).length).toBeLessThanOrEqual(HISTORY_TEXT_MAX * 2);
  });

  it("the sent level is kept, and raised when the line is clearly an error or a warning", () => {
    expect(log("all good", "warn")[0]!.level).toBe("warn");
    expect(log("npm WARN deprecated inflight@1.0.6")[0]!.level).toBe("warn");
    expect(log("src/a.ts(1,1): error TS2322: nope")[0]!.level).toBe("error");
    expect(log("    at Object.<anonymous> (src/a.ts:1:2)", "info")[0]!.level).toBe("info");
    expect(log("npm ERR! code ECONNRESET", "warn")[0]!.level).toBe("error");
  });

  it("steps and phases", () => {
    expect(step("build", "FAIL")[0]).toMatchObject({ kind: "step", level: "error", text: "build", name: "build", status: "FAIL" });
    expect(phase("test")[0]).toMatchObject({ kind: "phase", level: "info", text: "test", name: "test" });
  });

  it("keeps the newest 200 rows", () => {
    let h: HistoryEntry[] = [];
    for (let i = 0; i < 250; i++) h = appendBounded(h, log(`line ${i}`));
    expect(h).toHaveLength(HISTORY_MAX);
    expect(h[0]!.text).toBe("line 50");
    expect(h[h.length - 1]!.text).toBe("line 249");
    expect(appendBounded(h, log(Array.from({ length: 300 }, (_, i) => `chunk ${i}`).join("\n")))[0]!.text).toBe("chunk 100");
  });
});

describe("stats", () => {
  it("empty history", () => {
    expect(statsOf([])).toEqual({ errorCount: 0, warnCount: 0, lastStep: "", buildSuccess: null, testsFailed: 0 });
  });

  it("counts errors and warnings, keeps the last step", () => {
    const h = all(log("boom", "error"), log("careful", "warn"), step("install", "ok"), step("lint", "fail"), log("hm", "warn"));
    expect(statsOf(h)).toMatchObject({ errorCount: 2, warnCount: 2, lastStep: "lint" });
  });

  it("buildSuccess: null → false on a build error → true after a build step ok → false after a failed build step", () => {
    let h = all(step("install", "ok"), step("test", "fail"));
    expect(statsOf(h).buildSuccess).toBeNull();
    h = all(h, log(fixture("tsc-build.txt")));
    expect(statsOf(h).buildSuccess).toBe(false);
    h = all(h, step("build", "running"));
    expect(statsOf(h).buildSuccess).toBe(false);
    h = all(h, step("build", "ok"));
    expect(statsOf(h).buildSuccess).toBe(true);
    h = all(h, step("编译", "失败"));
    expect(statsOf(h).buildSuccess).toBe(false);
  });

  it.each([
    ["vitest-fail.txt", 2],
    ["jest-fail.txt", 1],
    ["pytest-fail.txt", 2],
    ["go-test-fail.txt", 2],
    ["cargo-test-fail.txt", 2],
    ["pytest-import.txt", 0],
  ])("testsFailed from %s = %d", (name, n) => {
    expect(statsOf(log(fixture(name))).testsFailed).toBe(n);
  });

  it("the summary line wins over the failing tests seen", () => {
    const h = log(" FAIL  src/a.test.ts > a > one\n FAIL  src/a.test.ts > a > two\n      Tests  5 failed | 1 passed (6)");
    expect(statsOf(h).testsFailed).toBe(5);
  });

  it("without a summary line, failing tests seen are counted (deduped)", () => {
    const h = log(" FAIL  src/a.test.ts > a > one\n FAIL  src/a.test.ts > a > one\n FAIL  src/b.test.ts > b > two");
    expect(statsOf(h).testsFailed).toBe(2);
  });

  it("a later run replaces an earlier one; a test step start resets", () => {
    const red = fixture("vitest-fail.txt");
    const green = "      Tests  17 passed (17)";
    expect(statsOf(all(log(red), log(green))).testsFailed).toBe(0);
    expect(statsOf(all(log(red), step("test", "start"))).testsFailed).toBe(0);
    expect(statsOf(all(log(green), log(" FAIL  src/x.test.ts > x > y"))).testsFailed).toBe(1);
  });

  it("cargo summaries of one invocation add up; a new invocation starts over", () => {
    const cargo = fixture("cargo-test-fail.txt");
    expect(statsOf(log(`${cargo}\n${cargo}`)).testsFailed).toBe(2);
  });

  it("incremental updates equal statsOf, and the state survives JSON", () => {
    const h = all(
      phase("build"),
      step("build", "start"),
      log(fixture("tsc-build.txt")),
      step("build", "fail"),
      phase("test"),
      log(fixture("vitest-fail.txt")),
      log(fixture("eslint-warnings.txt")),
    );
    let state = emptyStatsState();
    for (const e of h) state = JSON.parse(JSON.stringify(reduceStats(state, e)));
    expect(state.stats).toEqual(statsOf(h));
    expect(state.stats).toMatchObject({ lastStep: "build", buildSuccess: false, testsFailed: 2, warnCount: 4 });
  });

  it("reduceStats does not modify its input", () => {
    const s0 = emptyStatsState();
    const copy = JSON.stringify(s0);
    reduceStats(s0, log("FAIL  src/a.test.ts > a > b")[0]!);
    expect(JSON.stringify(s0)).toBe(copy);
  });
});

describe("phase and language", () => {
  it("currentPhase is the last phase, '' before any", () => {
    expect(currentPhase(log("x"))).toBe("");
    expect(currentPhase(all(phase("build"), log("x"), phase("test"), log("y")))).toBe("test");
  });

  it("Chinese step or phase names mean Chinese, even over English tool output", () => {
    expect(historyLanguage(log(fixture("vitest-fail.txt")))).toBe("en");
    expect(historyLanguage(all(step("单元测试", "start"), log(fixture("vitest-fail.txt"))))).toBe("zh");
    expect(historyLanguage(log("构建失败，类型错误"))).toBe("zh");
  });
});
