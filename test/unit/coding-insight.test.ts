import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { heuristicInsight } from "../../src/coding/heuristic.ts";
import { entriesFromMessage, statsOf, type HistoryEntry } from "../../src/coding/history.ts";
import { composeInsight, insightLogFields, shortHash } from "../../src/coding/insight.ts";
import { CodingInsightOut, INSIGHT_LISTS, type CodingInsightOut as Out } from "../../src/coding/messages.ts";
import { normalizeInsight } from "../../src/coding/normalize.ts";
import { buildInsightPrompt, PROMPT_MAX_CHARS, redactLine } from "../../src/coding/prompt.ts";
import { looksRaw, screen } from "../../src/coding/screen.ts";
import { extractSignals, signalNames } from "../../src/coding/signals.ts";

// PROTOCOL §8 insight: specific advice from the signals, LLM answers normalised and screened, and
// never a raw log line or a stack frame in the output, whoever wrote it.

const DIR = new URL("../fixtures/coding/", import.meta.url);
const FIXTURES = readdirSync(DIR).filter((f) => f.endsWith(".txt"));
const fixture = (name: string): string => readFileSync(new URL(name, DIR), "utf8");
const log = (text: string): HistoryEntry[] => entriesFromMessage({ type: "coding", event: "log", level: "info", text }, 1);
const step = (name: string, status: string): HistoryEntry[] => entriesFromMessage({ type: "coding", event: "step", name, status }, 1);

const squash = (s: string): string => s.replace(/\s+/g, " ").trim().toLowerCase();
// Every line of every fixture of ≥ 20 chars: no output item may contain one.
const RAW_LINES = FIXTURES.flatMap((f) => fixture(f).split("\n"))
  .map(squash)
  .filter((l) => l.length >= 20);
const STACK = /\bat\s+\S+\s+\(|\(\S+:\d+:\d+\)|File "[^"]+", line \d+|Traceback|^\s*at\s|\S+\.\w+:\d+:\d+/;

function items(msg: Pick<Out, "insights" | "risks" | "actions" | "nextSteps">): string[] {
  return INSIGHT_LISTS.flatMap((l) => msg[l]);
}

function expectClean(msg: Pick<Out, "insights" | "risks" | "actions" | "nextSteps">): void {
  for (const item of items(msg)) {
    const it = squash(item);
    for (const line of RAW_LINES) expect(it.includes(line), `${item} contains raw line ${line}`).toBe(false);
    expect(STACK.test(item), `stack-like: ${item}`).toBe(false);
  }
}

function context(entries: HistoryEntry[], final = false, phase = "build") {
  return { entries, stats: statsOf(entries), phase, final };
}

function compose(llm: unknown, entries: HistoryEntry[], final = false): Out {
  const msg = composeInsight(llm, context(entries, final));
  const valid = CodingInsightOut.safeParse(msg);
  expect(valid.success, JSON.stringify(valid.error?.issues)).toBe(true);
  return msg;
}

