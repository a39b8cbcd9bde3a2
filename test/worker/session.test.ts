import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeviceSession } from "../../src/session/device-session.ts";
import { HelloOut } from "../../src/protocol/messages.ts";
import { FIRMWARE_HELLO, connectDevice, eventually, openSocket, tokenFor, uniqueId, type TestSocket } from "./helpers.ts";
import { voice } from "./services.ts";

function stubOf(id: string) {
  return env.DEVICE.get(env.DEVICE.idFromName(id));
}

/** Reaches the portable session inside the object, to move its clocks without waiting. */
async function withSession<R>(id: string, fn: (s: DeviceSession) => R): Promise<R> {
  return runInDurableObject(stubOf(id), (instance) => fn(instance.session));
}

async function backdate(id: string, ms: number, fields: Array<"lastActivity" | "lastSentAt"> = ["lastActivity"]) {
  // The idle alarm of a new socket is set just after the upgrade: wait for it first.
  await eventually(
    () => runInDurableObject(stubOf(id), (_i, state) => state.storage.getAlarm()),
    (a) => a !== null,
  );
  await withSession(id, (s) => {
    for (const c of s.sockets()) for (const f of fields) c.state[f] -= ms;
  });
}

async function pingPong(sock: TestSocket) {
  const pong = await sock.request({ type: "ping", n: 1 }, "pong");
  expect(pong.type).toBe("pong");
}

describe("hello", () => {
  it("answers the firmware hello (headers) with a conforming hello", async () => {
    const id = uniqueId();
    const { sock, hello } = await connectDevice(id);
    expect(HelloOut.parse(hello)).toBeTruthy();
    expect(hello).toMatchObject({
      type: "hello",
      transport: "websocket",
      device_id: id,
      audio_params: { format: "opus", sample_rate: 24000, channels: 1, frame_duration: 60 },
    });
    expect(sock.received[0]).toBe(hello);
    sock.close();
  });

  it("answers the browser test page (query parameters, bare hello)", async () => {
    const id = uniqueId();
    const token = await tokenFor(id, "web-test-client");
    const sock = await openSocket(null, {
      path: "/xiaozhi/v1/",
      token: null,
      query: { "device-id": id.toUpperCase(), "client-id": "web-test-client", authorization: `Bearer ${token}` },
    }).catch(() => null);
    expect(sock).not.toBeNull();
    const hello = await sock!.request({ type: "hello", version: 1, features: { mcp: true } });
    expect(HelloOut.parse(hello)).toMatchObject({ transport: "websocket", device_id: id });
    sock!.close();
  });

  it("keeps the session_id on a repeated hello and drops frames sent before hello", async () => {
    const id = uniqueId();
    const sock = await openSocket(id);
    sock.send({ type: "mode", state: "start", mode: "coding" });
    sock.send("not json");
    const first = await sock.request(FIRMWARE_HELLO);
    expect(sock.received[0]).toBe(first);
    const again = await sock.request(FIRMWARE_HELLO);
    expect(again.session_id).toBe(first.session_id);
    // The early mode start was dropped, so coding is not active.
    const end = await sock.request({ type: "mode", state: "end", mode: "coding" });
    expect(end).toMatchObject({ status: "ok", idempotent: true });
    sock.close();
  });

  it("uses the binary protocol of the Protocol-Version header and the hello's frame duration", async () => {
    const id = uniqueId();
    const sock = await openSocket(id, { headers: { "protocol-version": "3" } });
    const hello = await sock.request({ ...FIRMWARE_HELLO, version: 3, audio_params: { frame_duration: 20 } });
    expect(hello).toMatchObject({ version: 3, audio_params: { frame_duration: 20 } });
    sock.close();
  });
});

// Session rules that need no workerd (error replies, modes, idle and heartbeat plans, turns) run on
// the in-memory runtime: test/support/session-scenarios.ts. These need the real runtime.

