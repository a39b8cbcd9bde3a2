import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codingCapability } from "../../src/coding/capability.ts";
import { BACKUP_SLACK_MS } from "../../src/coding/schedule.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../../scripts/fake-openai.ts";
import { memoryDevice, type MemoryConn, type MemoryDevice } from "../support/memory-runtime.ts";

// The coding capability on the portable session core (node:sqlite, a test clock, waits that return
// at once): the durable backup alarm is what produces debounced insights here, and a slow LLM
// against the real client and the fake OpenAI server gives way to the heuristic.

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ answer: JSON.stringify({ insights: ["From the model"], risks: [], actions: [], nextSteps: [] }) });
});
afterAll(() => fake.close());

async function codingMode(d: MemoryDevice): Promise<MemoryConn> {
  const c = await d.hello();
  await d.session.onText(c, JSON.stringify({ type: "mode", state: "start", mode: "coding" }));
  return c;
}

async function send(d: MemoryDevice, c: MemoryConn, msg: object): Promise<void> {
  await d.session.onText(c, JSON.stringify({ type: "coding", ...msg }));
  await d.settle();
}

const insights = (c: MemoryConn) => c.sent.filter((m) => m.type === "coding" && (m.event === "insight" || m.event === "summary"));

describe("coding on the portable core", () => {
  it("ordinary lines wait for the debounce; here the backup alarm brings the insight", async () => {
    const d = memoryDevice({}, { capabilities: [codingCapability()] });
    const c = await codingMode(d);
    await send(d, c, { event: "log", text: "vite v5.2.0 building for production..." });
    await send(d, c, { event: "log", text: "transforming 120 modules" });
    expect(c.sent.at(-1)).toEqual({ type: "coding", status: "ok", event: "log" });
    expect(insights(c)).toHaveLength(0);
    const t0 = d.clock.now;
    expect(d.alarm.at).toBe(t0 + d.settings.CODING_INSIGHT_DEBOUNCE_MS + BACKUP_SLACK_MS);
    await d.fireAlarm();
    expect(insights(c)).toHaveLength(1);
    expect(insights(c)[0]).toMatchObject({ event: "insight", source: "heuristic", stats: { errorCount: 0 } });
    expect(d.session.timers.get("coding-insight")).toBeUndefined();
  });

  it("an error needs no alarm; stop sends the summary", async () => {
    const d = memoryDevice({}, { capabilities: [codingCapability()] });
    const c = await codingMode(d);
    await send(d, c, { event: "log", level: "error", text: "Error: Cannot find module 'express'" });
    expect(insights(c)).toEqual([expect.objectContaining({ event: "insight", stats: expect.objectContaining({ errorCount: 1 }) })]);
    await send(d, c, { event: "stop" });
    expect(insights(c).at(-1)).toMatchObject({ event: "summary", actions: ["Install express (npm install express) or fix the import name"] });
  });

  it("a slow LLM gives way to the heuristic; a prompt one is used", async () => {
    fake.setMode("slow", { delayMs: 3000, times: 1 });
    const d = memoryDevice({ LLM_BASE_URL: fake.url }, { capabilities: [codingCapability({ timeoutMs: 100 })] });
    const c = await codingMode(d);
    await send(d, c, { event: "step", name: "test", status: "fail" });
    expect(insights(c).at(-1)).toMatchObject({ source: "heuristic" });
    expect(insights(c).at(-1)?.insights).toContain("Step test failed");
    await send(d, c, { event: "phase", phase: "deploy" });
    expect(insights(c).at(-1)).toMatchObject({ source: "llm", insights: ["From the model"], phase: "deploy" });
    const bodies = fake.requests.filter((r) => r.path === "/v1/chat/completions").map((r) => r.body as { max_tokens?: number; messages: unknown[] });
    expect(bodies).toHaveLength(2);
    for (const b of bodies) expect(b.max_tokens).toBe(512);
  });

  it("offline: no LLM call; the next hello gets a fresh insight", async () => {
    const d = memoryDevice({ LLM_BASE_URL: fake.url }, { capabilities: [codingCapability()] });
    const c = await codingMode(d);
    await send(d, c, { event: "log", text: "webpack 5.91.0 compiled successfully" });
    d.close(c);
    const calls = fake.callCount("/v1/chat/completions");
    await d.fireAlarm(); // the debounce ran out with nobody connected
    expect(insights(c)).toHaveLength(0);
    expect(fake.callCount("/v1/chat/completions")).toBe(calls);
    const again = await d.hello();
    expect(insights(again)).toEqual([expect.objectContaining({ event: "insight", source: "llm" })]);
    expect(fake.callCount("/v1/chat/completions")).toBe(calls + 1);
    // And once more, with nothing new: the same insight again, without the LLM.
    const third = await d.hello();
    expect(insights(third)).toEqual(insights(again));
    expect(fake.callCount("/v1/chat/completions")).toBe(calls + 1);
  });
});
