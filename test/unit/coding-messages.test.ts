import { describe, expect, it } from "vitest";
import { CodingAck, CodingIn, CodingInsightOut, stepOutcome } from "../../src/coding/messages.ts";
import { describeIssues } from "../../src/protocol/errors.ts";
import { detectLanguage } from "../../src/text/lang.ts";

// PROTOCOL §8 inbound coding messages and §10 SCHEMA_INVALID wording.

function parse(m: unknown) {
  return CodingIn.safeParse(m, { reportInput: true });
}

function why(m: unknown): string {
  const r = parse(m);
  expect(r.success).toBe(false);
  return r.success ? "" : describeIssues(r.error.issues);
}

describe("CodingIn", () => {
  it.each(["start", "stop", "clear"])("accepts %s with extra fields", (event) => {
    const r = parse({ type: "coding", event, extra: 1 });
    expect(r.success).toBe(true);
  });

  it("log: level defaults to info, aliases are mapped, case is ignored", () => {
    expect(parse({ type: "coding", event: "log", text: "x" }).data).toMatchObject({ level: "info", text: "x" });
    expect(parse({ type: "coding", event: "log", level: "WARNING", text: "x" }).data).toMatchObject({ level: "warn" });
    expect(parse({ type: "coding", event: "log", level: " Error ", text: "x" }).data).toMatchObject({ level: "error" });
    expect(parse({ type: "coding", event: "log", level: "fatal", text: "x" }).data).toMatchObject({ level: "error" });
  });

  it("log: text is only bounded by the frame limit; the history cuts lines later", () => {
    const text = `${"a".repeat(600)}\n`.repeat(100);
    const r = parse({ type: "coding", event: "log", text });
    expect(r.success).toBe(true);
    expect(r.data).toMatchObject({ text });
  });

  it("step: name trimmed, status lower-cased and free-form", () => {
    expect(parse({ type: "coding", event: "step", name: "  build ", status: "OK" }).data).toMatchObject({ name: "build", status: "ok" });
    expect(parse({ type: "coding", event: "step", name: "deploy", status: "running" }).success).toBe(true);
  });

  it("phase: non-empty label", () => {
    expect(parse({ type: "coding", event: "phase", phase: "test" }).data).toMatchObject({ phase: "test" });
  });

  it("names missing and invalid fields precisely", () => {
    expect(why({ type: "coding", event: "log" })).toBe("missing: text");
    expect(why({ type: "coding", event: "log", text: "x", level: "loud" })).toBe("invalid: level (must be one of info|warn|error)");
    for (const level of ["constructor", "__proto__", "toString"])
      expect(why({ type: "coding", event: "log", text: "x", level })).toBe("invalid: level (must be one of info|warn|error)");
    expect(why({ type: "coding", event: "log", text: 42 })).toBe("invalid: text (must be a string)");
    expect(why({ type: "coding", event: "step", name: "build" })).toBe("missing: status");
    expect(why({ type: "coding", event: "step" })).toBe("missing: name,status");
    expect(why({ type: "coding", event: "step", name: "   ", status: "ok" })).toBe("invalid: name (must be a non-empty string)");
    expect(why({ type: "coding", event: "phase" })).toBe("missing: phase");
    expect(why({ type: "coding", event: "phase", phase: "x".repeat(65) })).toBe("invalid: phase (must be at most 64 characters)");
    expect(why({ type: "coding", event: "explode" })).toBe("invalid: event (event must be one of start|stop|clear|log|step|phase)");
  });
});

describe("stepOutcome", () => {
  it.each([
    ["ok", "ok"],
    ["success", "ok"],
    ["passed", "ok"],
    ["成功", "ok"],
    ["fail", "fail"],
    ["FAILED", "fail"],
    ["error", "fail"],
    ["timed_out", "fail"],
    ["失败", "fail"],
    ["start", "other"],
    ["running", "other"],
    ["skipped", "other"],
  ])("%s → %s", (status, outcome) => {
    expect(stepOutcome(status)).toBe(outcome);
  });
});

describe("outbound shapes", () => {
  it("ack and insight validate; limits are enforced", () => {
    expect(CodingAck.safeParse({ type: "coding", status: "ok", event: "log" }).success).toBe(true);
    const msg = {
      type: "coding",
      event: "insight",
      phase: "test",
      insights: ["a"],
      risks: [],
      actions: ["b"],
      nextSteps: ["c"],
      stats: { errorCount: 1, warnCount: 0, lastStep: "", buildSuccess: null, testsFailed: 0 },
      source: "heuristic",
    };
    expect(CodingInsightOut.safeParse(msg).success).toBe(true);
    expect(CodingInsightOut.safeParse({ ...msg, risks: ["1", "2", "3", "4", "5"] }).success).toBe(false);
    expect(CodingInsightOut.safeParse({ ...msg, insights: ["x".repeat(141)] }).success).toBe(false);
  });
});

describe("detectLanguage (src/text/lang.ts)", () => {
  it.each([
    ["", "en"],
    ["npm test failed", "en"],
    ["运行 npm test 失败", "zh"],
    ["构建", "zh"],
    ["Alice said 你好 to the whole team today", "en"],
  ])("%j → %s", (text, lang) => {
    expect(detectLanguage(text)).toBe(lang);
  });
});