describe("errors keep the socket open", () => {
  it("replies with the §10 codes over a real socket", async () => {
    const { sock } = await connectDevice(uniqueId());
    sock.send("{not json");
    expect(await sock.next((m) => m.type === "error")).toMatchObject({ code: "INVALID_JSON" });
    sock.send("[1,2]");
    expect(await sock.next((m) => m.type === "error")).toMatchObject({ code: "INVALID_JSON" });
    sock.send({ hello: 1 });
    expect(await sock.next((m) => m.type === "error")).toMatchObject({ code: "UNKNOWN_TYPE" });
    sock.send({ type: "teleport" });
    expect(await sock.next((m) => m.type === "error")).toMatchObject({ code: "UNKNOWN_TYPE", message: expect.stringContaining("teleport") });
    sock.send({ type: "toString" });
    expect(await sock.next((m) => m.type === "error")).toMatchObject({ code: "UNKNOWN_TYPE" });
    sock.send(JSON.stringify({ type: "ping", pad: "x".repeat(64 * 1024) }));
    expect(await sock.next((m) => m.type === "error")).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    // Multi-byte text: 22k CJK characters are 66 KB of UTF-8 though only 22k UTF-16 units.
    sock.send(JSON.stringify({ type: "ping", pad: "会".repeat(22_000) }));
    expect(await sock.next((m) => m.type === "error")).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    await pingPong(sock);
    sock.close();
  });

  it("drops malformed binary frames for v2 and v3 with one INVALID_FRAME notice", async () => {
    for (const version of [2, 3] as const) {
      const id = uniqueId();
      const sock = await openSocket(id, { headers: { "protocol-version": String(version) } });
      await sock.request({ ...FIRMWARE_HELLO, version });
      const bad = new Uint8Array(version === 2 ? 20 : 8);
      new DataView(bad.buffer).setUint16(version === 2 ? 14 : 2, 999); // header claims 999 payload bytes
      sock.ws.send(bad);
      sock.ws.send(bad);
      sock.ws.send(new Uint8Array(2)); // shorter than any header
      const notice = await sock.next((m) => m.type === "error");
      expect(notice).toMatchObject({ code: "INVALID_FRAME", dropped: 1 });
      expect(notice.message).toContain(`v${version}`);
      await pingPong(sock);
      const counted = await withSession(id, (s) => s.sockets()[0]!.state.badFrames);
      expect(counted).toBe(3);
      // Only one notice per interval.
      expect(sock.received.filter((m) => m.code === "INVALID_FRAME")).toHaveLength(1);
      sock.close();
    }
  });

  it("accepts well-formed frames of every binary version and end-of-speech", async () => {
    const id = uniqueId();
    const sock = await openSocket(id, { headers: { "protocol-version": "2" } });
    await sock.request({ ...FIRMWARE_HELLO, version: 2 });
    const frame = new Uint8Array(16 + 3);
    const v = new DataView(frame.buffer);
    v.setUint16(0, 2);
    v.setUint32(12, 3);
    sock.ws.send(frame);
    sock.ws.send(new Uint8Array(0));
    await pingPong(sock);
    const st = await withSession(id, (s) => s.sockets()[0]!.state);
    expect(st).toMatchObject({ audioFrames: 1, badFrames: 0 });
    expect(sock.received.some((m) => m.type === "error")).toBe(false);
    sock.close();
  });

  it("never answers stock firmware messages with an error", async () => {
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "start", mode: "auto" });
    sock.send({ type: "listen", state: "stop" });
    sock.send({ type: "listen", state: "detect", text: "你好小智" });
    sock.send({ type: "mcp", payload: { jsonrpc: "2.0", id: 1, result: {} } });
    sock.send({ type: "iot", descriptors: [] });
    sock.send({ type: "abort", reason: "wake_word_detected" });
    await sock.next((m) => m.type === "tts" && m.state === "stop");
    await pingPong(sock);
    // An alert naming a provider that is not configured is §5's answer, not an error reply.
    expect(sock.received.filter((m) => m.type === "error" || (m.status === "error" && m.type !== "alert"))).toEqual([]);
    sock.close();
  });

  it("answers an utterance whose LLM fails with an alert, not an error", async () => {
    await voice.fail("llm", { times: 1 });
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "detect", text: "what is the weather" });
    expect(await sock.next((m) => m.type === "alert", 10_000)).toMatchObject({ status: "error", emotion: "sad" });
    expect(sock.received.filter((m) => m.type === "error")).toEqual([]);
    sock.close();
  });
});

