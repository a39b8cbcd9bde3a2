/// <reference types="vite/client" />
import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { CodingInsightOut, INSIGHT_LISTS } from "../../src/coding/messages.ts";
import eslintWarnings from "../fixtures/coding/eslint-warnings.txt?raw";
import networkFlaky from "../fixtures/coding/network-flaky.txt?raw";
import oomKilled from "../fixtures/coding/oom-killed.txt?raw";
import tscBuild from "../fixtures/coding/tsc-build.txt?raw";
import vitestFail from "../fixtures/coding/vitest-fail.txt?raw";
import { api, connectDevice, eventually, uniqueId, type Json, type TestSocket } from "./helpers.ts";
import { llm } from "./services.ts";

// Coding mode (PROTOCOL §8) in workerd: acks and errors, realistic build logs turned into specific
// insights that never repeat a raw log line (even when the LLM does), the heuristic when the LLM
// fails, the debounce of a burst, the summary on stop, a run that survives reconnects and eviction.

const stubOf = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));
const FIXTURES = { vitestFail, tscBuild, oomKilled, networkFlaky, eslintWarnings };
const squash = (s: string) => s.replace(/\s+/g, " ").trim().toLowerCase();
const RAW_LINES = Object.values(FIXTURES)
  .flatMap((f) => f.split("\n"))
  .map(squash)
  .filter((l) => l.length >= 20);
const STACK = /\bat\s+\S+\s+\(|\(\S+:\d+:\d+\)|^\s*at\s|\S+\.\w+:\d+:\d+/;
const GOOD = JSON.stringify({
  insights: ["The auth tests fail since the token change"],
  risks: ["Expired sessions may not be refreshed"],
  actions: ["Check how the token expiry is compared"],
  nextSteps: ["Re-run the auth tests once fixed"],
});

const isAck = (m: Json) => m.type === "coding" && typeof m.status === "string";
const isInsight = (m: Json) => m.type === "coding" && m.event === "insight";
const isSummary = (m: Json) => m.type === "coding" && m.event === "summary";
const insightsOf = (sock: TestSocket) => sock.received.filter(isInsight);

async function codingDevice(prefix: string): Promise<{ id: string; sock: TestSocket }> {
  const id = uniqueId(prefix);
  const { sock } = await connectDevice(id);
  expect(await sock.request({ type: "mode", state: "start", mode: "coding" })).toMatchObject({ status: "ok", mode: "coding" });
  return { id, sock };
}

/** Sends a coding event and returns its ack (or its error). */
async function coding(sock: TestSocket, msg: Json): Promise<Json> {
  const reply = sock.next((m) => isAck(m) || m.type === "error");
  sock.send({ type: "coding", ...msg });
  return reply;
}

/** Every item of every list: valid shape, no raw log line, no stack frame. */
function expectClean(msg: Json): void {
  expect(CodingInsightOut.safeParse(msg).success, JSON.stringify(msg)).toBe(true);
  for (const l of INSIGHT_LISTS) {
    expect(msg[l].length, l).toBeGreaterThan(0);
    for (const item of msg[l] as string[]) {
      const it = squash(item);
      for (const line of RAW_LINES) expect(it.includes(line), `"${item}" repeats "${line}"`).toBe(false);
      expect(STACK.test(item), `stack-like: ${item}`).toBe(false);
    }
  }
}

/** An LLM that pastes the log back: every item is a raw line or a stack frame. */
function echoingAnswer(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length >= 20);
  return JSON.stringify({
    insights: lines.slice(0, 3),
    risks: ["at async seed (file:///home/runner/work/web/web/scripts/seed.mjs:12:15)", lines[0]],
    actions: lines.slice(-2),
    nextSteps: [`Look at this: ${lines[lines.length - 1]}`],
  });
}

/** What GET /api/devices/:id says of the run (src/coding/capability.ts describe). */
async function runState(id: string): Promise<Json> {
  return ((await (await api(`/devices/${id}`)).json()) as Json).coding;
}

beforeEach(async () => {
  await llm.reset();
});