describe("heuristic insight per fixture", () => {
  it.each(FIXTURES)("%s: every list filled, valid, no raw line or stack frame", (name) => {
    const msg = compose(null, log(fixture(name)));
    expect(msg.source).toBe("heuristic");
    for (const l of INSIGHT_LISTS) expect(msg[l].length, l).toBeGreaterThan(0);
    expectClean(msg);
  });

  it("failing vitest run: count, file, the test, a re-run command", () => {
    const msg = compose(null, log(fixture("vitest-fail.txt")));
    expect(msg.insights[0]).toBe("2 vitest tests failing in auth.test.ts");
    expect(msg.risks[0]).toContain("rejects expired tokens");
    expect(msg.actions[0]).toContain("auth.test.ts");
    expect(msg.nextSteps[0]).toBe("Re-run: npx vitest run src/auth/auth.test.ts");
    expect(msg.stats).toMatchObject({ testsFailed: 2, buildSuccess: null });
  });

  it("TypeScript build error comes first, with its code and file; tests may follow from it", () => {
    const entries = [...log(fixture("tsc-build.txt")), ...log(fixture("vitest-fail.txt"))];
    const msg = compose(null, entries);
    expect(msg.insights[0]).toBe("Build is red: 3 TypeScript errors in 3 files");
    expect(msg.risks[0]).toBe("Build is red: TypeScript error TS2322 in src/api/client.ts");
    expect(msg.actions[0]).toMatch(/^Fix the TS2322 type mismatch in src\/api\/client\.ts \(line 42\) first; the test failures may follow from it$/);
    expect(msg.nextSteps[0]).toBe("Re-run tsc --noEmit after the fix");
    expect(msg.stats.buildSuccess).toBe(false);
  });

  it("OOM: node heap → raise the heap; killed/137 → more memory", () => {
    expect(compose(null, log(fixture("oom-node.txt"))).actions[0]).toContain("NODE_OPTIONS=--max-old-space-size=4096");
    const killed = compose(null, [...step("build", "start"), ...log(fixture("oom-killed.txt"))]);
    expect(killed.insights[0]).toBe("Out of memory: the job was killed (exit 137) during build");
    expect(killed.actions[0]).toMatch(/more memory/);
  });

  it("missing module → install it / check the path", () => {
    expect(compose(null, log(fixture("pytest-import.txt"))).actions[0]).toBe("Install requests (pip install requests) and add it to the requirements");
    expect(compose(null, log("Error: Cannot find module 'express'")).actions[0]).toBe("Install express (npm install express) or fix the import name");
  });

  it("flaky network → retry, check DNS / registry / proxy", () => {
    const msg = compose(null, log(fixture("network-flaky.txt")));
    expect(msg.insights[0]).toMatch(/^Network errors: ECONNRESET, ENOTFOUND/);
    expect(msg.risks[0]).toMatch(/Flaky network/);
    expect(msg.actions.join(" ")).toMatch(/DNS for api\.staging\.acme\.dev/);
    expect(msg.actions.join(" ")).toMatch(/registry or proxy/);
  });

  it("lint noise is reported last and blocks nothing", () => {
    const msg = compose(null, log(fixture("eslint-warnings.txt")));
    expect(msg.insights[0]).toBe("Lint: 4 warnings (no-unused-vars, exhaustive-deps)");
    expect(msg.risks).toEqual(["Nothing blocks the build yet"]);
    expect(msg.actions[0]).toMatch(/eslint --fix/);
    const withTests = compose(null, [...log(fixture("eslint-warnings.txt")), ...log(fixture("jest-fail.txt"))]);
    expect(withTests.insights[0]).toMatch(/Jest test failing/);
  });

  it("priority: build > OOM > modules > tests > timeouts > network > lint", () => {
    // pytest-import before vitest: its "1 error" summary closes a run with no failed tests.
    const order = ["eslint-warnings.txt", "network-flaky.txt", "pytest-import.txt", "vitest-fail.txt", "oom-killed.txt", "tsc-pretty.txt"];
    const msg = compose(
      null,
      order.flatMap((f) => log(fixture(f))),
    );
    expect(msg.insights[0]).toMatch(/^Build is red/);
    expect(msg.insights[1]).toMatch(/^Out of memory/);
    expect(msg.insights[2]).toMatch(/^Missing module/);
    expect(msg.insights[3]).toMatch(/tests failing/);
    expect(msg.insights).toHaveLength(5);
    expect(msg.risks).toHaveLength(4);
    expectClean(msg);
  });

  it("nothing failing: the smallest useful suggestion in every list", () => {
    const msg = compose(null, [...step("build", "ok"), ...log("✓ built in 2.31s")]);
    expect(msg).toMatchObject({
      insights: ["Build is green, nothing failing (phase: build)"],
      risks: ["No blockers spotted so far"],
      actions: ["Nothing failing yet: keep going"],
      nextSteps: ["Run the full test suite before you push"],
      source: "heuristic",
    });
  });

  it("a failed step with no other signal is the insight", () => {
    const msg = compose(null, step("deploy", "fail"));
    expect(msg.insights[0]).toBe("Step deploy failed");
    expect(msg.actions[0]).toBe("Open the deploy output and fix the first error in it");
  });

  it("Chinese steps → Chinese advice", () => {
    const msg = compose(null, [...step("单元测试", "start"), ...log(fixture("vitest-fail.txt"))]);
    expect(msg.insights[0]).toBe("auth.test.ts 中有 2 个 vitest 测试失败");
    expect(msg.nextSteps.join("")).toMatch(/重跑/);
    const rust = compose(null, [...step("构建", "start"), ...log(fixture("rust-build.txt"))]);
    expect(rust.insights).toContain("缺少模块：embassy_time::Ticker");
    expect(rust.actions[0]).toBe("检查路径 embassy_time::Ticker：可能已移动，或缺少 crate feature");
    expectClean(rust);
    const quiet = compose(null, step("构建", "成功"));
    expect(quiet.actions).toEqual(["暂无失败：继续推进"]);
  });

  it("summary after stop opens with the verdict", () => {
    const msg = compose(null, log(fixture("tsc-build.txt")), true);
    expect(msg.event).toBe("summary");
    expect(msg.insights[0]).toBe("Session ended with the build red");
  });

  it("heuristicInsight alone respects the limits", () => {
    const entries = FIXTURES.flatMap((f) => log(fixture(f)));
    const out = heuristicInsight(extractSignals(entries), statsOf(entries), "x");
    expect(out.insights.length).toBeLessThanOrEqual(5);
    expect(out.risks.length).toBeLessThanOrEqual(4);
    expect(out.actions.length).toBeLessThanOrEqual(6);
    expect(out.nextSteps.length).toBeLessThanOrEqual(6);
  });
});

