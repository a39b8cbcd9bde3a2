import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CodingIn } from "../../src/coding/messages.ts";
import { formatInsight, planReplay } from "../../scripts/lib/coding-replay.ts";
import { parseSimCommand } from "../../scripts/lib/sim-commands.ts";

// The device simulator's coding mode: a log file as `coding` events (--coding-log), insights as
// readable lines, and the interactive `coding` commands.

describe("planReplay", () => {
  it("batches log lines and turns ::step / ::phase markers into events", () => {
    const text = ["::phase install", "npm ci", "added 812 packages", "::step install ok", "::phase build", "a", "b", "c", "::step build fail", ""].join("\n");
    const plan = planReplay(text, 2);
    expect(plan.lines).toBe(5);
    expect(plan.events).toEqual([
      { type: "coding", event: "phase", phase: "install" },
      { type: "coding", event: "log", text: "npm ci\nadded 812 packages" },
      { type: "coding", event: "step", name: "install", status: "ok" },
      { type: "coding", event: "phase", phase: "build" },
      { type: "coding", event: "log", text: "a\nb" },
      { type: "coding", event: "log", text: "c" },
      { type: "coding", event: "step", name: "build", status: "fail" },
    ]);
    for (const e of plan.events) expect(CodingIn.safeParse(e).success).toBe(true);
  });

  it("a real fixture: every line sent once, each message well under the frame limit", () => {
    const text = readFileSync(new URL("../fixtures/coding/vitest-fail.txt", import.meta.url), "utf8");
    const plan = planReplay(text, 10);
    const sent = plan.events.map((e) => String(e.text)).join("\n");
    expect(sent).toBe(text.replace(/\n$/, ""));
    expect(Math.max(...plan.events.map((e) => JSON.stringify(e).length))).toBeLessThan(64 * 1024);
  });
});

describe("formatInsight", () => {
  it("a header with the stats, then each list's items under its label", () => {
    const lines = formatInsight({
      type: "coding",
      event: "summary",
      phase: "test",
      insights: ["Session ended with 2 failing tests", "2 vitest tests failing in auth.test.ts"],
      risks: ["Tests are red"],
      actions: ["Fix the auth test"],
      nextSteps: ["Re-run: npx vitest run src/auth/auth.test.ts"],
      stats: { errorCount: 6, warnCount: 0, lastStep: "test", buildSuccess: true, testsFailed: 2 },
      source: "heuristic",
    });
    expect(lines).toEqual([
      '* summary (heuristic) · phase "test" · errors 6 · warnings 0 · build ok · tests failed 2 · last step "test"',
      "    insights    Session ended with 2 failing tests",
      "                2 vitest tests failing in auth.test.ts",
      "    risks       Tests are red",
      "    actions     Fix the auth test",
      "    next steps  Re-run: npx vitest run src/auth/auth.test.ts",
    ]);
    expect(formatInsight({ type: "coding", status: "ok", event: "log" })).toBeNull();
  });
});

describe("interactive coding commands", () => {
  it("map to §8 messages", () => {
    expect(parseSimCommand("coding stop")).toEqual({ kind: "json", msg: { type: "coding", event: "stop" } });
    expect(parseSimCommand("coding log npm ERR! code ECONNRESET")).toEqual({
      kind: "json",
      msg: { type: "coding", event: "log", text: "npm ERR! code ECONNRESET" },
    });
    expect(parseSimCommand("coding log warn deprecated option")).toEqual({
      kind: "json",
      msg: { type: "coding", event: "log", level: "warn", text: "deprecated option" },
    });
    expect(parseSimCommand("coding step unit tests fail")).toEqual({
      kind: "json",
      msg: { type: "coding", event: "step", name: "unit tests", status: "fail" },
    });
    expect(parseSimCommand("coding phase test")).toEqual({ kind: "json", msg: { type: "coding", event: "phase", phase: "test" } });
    for (const bad of ["coding", "coding log", "coding step build", "coding phase", "coding explode"]) expect(parseSimCommand(bad).kind).toBe("error");
  });
});
