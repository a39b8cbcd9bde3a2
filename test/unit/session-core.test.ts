import { describe, expect, it } from "vitest";
import { memoryDevice } from "../support/memory-runtime.ts";

// The session core outside workerd (node:sqlite, in-memory sockets, a test clock): proof that it is
// portable, and a fast check of its rules.

describe("portable session core", () => {
  it("answers hello, routes errors and keeps the mode in SQLite", async () => {
    const d = memoryDevice({ DOWNLINK_SAMPLE_RATE: "16000" });
    const c = await d.hello();
    expect(c.sent[0]).toMatchObject({ type: "hello", session_id: "s1", device_id: d.deviceId, audio_params: { sample_rate: 16000 } });
    // The firmware hello offers MCP: setup starts after the hello reply (PROTOCOL §13).
    expect(c.sent[1]).toMatchObject({ type: "mcp", payload: { jsonrpc: "2.0", id: 1, method: "initialize" } });
    await d.session.onText(c, "nope");
    await d.session.onText(c, JSON.stringify({ type: "mode", state: "start", mode: "coding" }));
    expect(c.sent.slice(2)).toEqual([
      { type: "error", code: "INVALID_JSON", message: "frame is not valid JSON" },
      { type: "mode", status: "ok", state: "start", mode: "coding" },
    ]);
    expect(d.session.mode).toBe("coding");
  });

  it("runs idle warning and timeout from the one alarm", async () => {
    const d = memoryDevice();
    const c = await d.hello();
    const start = d.clock.now;
    // The alarm also serves other timers (the fleet registry's lease renewal): run it until each event.
    const fireUntil = async (pred: (m: unknown) => boolean) => {
      for (let i = 0; i < 5 && !pred(c.sent.at(-1)); i++) await d.fireAlarm();
    };
    expect(d.alarm.at).toBeLessThanOrEqual(start + 585_000);
    await fireUntil((m) => (m as { event?: string })?.event === "timeout_warning");
    expect(c.sent.at(-1)).toEqual({ type: "system", event: "timeout_warning", seconds: 15 });
    expect(d.clock.now).toBe(start + 585_000);
    await fireUntil((m) => (m as { event?: string })?.event === "timeout");
    expect(c.sent.at(-1)).toEqual({ type: "system", event: "timeout" });
    expect(d.clock.now).toBe(start + 610_000);
    expect(c.closed).toEqual({ code: 4000, reason: "idle timeout" });
  });

  it("queues peer messages while offline and delivers them after hello", async () => {
    const d = memoryDevice();
    const env = {
      type: "peer" as const,
      event: "message" as const,
      id: "m1",
      from: "aa:bb:cc:00:00:09",
      fromName: "x",
      category: "chat",
      payload: { t: 1 },
      ts: 1,
    };
    expect(await d.session.rpc("peer.deliver", [env])).toBe("enqueued");
    expect(await d.session.rpc("peer.deliver", [env])).toBe("enqueued");
    expect(d.session.info()).toMatchObject({ deviceId: d.deviceId, online: false, inbox: 1 });
    const c = await d.hello();
    // The inbox right after the hello reply, then MCP setup (PROTOCOL §3, §13).
    expect(c.sent.map((m) => m.type)).toEqual(["hello", "peer", "mcp"]);
    expect(c.sent[1]).toMatchObject({ id: "m1", redelivery: true });
  });
});