describe("LLM answers", () => {
  const entries = log(fixture("vitest-fail.txt"));

  it.each([
    ["not JSON", "Sure! The tests are failing because of the auth module."],
    ["empty", ""],
    ["wrong keys", { summary_text: "x", foo: [1, 2] }],
    ["truncated JSON", '{"insights":["Two auth tests fail"'],
    [
      "echoes raw lines and stack frames",
      {
        insights: [" FAIL  src/auth/auth.test.ts > auth > rejects expired tokens", "AssertionError: expected 401 to be 200 // Object.is equality"],
        risks: ["    at Object.toBe (src/cart/cart.test.js:20:26)", "src/auth/auth.test.ts:42:23"],
        actions: ["Traceback (most recent call last):", "expect(res.status).toBe(200);"],
        nextSteps: ["Tests  2 failed | 15 passed (17)"],
      },
    ],
  ])("garbage (%s) → heuristic insight", (_, llm) => {
    const msg = compose(llm, entries);
    expect(msg.source).toBe("heuristic");
    expect(msg.insights[0]).toBe("2 vitest tests failing in auth.test.ts");
    expectClean(msg);
  });

  it("good items are kept, empty lists filled by the heuristic", () => {
    const llm = {
      insights: ["Two auth tests fail: an expired token is accepted, and session refresh hangs"],
      risks: [],
      actions: ["Make login reject expired tokens with 401", "Await the refresh promise in the session test"],
      nextSteps: [],
    };
    const msg = compose(JSON.stringify(llm), entries);
    expect(msg.source).toBe("llm");
    expect(msg.insights).toEqual(llm.insights);
    expect(msg.actions).toEqual(llm.actions);
    expect(msg.risks[0]).toMatch(/Tests are red/);
    expect(msg.nextSteps[0]).toBe("Re-run: npx vitest run src/auth/auth.test.ts");
  });

  it("naming a signal (test, module, host) is not an echo; quoting the log around it is", () => {
    const rust = log(fixture("rust-build.txt"));
    const zh = compose({ insights: ["缺少模块：embassy_time::Ticker"] }, rust);
    expect(zh).toMatchObject({ source: "llm", insights: ["缺少模块：embassy_time::Ticker"] });
    const echo = compose({ insights: ["rejects expired tokens failed with: expected 401 to be 200 // Object.is equality"] }, entries);
    expect(echo.source).toBe("heuristic");
  });

  it("mixed answer: echoes dropped, the rest kept", () => {
    const msg = compose({ insights: ["AssertionError: expected 401 to be 200 // Object.is equality", "Expired tokens are accepted by login"] }, entries);
    expect(msg.source).toBe("llm");
    expect(msg.insights).toEqual(["Expired tokens are accepted by login"]);
  });

  it("normalizeInsight: wrappers, alias keys, objects, strings, duplicates, caps and limits", () => {
    expect(normalizeInsight('```json\n{"result":{"next_steps":["Run tests"],"recommendations":[{"action":"Fix auth"}]}}\n```')).toEqual({
      insights: [],
      risks: [],
      actions: ["Fix auth"],
      nextSteps: ["Run tests"],
    });
    expect(normalizeInsight({ data: { Risks: "- one\n- two\n- one", 建议: ["修复登录"] } })).toEqual({
      insights: [],
      risks: ["one", "two"],
      actions: ["修复登录"],
      nextSteps: [],
    });
    expect(normalizeInsight(["a", "b"])?.insights).toEqual(["a", "b"]);
    expect(normalizeInsight(JSON.stringify(JSON.stringify({ insights: ["x"] })))?.insights).toEqual(["x"]);
    const many = normalizeInsight({ risks: ["1", "2", "3", "4", "5", "6"], insights: ["y".repeat(300)] })!;
    expect(many.risks).toHaveLength(4);
    expect(Array.from(many.insights[0]!)).toHaveLength(140);
    expect(normalizeInsight({ insights: ["", "  "], foo: 1 })).toBeNull();
    expect(normalizeInsight(42)).toBeNull();
  });
});

