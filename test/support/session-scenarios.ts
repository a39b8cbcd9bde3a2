import assert from "node:assert/strict";
import { deviceCapabilities } from "../../src/capabilities.ts";
import { onLogRecord } from "../../src/log.ts";
import type { PeerEnvelope } from "../../src/peer/messages.ts";
import { encodeFrame } from "../../src/protocol/binary.ts";
import { attached, capability, route, type Capability, type RuntimeSlot } from "../../src/session/capability.ts";
import { buildRegistry } from "../../src/session/registry.ts";
import { AlertError } from "../../src/session/turns.ts";
import { z } from "zod";
import { memoryDevice, unwiredServices, type MemoryConn, type MemoryDevice } from "./memory-runtime.ts";

// Session behaviour that needs no workerd, as plain async functions that throw on failure, so the
// same scenarios run under vitest (test/unit/session-scenarios.test.ts) and Deno
// (test/deno/core.test.ts). Worker tests keep what needs the real runtime: sockets, auto-answered
// pings, eviction, alarms of the real storage.

const text = (d: MemoryDevice, c: MemoryConn, msg: unknown) => d.session.onText(c, typeof msg === "string" ? msg : JSON.stringify(msg));
const last = (c: MemoryConn) => c.sent.at(-1);

/** A capability for the host's own mechanisms: a turn that waits until released, runtime state. */
function probe() {
  const disposed: string[] = [];
  const slot: RuntimeSlot<{ conn: string; uses: number }> = {
    name: "probe",
    create: (_s, conn) => ({ conn: conn.state.id, uses: 0 }),
    dispose: (v) => disposed.push(v.conn),
  };
  const release: Array<() => void> = [];
  const cap = capability({
    name: "probe",
    routes: {
      probe: route(z.looseObject({ type: z.literal("probe"), op: z.enum(["turn", "fail", "alert", "use"]) }), (msg, ctx) => {
        if (msg.op === "use") {
          ctx.session.runtime(ctx.conn, slot).uses++;
          return;
        }
        ctx.session.turns.start(ctx.conn, "probe", async (turn) => {
          if (msg.op === "fail") throw new Error("boom");
          if (msg.op === "alert") throw new AlertError("TTS is not configured");
          await new Promise<void>((resolve, reject) => {
            release.push(resolve);
            turn.signal.addEventListener("abort", () => reject(turn.signal.reason));
          });
          ctx.reply({ type: "probe", done: turn.id });
        });
      }),
    },
  });
  return { cap, slot, disposed, release };
}