describe("coding messages", () => {
  it("acks every event and names malformed fields precisely", async () => {
    const { sock } = await codingDevice("c0:00:01");
    for (const event of ["start", "clear"]) expect(await coding(sock, { event })).toEqual({ type: "coding", status: "ok", event });
    expect(await coding(sock, { event: "phase", phase: "build" })).toEqual({ type: "coding", status: "ok", event: "phase" });
    expect(await coding(sock, { event: "step", name: "install", status: "ok" })).toEqual({ type: "coding", status: "ok", event: "step" });
    expect(await coding(sock, { event: "log", text: "resolving packages" })).toEqual({ type: "coding", status: "ok", event: "log" });
    expect(await coding(sock, { event: "log", level: "WARNING", text: "peer dependency missing" })).toMatchObject({ status: "ok", event: "log" });

    const invalid = (message: string) => ({ type: "coding", status: "error", code: "SCHEMA_INVALID", message });
    expect(await coding(sock, { event: "log" })).toEqual(invalid("missing: text"));
    expect(await coding(sock, { event: "log", text: 42 })).toEqual(invalid("invalid: text (must be a string)"));
    expect(await coding(sock, { event: "log", text: "x", level: "loud" })).toEqual(invalid("invalid: level (must be one of info|warn|error)"));
    expect(await coding(sock, { event: "step" })).toEqual(invalid("missing: name,status"));
    expect(await coding(sock, { event: "step", name: "  ", status: "ok" })).toEqual(invalid("invalid: name (must be a non-empty string)"));
    expect(await coding(sock, { event: "phase", phase: "x".repeat(65) })).toEqual(invalid("invalid: phase (must be at most 64 characters)"));
    expect(await coding(sock, { event: "explode" })).toEqual(invalid("invalid: event (event must be one of start|stop|clear|log|step|phase)"));
    expect(await coding(sock, {})).toMatchObject({ code: "SCHEMA_INVALID", message: expect.stringContaining("event") });

    expect(await coding(sock, { event: "stop" })).toEqual({ type: "coding", status: "ok", event: "stop" });
    expect(await sock.next(isSummary, 10_000)).toMatchObject({ event: "summary", phase: "build", stats: { lastStep: "install", warnCount: 1 } });
    sock.close();
  });

  it("outside coding mode every event is NOT_IN_MODE, and the mode's end clears the run", async () => {
    const id = uniqueId("c0:00:02");
    const { sock } = await connectDevice(id);
    const notInMode = {
      type: "error",
      code: "NOT_IN_MODE",
      message: 'coding mode is not active: send {"type":"mode","state":"start","mode":"coding"} first',
    };
    for (const msg of [{ event: "start" }, { event: "log", text: "x" }, { event: "stop" }]) expect(await coding(sock, msg)).toEqual(notInMode);
    await sock.request({ type: "mode", state: "start", mode: "meeting" });
    expect(await coding(sock, { event: "log", text: "x" })).toEqual(notInMode);

    await sock.request({ type: "mode", state: "start", mode: "coding" });
    await coding(sock, { event: "log", level: "error", text: "Error: Cannot find module 'express'" });
    expect(await sock.next(isInsight, 10_000)).toMatchObject({ stats: { errorCount: 1 } });
    expect(await runState(id)).toMatchObject({ lines: 1 });
    expect(await sock.request({ type: "mode", state: "end", mode: "coding" })).toMatchObject({ status: "ok", state: "end" });
    expect(await coding(sock, { event: "log", text: "x" })).toEqual(notInMode);
    expect(await runState(id)).toBeUndefined();

    // A new coding mode starts from nothing.
    await sock.request({ type: "mode", state: "start", mode: "coding" });
    await coding(sock, { event: "stop" });
    expect((await sock.next(isSummary, 10_000)).stats).toEqual({ errorCount: 0, warnCount: 0, lastStep: "", buildSuccess: null, testsFailed: 0 });
    const rows = await runInDurableObject(stubOf(id), (i) => i.session.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM coding_history").one().n);
    expect(rows).toBe(0);
    sock.close();
  });

  it("keeps at most 200 lines of at most 512 characters", async () => {
    const { id, sock } = await codingDevice("c0:00:03");
    // 250 lines of 600 characters, in messages under the 64 KiB frame limit.
    for (let from = 0; from < 250; from += 50) {
      const text = Array.from({ length: 50 }, (_, i) => `line ${from + i} ${"x".repeat(600)}`).join("\n");
      expect(await coding(sock, { event: "log", text })).toMatchObject({ status: "ok" });
    }
    await coding(sock, { event: "log", text: "the last line" });
    const rows = await runInDurableObject(stubOf(id), (i) =>
      i.session.sql
        .exec<{ n: number; longest: number; first: string }>(
          "SELECT COUNT(*) AS n, MAX(LENGTH(text)) AS longest, (SELECT text FROM coding_history ORDER BY seq LIMIT 1) AS first FROM coding_history",
        )
        .one(),
    );
    expect(rows).toMatchObject({ n: 200, longest: 512 });
    expect(rows.first).toMatch(/^line 51 x+…$/);
    expect(await runState(id)).toMatchObject({ lines: 200 });
    sock.close();
  });
});

describe("realistic logs", () => {
  const cases: Array<{ name: string; prefix: string; before?: Json[]; text: string; check: (m: Json) => void }> = [
    {
      name: "a failing vitest run",
      prefix: "c1:00:01",
      text: vitestFail,
      check: (m) => {
        expect(m.stats).toMatchObject({ testsFailed: 2, buildSuccess: null });
        expect(m.insights[0]).toBe("2 vitest tests failing in auth.test.ts");
        expect(m.risks.join(" ")).toContain("rejects expired tokens");
        expect(m.nextSteps[0]).toBe("Re-run: npx vitest run src/auth/auth.test.ts");
      },
    },
    {
      name: "a TypeScript build error",
      prefix: "c1:00:02",
      before: [{ event: "step", name: "build", status: "start" }],
      text: tscBuild,
      check: (m) => {
        expect(m.stats).toMatchObject({ buildSuccess: false, lastStep: "build" });
        expect(m.stats.errorCount).toBeGreaterThanOrEqual(3);
        expect(m.insights[0]).toBe("Build is red: 3 TypeScript errors in 3 files");
        expect(m.risks[0]).toBe("Build is red: TypeScript error TS2322 in src/api/client.ts");
      },
    },
    {
      name: "an OOM-killed job",
      prefix: "c1:00:03",
      before: [{ event: "step", name: "build", status: "start" }],
      text: oomKilled,
      check: (m) => {
        expect(m.insights[0]).toBe("Out of memory: the job was killed (exit 137) during build");
        expect(m.actions[0]).toMatch(/more memory/);
      },
    },
    {
      name: "a flaky network fetch",
      prefix: "c1:00:04",
      text: networkFlaky,
      check: (m) => {
        expect(m.insights[0]).toMatch(/^Network errors: ECONNRESET, ENOTFOUND/);
        expect(m.risks[0]).toMatch(/Flaky network/);
        expect(m.actions.join(" ")).toMatch(/DNS for api\.staging\.acme\.dev/);
      },
    },
    {
      name: "lint noise",
      prefix: "c1:00:05",
      text: eslintWarnings,
      check: (m) => {
        expect(m.stats).toMatchObject({ errorCount: 0, warnCount: 4 });
        expect(m.insights[0]).toBe("Lint: 4 warnings (no-unused-vars, exhaustive-deps)");
        expect(m.risks).toEqual(["Nothing blocks the build yet"]);
      },
    },
  ];

  it.each(cases)("$name: the signals found, not one raw line, even from an LLM that echoes the log", async ({ prefix, before, text, check }) => {
    await llm.answer(echoingAnswer(text));
    const { sock } = await codingDevice(prefix);
    for (const msg of before ?? []) await coding(sock, msg);
    // Forwarded as CI prints it: one chunk of output per message.
    expect(await coding(sock, { event: "log", text })).toMatchObject({ status: "ok" });
    const insight = await sock.next(isInsight, 10_000);
    expect(insight.source).toBe("heuristic"); // every LLM item was screened out
    check(insight);
    expectClean(insight);
    await coding(sock, { event: "stop" });
    const summary = await sock.next(isSummary, 10_000);
    expectClean(summary);
    expect(summary.stats).toEqual(insight.stats);
    expect(await llm.calls()).toBeGreaterThanOrEqual(2);
    sock.close();
  });

  it("line by line, the way a forwarder tails a log: the same signals, still clean", async () => {
    const { sock } = await codingDevice("c1:00:06");
    const lines = vitestFail.split("\n");
    for (const text of lines) sock.send({ type: "coding", event: "log", text });
    for (let i = 0; i < lines.length; i++) await sock.next(isAck);
    await coding(sock, { event: "stop" });
    const summary = await sock.next(isSummary, 10_000);
    expect(summary.stats.testsFailed).toBe(2);
    expect(summary.insights[0]).toBe("Session ended with 2 failing tests");
    for (const m of [...insightsOf(sock), summary]) expectClean(m);
    sock.close();
  });
});

describe("the LLM", () => {
  it("a good answer is used (source llm), screened and completed by the heuristic", async () => {
    await llm.answer(GOOD);
    const { sock } = await codingDevice("c2:00:01");
    await coding(sock, { event: "log", text: vitestFail });
    const insight = await sock.next(isInsight, 10_000);
    expect(insight).toMatchObject({
      source: "llm",
      insights: ["The auth tests fail since the token change"],
      actions: ["Check how the token expiry is compared"],
      stats: { testsFailed: 2 },
    });
    expectClean(insight);
    sock.close();
  });

  it.each(["non_json", "truncated_json", "http500", "fenced"])("%s: still a specific insight", async (mode) => {
    await llm.answer(mode === "fenced" ? "not an insight at all" : GOOD);
    await llm.mode(mode);
    const { sock } = await codingDevice("c2:00:02");
    await coding(sock, { event: "log", text: tscBuild });
    const insight = await sock.next(isInsight, 10_000);
    expect(insight.source).toBe("heuristic");
    expect(insight.insights[0]).toBe("Build is red: 3 TypeScript errors in 3 files");
    expectClean(insight);
    expect(await llm.calls()).toBe(1);
    sock.close();
  });

  it("an answer with the right JSON but no usable lists gives way to the heuristic", async () => {
    await llm.answer(JSON.stringify({ insights: [], risks: "", actions: [{}], nextSteps: null }));
    const { sock } = await codingDevice("c2:00:03");
    await coding(sock, { event: "step", name: "deploy", status: "fail" });
    const insight = await sock.next(isInsight, 10_000);
    expect(insight).toMatchObject({ source: "heuristic", stats: { lastStep: "deploy", errorCount: 1 } });
    expect(insight.insights[0]).toBe("Step deploy failed");
    sock.close();
  });
});

describe("when insights come", () => {
  it("a burst of 100 log events: one debounced insight plus one at once per error", async () => {
    const { id, sock } = await codingDevice("c3:00:01");
    const calls0 = await llm.calls();
    const errorAt = new Set([30, 70]);
    for (let i = 0; i < 100; i++) {
      const text = errorAt.has(i) ? `Error: Cannot find module 'pkg-${i}'` : `compiled chunk ${i} of 100 (${i * 3} kB)`;
      sock.send({ type: "coding", event: "log", text });
    }
    for (let i = 0; i < 100; i++) expect(await sock.next(isAck)).toMatchObject({ status: "ok", event: "log" });
    // The last insight covers the whole burst; then nothing is pending or running.
    await eventually(
      async () => insightsOf(sock).at(-1)?.stats.errorCount,
      (n) => n === 2,
      1000,
    );
    const state = await eventually(
      () => runState(id),
      (s) => s.insight === "idle",
      1000,
    );
    expect(state).toMatchObject({ lines: 100, insight: "idle" });
    const got = insightsOf(sock);
    expect(got).toHaveLength(3);
    expect(got.map((m) => m.stats.errorCount)).toEqual([1, 2, 2]);
    expect((await llm.calls()) - calls0).toBe(3);
    const timer = await runInDurableObject(stubOf(id), (i) => i.session.timers.get("coding-insight"));
    expect(timer).toBeUndefined();
    sock.close();
  });

  it("a burst of ordinary lines alone gives exactly one insight", async () => {
    const { id, sock } = await codingDevice("c3:00:02");
    for (let i = 0; i < 100; i++) sock.send({ type: "coding", event: "log", text: `compiled chunk ${i} of 100` });
    for (let i = 0; i < 100; i++) await sock.next(isAck);
    expect(await runState(id)).toMatchObject({ insight: "pending" });
    const insight = await sock.next(isInsight, 10_000);
    expect(insight.stats).toMatchObject({ errorCount: 0, warnCount: 0 });
    await eventually(
      () => runState(id),
      (s) => s.insight === "idle",
      1000,
    );
    expect(insightsOf(sock)).toHaveLength(1);
    sock.close();
  });

  it("failed steps and phase changes trigger at once", async () => {
    const { id, sock } = await codingDevice("c3:00:03");
    await coding(sock, { event: "phase", phase: "test" });
    expect(await sock.next(isInsight, 10_000)).toMatchObject({ phase: "test" });
    await coding(sock, { event: "step", name: "build", status: "ok" });
    expect(await runState(id)).toMatchObject({ insight: "pending" }); // a passing step waits
    await coding(sock, { event: "step", name: "unit tests", status: "failed" });
    const failed = await sock.next((m) => isInsight(m) && m.stats.lastStep === "unit tests", 10_000);
    expect(failed.stats).toMatchObject({ buildSuccess: true, errorCount: 1 });
    sock.close();
  });

  it("the backup alarm produces the insight when the object was evicted before its debounce", async () => {
    const { id, sock } = await codingDevice("c3:00:04");
    await coding(sock, { event: "log", text: "webpack compiled 12 modules" });
    const timer = await runInDurableObject(stubOf(id), (i) => i.session.timers.get("coding-insight"));
    expect(timer).toBeDefined();
    await evictDurableObject(stubOf(id));
    // Due now, instead of waiting for it.
    await runInDurableObject(stubOf(id), (i) => i.session.timers.set("coding-insight", Date.now() - 1));
    await runDurableObjectAlarm(stubOf(id));
    const insight = await sock.next(isInsight, 10_000);
    expect(insight.stats).toMatchObject({ errorCount: 0 });
    expect(await runInDurableObject(stubOf(id), (i) => i.session.timers.get("coding-insight"))).toBeUndefined();
    sock.close();
  });
});

describe("stop, reconnect, clear", () => {
  it("stop sends the summary; a repeated stop resends it without another LLM call; the next line starts a new run", async () => {
    const { sock } = await codingDevice("c4:00:01");
    await coding(sock, { event: "step", name: "build", status: "ok" });
    await coding(sock, { event: "log", text: vitestFail });
    await sock.next(isInsight, 10_000);
    expect(await coding(sock, { event: "stop" })).toEqual({ type: "coding", status: "ok", event: "stop" });
    const summary = await sock.next(isSummary, 10_000);
    expect(summary).toMatchObject({ event: "summary", stats: { testsFailed: 2, buildSuccess: true, lastStep: "build" } });
    expect(summary.insights[0]).toBe("Session ended with 2 failing tests");
    expectClean(summary);
    const calls = await llm.calls();
    await coding(sock, { event: "stop" });
    expect(await sock.next(isSummary, 10_000)).toEqual(summary);
    expect(await llm.calls()).toBe(calls);

    await coding(sock, { event: "log", level: "error", text: "Error: Cannot find module 'left-pad'" });
    const fresh = await sock.next(isInsight, 10_000);
    expect(fresh.stats).toEqual({ errorCount: 1, warnCount: 0, lastStep: "", buildSuccess: null, testsFailed: 0 });
    sock.close();
  });

  it("the run survives a reconnect and an eviction; the new socket gets the latest insight", async () => {
    const { id, sock } = await codingDevice("c4:00:02");
    await coding(sock, { event: "phase", phase: "test" });
    await coding(sock, { event: "log", text: vitestFail });
    const before = (await eventually(
      async () => insightsOf(sock).at(-1),
      (m) => m?.stats.testsFailed === 2,
      1000,
    )) as Json;
    await eventually(
      () => runState(id),
      (s) => s.insight === "idle",
      1000,
    );
    sock.close();
    await sock.closed();
    await evictDurableObject(stubOf(id));

    const { sock: again } = await connectDevice(id);
    // The latest insight, as it was: nothing happened since.
    expect(await again.next(isInsight, 10_000)).toEqual(before);
    await coding(again, { event: "log", level: "warn", text: "warning: deprecated option --watch" });
    await coding(again, { event: "stop" });
    const summary = await again.next(isSummary, 10_000);
    expect(summary).toMatchObject({ phase: "test", stats: { testsFailed: 2, warnCount: before.stats.warnCount + 1, errorCount: before.stats.errorCount } });
    again.close();
  });

  it("clear empties history and stats", async () => {
    const { id, sock } = await codingDevice("c4:00:03");
    await coding(sock, { event: "log", text: tscBuild });
    await sock.next(isInsight, 10_000);
    expect(await coding(sock, { event: "clear" })).toEqual({ type: "coding", status: "ok", event: "clear" });
    expect(await runState(id)).toMatchObject({ lines: 0, stats: { errorCount: 0, buildSuccess: null } });
    await coding(sock, { event: "stop" });
    expect((await sock.next(isSummary, 10_000)).insights[0]).toBe("Session ended with nothing failing");
    sock.close();
  });
});