describe("screen", () => {
  const entries = log(fixture("jest-fail.txt"));

  it("drops echoes of raw lines (exact, re-spaced, re-cased, or a long shared part)", () => {
    const out = screen(
      [
        "Tests:       1 failed, 5 passed, 6 total",
        "tests: 1 FAILED, 5 passed, 6 total",
        "The suite says expect(received).toBe(expected) // Object.is equality again",
        "Discount code SAVE10 is not applied to the cart total",
      ],
      entries,
    );
    expect(out).toEqual(["Discount code SAVE10 is not applied to the cart total"]);
  });

  it("a raw line made mostly of names is still a raw line, names or not", () => {
    const vitest = log(fixture("vitest-fail.txt"));
    const names = signalNames(extractSignals(vitest));
    expect(names).toContain("src/auth/auth.test.ts");
    const out = screen(["❯ src/auth/auth.test.ts (5 tests | 2 failed) 5043ms", "Fix rejects expired tokens in src/auth/auth.test.ts"], vitest, names);
    expect(out).toEqual(["Fix rejects expired tokens in src/auth/auth.test.ts"]);
    const net = log(fixture("network-flaky.txt"));
    expect(screen(["hostname: 'api.staging.acme.dev'", "Check DNS for api.staging.acme.dev"], net, signalNames(extractSignals(net)))).toEqual([
      "Check DNS for api.staging.acme.dev",
    ]);
  });

  it("keeps short shared words: a command or a file name is fine", () => {
    expect(screen(["Re-run npx jest src/cart/cart.test.js", "Fix cart.test.js first"], entries)).toHaveLength(2);
  });

  it.each([
    "at Object.toBe (src/cart/cart.test.js:20:26)",
    'File "app.py", line 3, in main',
    "Traceback shows a KeyError",
    "Fix src/a.ts:12:5",
    "Fix src/a.ts(12,5) now",
    "npm ERR! code ELIFECYCLE",
    "const x = await login(token);",
    "if (a === b) { return c; }",
    "0x7ffd5e8c1a20 in libc",
  ])("looks raw: %s", (item) => {
    expect(looksRaw(item)).toBe(true);
  });

  it.each([
    "Fix the TS2322 type mismatch in src/api/client.ts (line 42) first; the test failures may follow from it",
    "Raise the memory limit (NODE_OPTIONS=--max-old-space-size=4096) or split the job",
  ])("does not look raw: %s", (item) => {
    expect(looksRaw(item)).toBe(false);
  });
});

describe("prompt", () => {
  it("fixes the four keys, the limits, the no-echo rule and the language; stays bounded", () => {
    const entries = FIXTURES.flatMap((f) => log(fixture(f)));
    const p = buildInsightPrompt(entries, extractSignals(entries), statsOf(entries), "test");
    expect(p.system).toContain('{"insights":string[],"risks":string[],"actions":string[],"nextSteps":string[]}');
    expect(p.system).toMatch(/at most 5 .*\n.*at most 4 .*\n.*at most 6 .*\n.*at most 6 /);
    expect(p.system).toMatch(/Never copy a log line, a stack trace/);
    expect(p.system).toContain("Write every string in English.");
    expect(p.user.length).toBeLessThanOrEqual(PROMPT_MAX_CHARS);
    expect(p.user).toMatch(/build failed: \d+ error/);
    expect(p.user).toMatch(/failing tests:/);
    expect(p.user).not.toMatch(/^\|\s+at /m);
    const zh = buildInsightPrompt(step("测试", "start"), extractSignals([]), statsOf([]), "");
    expect(zh.lang).toBe("zh");
    expect(zh.system).toContain("Simplified Chinese");
  });

  it("redacts secrets in log lines", () => {
    expect(redactLine("curl -H 'Authorization: Bearer abcdefghijklmnop1234' https://u:hunter2@example.com")).not.toMatch(/abcdefghijklmnop1234|hunter2/);
    expect(redactLine("NPM_TOKEN=npm_AbCdEfGhIjKlMnOpQrStUvWxYz012345")).not.toContain("AbCdEfGh");
    expect(redactLine("using /home/runner/work/web/web/src/components/Badge.tsx")).toContain("Badge.tsx");
  });
});

describe("log helpers", () => {
  it("shortHash is stable and short; log fields carry counts, never the text", () => {
    expect(shortHash("abc")).toMatch(/^[0-9a-f]{8}$/);
    expect(shortHash({ a: 1 })).toBe(shortHash('{"a":1}'));
    const msg = compose(null, log(fixture("vitest-fail.txt")), true);
    const fields = insightLogFields(msg, 12.6);
    expect(fields).toEqual({
      final: true,
      source: "heuristic",
      insights: msg.insights.length,
      risks: msg.risks.length,
      actions: msg.actions.length,
      nextSteps: msg.nextSteps.length,
      hash: shortHash(msg),
      elapsedMs: 13,
    });
  });
});