describe("the error boundary around background work", () => {
  afterEach(() => vi.restoreAllMocks());

  it("deferred and delayed work that throws is logged once with the device id; the session goes on", async () => {
    const errors = vi.spyOn(console, "error");
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    await withSession(id, (s) => {
      s.defer(Promise.reject(new Error("deferred boom")));
      s.later(() => {
        throw new Error("later boom");
      });
    });
    const failed = () =>
      errors.mock.calls
        .map((c) => String(c[0]))
        .filter((l) => l.includes("object.entry_failed"))
        .map((l) => JSON.parse(l));
    const lines = await eventually(
      async () => failed(),
      (l) => l.length >= 2,
    );
    expect(lines).toEqual([
      expect.objectContaining({ level: "error", entry: "defer", deviceId: id }),
      expect.objectContaining({ level: "error", entry: "later", deviceId: id }),
    ]);
    expect(JSON.stringify(lines)).toContain("deferred boom");
    await pingPong(sock);
    expect(await stubOf(id).status()).toMatchObject({ online: true });
    sock.close();
  });
});

describe("ping", () => {
  it("answers ping and keepalive with pong", async () => {
    const { sock } = await connectDevice(uniqueId());
    expect(await sock.request({ type: "keepalive" }, "pong")).toMatchObject({ type: "pong" });
    expect(await sock.request({ type: "ping" }, "pong")).toEqual({ type: "pong" }); // runtime auto-response
    expect(await sock.request({ type: "ping", seq: 2 }, "pong")).toMatchObject({ ts: expect.any(Number) });
    sock.close();
  });
});

describe("modes", () => {
  it("keeps mode and socket state across eviction", async () => {
    const id = uniqueId();
    const { sock, hello } = await connectDevice(id);
    await sock.request({ type: "mode", state: "start", mode: "meeting" });
    await evictDurableObject(stubOf(id));
    const again = await sock.request(FIRMWARE_HELLO);
    expect(again.session_id).toBe(hello.session_id);
    expect(await sock.request({ type: "mode", state: "start", mode: "meeting" })).toMatchObject({ idempotent: true });
    sock.close();
  });
});

describe("duplicate connection handover", () => {
  it("serves the new socket, tells the old one, closes it with 4009", async () => {
    const id = uniqueId();
    const first = await connectDevice(id);
    const second = await connectDevice(id);
    expect(second.hello.session_id).not.toBe(first.hello.session_id);
    const notice = await first.sock.next((m) => m.type === "system");
    expect(notice).toEqual({
      type: "system",
      event: "replaced",
      message: "a new connection for this device took over; this one closes in 1.5 s",
    });
    // The old socket still works during the overlap: nothing it sends is lost.
    expect(await first.sock.request({ type: "mode", state: "start", mode: "coding" })).toMatchObject({ status: "ok" });
    // Pushes go to the new socket.
    const pushed = await withSession(id, (s) => s.push({ type: "system", event: "heartbeat", ts: 1 }));
    expect(pushed).toBe(true);
    expect(await second.sock.next((m) => m.type === "system")).toMatchObject({ event: "heartbeat" });
    const closed = await first.sock.closed();
    expect(closed.code).toBe(4009);
    await pingPong(second.sock);
    expect(await second.sock.request({ type: "mode", state: "start", mode: "coding" })).toMatchObject({ idempotent: true });
    second.sock.close();
  });
});

describe("idle timeout on alarms", () => {
  // IDLE_TIMEOUT_S is 60 in the test configuration, IDLE_WARNING_S 15.
  it("warns, then closes with 4000 after the grace", async () => {
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    await backdate(id, 46_000);
    expect(await runDurableObjectAlarm(stubOf(id))).toBe(true);
    expect(await sock.next((m) => m.type === "system")).toEqual({ type: "system", event: "timeout_warning", seconds: 15 });
    await backdate(id, 30_000);
    await runDurableObjectAlarm(stubOf(id));
    expect(await sock.next((m) => m.type === "system")).toEqual({ type: "system", event: "timeout" });
    expect(await sock.closed()).toEqual({ code: 4000, reason: "idle timeout" });
  });

  it("counts pings answered by the runtime as activity", async () => {
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    await backdate(id, 65_000);
    expect(await sock.request({ type: "ping" }, "pong")).toEqual({ type: "pong" });
    await runDurableObjectAlarm(stubOf(id));
    await pingPong(sock);
    expect(sock.received.some((m) => m.type === "system")).toBe(false);
    sock.close();
  });
});