export const scenarios: Record<string, () => Promise<void>> = {
  async "hello: conforming reply, same session_id on a repeated hello, frames before it dropped"() {
    const d = memoryDevice({ DOWNLINK_SAMPLE_RATE: "16000" });
    const c = d.connect();
    await text(d, c, { type: "ping", n: 1 });
    await text(d, c, "garbage");
    assert.equal(c.sent.length, 0);
    await d.hello(c);
    assert.deepEqual(c.sent[0], {
      type: "hello",
      version: 1,
      transport: "websocket",
      session_id: "s1",
      device_id: d.deviceId,
      audio_params: { format: "opus", sample_rate: 16000, channels: 1, frame_duration: 60 },
    });
    await d.hello(c, { type: "hello", version: 3, audio_params: { frame_duration: 20 } });
    assert.equal(last(c)?.session_id, "s1");
    assert.equal(c.state.binary, 1, "a repeated hello changes nothing");
  },

  async "frames before the hello are logged once per socket, their count when it closes"() {
    const records: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
    onLogRecord((level, event, fields) => void records.push({ level, event, fields }));
    try {
      const d = memoryDevice();
      for (let n = 0; n < 2; n++) {
        const conn = d.connect();
        for (let i = 0; i < 300; i++) await text(d, conn, i % 2 ? "garbage" : { type: "ping", n: i });
        assert.equal(conn.sent.length, 0);
        d.close(conn);
      }
      const early = records.filter((r) => r.event === "session.before_hello");
      assert.equal(early.length, 2, "one line per socket, not one per frame");
      assert.ok(early.every((r) => r.level === "warn"));
      const closed = records.filter((r) => r.event === "device.disconnected");
      assert.deepEqual(
        closed.map((r) => r.fields.framesBeforeHello),
        [300, 300],
      );
      assert.ok(!records.some((r) => r.level === "error"));
    } finally {
      onLogRecord(null);
    }
  },

  async "errors of §10 keep the socket open and name the fields"() {
    const d = memoryDevice();
    const c = await d.hello();
    const cases: Array<[unknown, Record<string, unknown>]> = [
      ["{", { type: "error", code: "INVALID_JSON", message: "frame is not valid JSON" }],
      ["[1,2]", { type: "error", code: "INVALID_JSON", message: "frame must be a JSON object" }],
      [{ no: "type" }, { type: "error", code: "UNKNOWN_TYPE", message: "message has no type" }],
      [{ type: "teleport" }, { type: "error", code: "UNKNOWN_TYPE", message: 'unknown message type "teleport"' }],
      [{ type: "constructor" }, { type: "error", code: "UNKNOWN_TYPE", message: 'unknown message type "constructor"' }],
      [{ type: "__proto__" }, { type: "error", code: "UNKNOWN_TYPE", message: 'unknown message type "__proto__"' }],
      [
        { type: "mode", state: "start" },
        { type: "mode", status: "error", code: "SCHEMA_INVALID", message: "missing: mode" },
      ],
      [
        { type: "workflow", event: "assign" },
        { type: "workflow", status: "error", code: "SCHEMA_INVALID", message: "missing: id" },
      ],
    ];
    for (const [msg, reply] of cases) {
      await text(d, c, msg);
      assert.deepEqual(last(c), reply, JSON.stringify(msg));
    }
    await text(d, c, { type: "mode", state: "begin", mode: "party" });
    assert.match(String(last(c)?.message), /invalid: .*state.*mode|invalid: .*mode.*state/);
    await text(d, c, { type: "listen", state: "sing" });
    assert.equal(last(c)?.code, "SCHEMA_INVALID");
    assert.match(String(last(c)?.message), /state/);
    await text(d, c, JSON.stringify({ type: "peer", to: ["x"], payload: { big: "x".repeat(70 * 1024) } }));
    assert.equal(last(c)?.code, "MESSAGE_TOO_LARGE");
    // Multi-byte text: 22k CJK characters are 66 KB of UTF-8 though only 22k UTF-16 units.
    await text(d, c, JSON.stringify({ type: "ping", pad: "会".repeat(22_000) }));
    assert.equal(last(c)?.code, "MESSAGE_TOO_LARGE");
    assert.equal(c.closed, null);
  },

  async "the text rate limit covers JSON carried in binary frames"() {
    const d = memoryDevice();
    const c = await d.hello(undefined, { type: "hello", version: 3 });
    const frame = (msg: object) => {
      const body = new TextEncoder().encode(JSON.stringify(msg));
      const out = new Uint8Array(4 + body.length);
      out[0] = 1;
      new DataView(out.buffer).setUint16(2, body.length);
      out.set(body, 4);
      return out.buffer;
    };
    for (let i = 0; i < 260; i++) d.session.onBinary(c, frame({ type: "keepalive" }));
    await d.settle();
    // The burst is 200 frames and the clock stands still: the hello took one, 199 pongs, 61 refusals.
    assert.equal(c.of("pong").length, 199);
    assert.equal(c.sent.filter((m) => m.code === "RATE_LIMITED").length, 61);
  },

  async "over the rate limit stock messages are dropped silently and counted, others get RATE_LIMITED"() {
    const d = memoryDevice();
    const c = await d.hello();
    for (let i = 0; i < 199; i++) await text(d, c, { type: "keepalive" });
    const before = c.sent.length;
    await text(d, c, { type: "listen", state: "detect", text: "你好小智" });
    await text(d, c, { type: "mcp", payload: { jsonrpc: "2.0", id: 1, result: {} } });
    await text(d, c, { type: "abort" });
    assert.equal(c.sent.length, before, "stock firmware messages are never answered with an error");
    await text(d, c, { type: "workflow", event: "list" });
    await text(d, c, "not json");
    assert.deepEqual(
      c.sent.slice(before).map((m) => m.code),
      ["RATE_LIMITED", "RATE_LIMITED"],
    );
    assert.equal(last(c)?.retryAfterMs, 1000);
    d.close(c);
  },

  async "JSON nested deeper than 32 levels is SCHEMA_INVALID, and ids that name Object.prototype are ordinary"() {
    for (const deviceId of ["constructor", "__proto__", "prototype", "tostring"]) {
      const d = memoryDevice({ DEVICE_GROUPS: JSON.stringify({ other: "g" }) }, { deviceId });
      const c = await d.hello();
      assert.equal(c.sent[0]?.device_id, deviceId);
      assert.equal(d.session.groupKey, deviceId.slice(0, 8));
      assert.deepEqual(d.session.info(), { deviceId, online: true, lastSeen: d.clock.now, mode: null, groupKey: deviceId.slice(0, 8), inbox: 0 });
      const deep = `{"type":"peer","to":["x"],"payload":${'{"a":'.repeat(40)}1${"}".repeat(40)}}`;
      await text(d, c, deep);
      assert.deepEqual(last(c), { type: "peer", status: "error", code: "SCHEMA_INVALID", message: "payload too deep" });
      await text(d, c, `{"type":"mode","state":"start","mode":"coding","x":${"[".repeat(5000)}${"]".repeat(5000)}}`);
      assert.deepEqual(last(c), { type: "mode", status: "error", code: "SCHEMA_INVALID", message: "payload too deep" });
    }
  },

  async "malformed binary frames are dropped, counted, and answered at most once per 5 s"() {
    const d = memoryDevice();
    const c = await d.hello(d.connect({ headerVersion: 2 }));
    for (let i = 0; i < 10; i++) d.session.onBinary(c, new Uint8Array([0, 2, 0, 0, 9]).buffer);
    assert.equal(c.state.badFrames, 10);
    assert.equal(c.of("error").length, 1);
    assert.match(String(c.of("error")[0]?.message), /shorter than its 16-byte header/);
    d.clock.now += 5000;
    d.session.onBinary(c, new Uint8Array(3).buffer);
    assert.deepEqual(
      c.of("error").map((m) => m.dropped),
      [1, 11],
    );
    d.session.onBinary(c, encodeFrame(2, new Uint8Array([1, 2, 3])).slice().buffer);
    d.session.onBinary(c, new ArrayBuffer(0));
    assert.equal(c.state.audioFrames, 1);
    assert.equal(c.of("error").length, 2);
  },

  async "modes: start, idempotent repeat, switch, persisted for the next socket"() {
    const d = memoryDevice();
    const c = await d.hello();
    await text(d, c, { type: "mode", state: "start", mode: "coding" });
    await text(d, c, { type: "mode", state: "start", mode: "coding" });
    assert.deepEqual(last(c), { type: "mode", status: "ok", state: "start", mode: "coding", idempotent: true });
    await text(d, c, { type: "mode", state: "end", mode: "meeting" });
    assert.deepEqual(last(c), { type: "mode", status: "ok", state: "end", mode: "meeting", idempotent: true });
    d.close(c);
    const again = await d.hello();
    await text(d, again, { type: "mode", state: "start", mode: "coding" });
    assert.equal(last(again)?.idempotent, true);
    await text(d, again, { type: "mode", state: "end", mode: "coding" });
    assert.equal(d.session.mode, null);
  },

  async "a second socket takes over: the old one is told, then closed with 4009 by the alarm"() {
    const d = memoryDevice();
    const first = await d.hello();
    const second = await d.hello(d.connect());
    assert.deepEqual(last(first), { type: "system", event: "replaced", message: "a new connection for this device took over; this one closes in 1.5 s" });
    assert.equal(d.session.current(), second);
    assert.equal(d.alarm.at, d.clock.now + 1500);
    await d.fireAlarm();
    assert.deepEqual(first.closed, { code: 4009, reason: "replaced by a new connection" });
    assert.equal(second.closed, null);
  },

  async "idle: any frame resets the clock; long modes triple it and beat every minute"() {
    const d = memoryDevice({ IDLE_TIMEOUT_S: "60" });
    const c = await d.hello();
    d.clock.now += 40_000;
    await text(d, c, { type: "listen", state: "start", mode: "auto" });
    d.session.reschedule();
    assert.equal(d.alarm.at, d.clock.now + 45_000);
    await text(d, c, { type: "mode", state: "start", mode: "meeting" });
    d.session.reschedule();
    assert.equal(d.alarm.at, d.clock.now + 5000, "the transcript push comes first");
    d.clock.now += 60_000;
    await d.session.onAlarm();
    assert.ok(c.sent.some((m) => m.type === "system" && m.event === "heartbeat"));
    assert.equal(c.closed, null, "×3 limit in meeting mode");
  },

  async "turns run detached and are cancelled by abort, a newer turn, or the socket closing"() {
    const p = probe();
    const d = memoryDevice({}, { capabilities: [...deviceCapabilities(unwiredServices()), p.cap] });
    const c = await d.hello();
    await text(d, c, { type: "probe", op: "turn" });
    assert.ok(d.session.turns.current(c), "the frame handler returned while the turn runs");
    assert.ok(d.alarm.at !== null && d.alarm.at <= d.clock.now + 30_000, "a running turn keeps the alarm within 30 s");
    await text(d, c, { type: "abort" });
    await d.settle();
    assert.deepEqual(last(c), { type: "tts", state: "stop", session_id: "s1" });
    assert.equal(d.session.turns.current(c), undefined);

    await text(d, c, { type: "probe", op: "turn" });
    const firstTurn = d.session.turns.current(c)?.id;
    await text(d, c, { type: "probe", op: "turn" });
    assert.notEqual(d.session.turns.current(c)?.id, firstTurn, "a newer turn replaces the running one");
    p.release.at(-1)?.();
    await d.settle();
    assert.deepEqual(c.of("probe"), [{ type: "probe", done: firstTurn! + 1 }]);

    await text(d, c, { type: "probe", op: "turn" });
    d.close(c);
    await d.settle();
    assert.equal(d.session.turns.busy, false);
    assert.equal(c.of("probe").length, 1, "a turn never outlives its socket");
  },

  async "a turn's failure is an alert for provider trouble, else INTERNAL_ERROR, and the session goes on"() {
    const p = probe();
    const d = memoryDevice({}, { capabilities: [...deviceCapabilities(unwiredServices()), p.cap] });
    const c = await d.hello();
    await text(d, c, { type: "probe", op: "alert" });
    await d.settle();
    assert.deepEqual(last(c), { type: "alert", status: "error", message: "TTS is not configured", emotion: "sad", session_id: "s1" });
    await text(d, c, { type: "probe", op: "fail" });
    await d.settle();
    assert.equal(last(c)?.code, "INTERNAL_ERROR");
    await text(d, c, { type: "keepalive" });
    assert.equal(last(c)?.type, "pong");
  },

  async "per-connection runtime state is created lazily, kept per socket, disposed on close"() {
    const p = probe();
    const d = memoryDevice({}, { capabilities: [...deviceCapabilities(unwiredServices()), p.cap] });
    const a = await d.hello();
    await text(d, a, { type: "probe", op: "use" });
    await text(d, a, { type: "probe", op: "use" });
    assert.equal(d.session.runtime(a, p.slot).uses, 2);
    d.close(a);
    assert.deepEqual(p.disposed, ["c1"]);
    assert.ok(!String(a.saved).includes("uses"), "runtime state is never serialised");
  },

  async "the attachment stays under 2 KiB with every capability active"() {
    const tasks = { snapshot: { type: "workflow" as const, event: "update" as const, groupKey: "aa:bb:cc", tasks: [] }, version: 1 };
    const d = memoryDevice(
      {},
      {
        services: {
          workflow: {
            apply: async () => ({ result: { ok: true, changed: false, ids: [], version: 1 }, ...tasks }),
            snapshot: async () => tasks,
            get: async () => [],
          },
        },
      },
    );
    const c = await d.hello();
    await text(d, c, { type: "mode", state: "start", mode: "working" });
    await text(d, c, { type: "listen", state: "start", mode: "realtime" });
    await text(d, c, { type: "mode", state: "start", mode: "meeting" });
    d.session.onBinary(c, new Uint8Array(200).buffer);
    await d.settle();
    c.save();
    assert.ok(c.saved !== null && new TextEncoder().encode(c.saved).byteLength < 2048, `attachment of ${c.saved?.length} bytes`);
    assert.deepEqual(Object.keys(c.state.ext).sort(), ["mcp", "peer", "workflow"]);
  },

  async "capabilities cannot claim the same message type, timer prefix or RPC twice"() {
    const a: Capability = { name: "a", routes: { thing: route(z.object({}), () => {}) }, rpc: { go: () => 1 } };
    const core = { routes: {}, fallbacks: { mcp: route(z.object({}), () => {}) }, migrations: [] };
    assert.throws(() => buildRegistry(core, [a, { name: "b", routes: { thing: route(z.object({}), () => {}) } }]), /claims message type "thing"/);
    assert.throws(
      () =>
        buildRegistry(core, [
          { name: "t", timers: { x: () => {} } },
          { name: "u", timers: { x: () => {} } },
        ]),
      /timer prefix "x"/,
    );
    const ok = buildRegistry(core, [a, { name: "m", routes: { mcp: route(z.object({}), () => {}) } }]);
    assert.deepEqual(Object.keys(ok.rpc), ["a.go"]);
    assert.ok(ok.routes.mcp !== core.fallbacks.mcp, "a capability may take a stock fallback");
  },

  async "peer messages queue while offline, drain after hello, and the inbox shows in info"() {
    const d = memoryDevice();
    const env: PeerEnvelope = {
      type: "peer",
      event: "message",
      id: "m1",
      from: "aa:bb:cc:00:00:09",
      fromName: "x",
      category: "chat",
      payload: { t: 1 },
      ts: 1,
    };
    assert.equal(await d.session.rpc("peer.deliver", [env]), "enqueued");
    assert.equal(await d.session.rpc("peer.deliver", [env]), "enqueued", "a retried delivery is not queued twice");
    assert.equal(d.session.info().inbox, 1);
    const c = await d.hello();
    // The inbox right after the hello reply, then MCP setup (PROTOCOL §3, §13).
    assert.deepEqual(
      c.sent.map((m) => m.type),
      ["hello", "peer", "mcp"],
    );
    assert.equal(c.sent[1]?.redelivery, true);
    assert.equal(attached(c, "peer", () => ({ drained: false })).drained, true);
    assert.equal(await d.session.rpc("peer.deliver", [{ ...env, id: "m2" }]), "delivered");
  },

  async "goodbye closes normally; an unknown RPC is refused"() {
    const d = memoryDevice();
    const c = await d.hello();
    await text(d, c, { type: "goodbye" });
    assert.deepEqual(c.closed, { code: 1000, reason: "goodbye" });
    await assert.rejects(d.session.rpc("peer.nope", []), /no RPC "peer.nope"/);
    await assert.rejects(d.session.rpc("__proto__", []), /no RPC/);
  },
};
