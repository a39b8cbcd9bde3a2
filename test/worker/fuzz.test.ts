import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connectDevice, openSocket, uniqueId, type Json, type TestSocket } from "./helpers.ts";

// Hostile frames against the real Worker in workerd (PROTOCOL §10): thousands of generated
// malformed frames over 25 authenticated sockets, each answered with the error §10 names, no socket
// closed, no uncaught exception or error-level log line, and a bystander device that keeps
// answering throughout. Generation is property-based (fast-check) with a fixed seed, so a failure
// names a frame that can be replayed.

type Expect = { type: string; code: string; message?: string } | { receipt: true };
interface Case {
  frame: string;
  expect: Expect;
}

const KNOWN = new Set(["hello", "ping", "keepalive", "listen", "abort", "goodbye", "mode", "mcp", "iot", "peer", "workflow", "meeting", "coding"]);
const err = (code: string, message?: string): Expect => ({ type: "error", code, ...(message ? { message } : {}) });
const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

const notJson = fc.string({ minLength: 1, maxLength: 200 }).filter((s) => {
  try {
    JSON.parse(s);
    return false;
  } catch {
    return true;
  }
});
const scalar = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.string({ maxLength: 20 }));
const unknownType = fc
  .oneof(fc.string({ minLength: 1, maxLength: 80 }), fc.constantFrom("constructor", "__proto__", "toString", "hasOwnProperty", "prototype", "valueOf", "HELLO"))
  .filter((t) => !KNOWN.has(t));
const junk = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => k !== "type" && k !== "__proto__"),
  scalar,
  { maxKeys: 4 },
);

/** Known types with a field of the wrong shape: SCHEMA_INVALID of that type. */
const badSchema = fc.oneof(
  fc.record({ type: fc.constant("mode"), state: fc.string({ maxLength: 10 }).filter((s) => s !== "start" && s !== "end"), mode: fc.constant("meeting") }),
  fc.record({
    type: fc.constant("mode"),
    state: fc.constant("start"),
    mode: fc.oneof(scalar, fc.constant("party")).filter((m) => !["meeting", "working", "coding"].includes(m as string)),
  }),
  fc.record({ type: fc.constant("peer"), to: fc.oneof(scalar, fc.constant([])), payload: fc.constant({}) }),
  fc.record({ type: fc.constant("peer"), to: fc.constant(["aa:bb:cc:00:00:01"]), payload: fc.oneof(scalar, fc.array(scalar)) }),
  fc.record({
    type: fc.constant("workflow"),
    event: fc.string({ maxLength: 12 }).filter((e) => !["update", "list", "assign", "complete", "delete"].includes(e)),
  }),
  fc.record({
    type: fc.constant("workflow"),
    event: fc.constant("update"),
    tasks: fc.array(fc.record({ priority: fc.integer({ min: 4, max: 99 }) }), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ type: fc.constant("meeting"), phase: fc.constant("snippet"), items: fc.array(fc.record({ tag: scalar }), { minLength: 1, maxLength: 3 }) }),
  fc.record({ type: fc.constant("listen"), state: fc.string({ maxLength: 10 }).filter((s) => !["start", "stop", "detect"].includes(s)) }),
);

const cases: fc.Arbitrary<Case> = fc.oneof(
  notJson.map((frame) => ({ frame, expect: err("INVALID_JSON", "frame is not valid JSON") })),
  fc.oneof(scalar, fc.array(scalar)).map((v) => ({ frame: JSON.stringify(v), expect: err("INVALID_JSON", "frame must be a JSON object") })),
  fc
    .tuple(
      junk,
      fc.oneof(
        fc.constant(undefined),
        scalar.filter((t) => typeof t !== "string" || t === ""),
      ),
    )
    .map(([o, t]) => ({
      frame: JSON.stringify(t === undefined ? o : { ...o, type: t }),
      expect: err("UNKNOWN_TYPE", "message has no type"),
    })),
  fc.tuple(junk, unknownType).map(([o, t]) => ({ frame: JSON.stringify({ ...o, type: t }), expect: err("UNKNOWN_TYPE") })),
  badSchema.map((m) => ({ frame: JSON.stringify(m), expect: { type: m.type, code: "SCHEMA_INVALID" } })),
  fc.tuple(fc.constantFrom("peer", "mode", "workflow", "meeting"), fc.integer({ min: 33, max: 9000 })).map(([type, n]) => ({
    frame: `{"type":"${type}","x":${deep(n)}}`,
    expect: { type, code: "SCHEMA_INVALID", message: "payload too deep" },
  })),
  fc
    .integer({ min: 64 * 1024 + 1, max: 80 * 1024 })
    .map((n) => ({ frame: JSON.stringify({ type: "ping", pad: "x".repeat(n) }), expect: err("MESSAGE_TOO_LARGE") })),
  fc.constantFrom("__proto__", "constructor", "prototype", "tostring").map((id) => ({
    frame: JSON.stringify({ type: "peer", to: [id, `group:${id}`], payload: { hi: 1 } }),
    expect: { receipt: true as const },
  })),
);

function matches(reply: Json, e: Expect): boolean {
  if ("receipt" in e) return reply.type === "peer" && reply.event === "receipt";
  return (
    (e.type === "error" ? reply.type === "error" : reply.type === e.type && reply.status === "error") &&
    reply.code === e.code &&
    (e.message === undefined || reply.message === e.message)
  );
}

const SOCKETS = 25;
const FRAMES_PER_SOCKET = 240;

describe("fuzz: malformed frames over authenticated sockets", () => {
  const errors: unknown[][] = [];
  beforeEach(() => {
    errors.length = 0;
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void errors.push(args));
  });
  afterEach(() => vi.restoreAllMocks());

  it("answers every malformed frame as §10 says, keeps every socket open and the bystander answering", { timeout: 120_000 }, async () => {
    const all = fc.sample(cases, { numRuns: SOCKETS * FRAMES_PER_SOCKET, seed: 20261202 });
    const bystander = await connectDevice(uniqueId("bb:bb:bb"));
    let fuzzing = true;
    let answered = 0;
    const watch = (async () => {
      while (fuzzing) {
        const pong = await bystander.sock.request({ type: "keepalive" }, "pong");
        if (pong.type === "pong") answered++;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const sockets: TestSocket[] = [];
    for (let i = 0; i < SOCKETS; i++) sockets.push((await connectDevice(uniqueId("fz:fz:fz"))).sock);
    const mismatches: string[] = [];
    await Promise.all(
      sockets.map(async (sock, i) => {
        const mine = all.slice(i * FRAMES_PER_SOCKET, (i + 1) * FRAMES_PER_SOCKET);
        for (const [n, c] of mine.entries()) {
          // Inside the text rate limit (a burst of 200, then 50/s), so every frame is answered.
          if (n >= 180) await new Promise((r) => setTimeout(r, 22));
          // The server's MCP setup request after the hello (PROTOCOL §13) is no reply to a frame.
          const reply = sock.next((m) => m.type !== "mcp");
          sock.send(c.frame);
          const got = await reply;
          if (!matches(got, c.expect)) mismatches.push(`${c.frame.slice(0, 120)} → ${JSON.stringify(got).slice(0, 200)}`);
        }
      }),
    );
    fuzzing = false;
    await watch;

    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(sockets.every((s) => s.closeEvent === undefined)).toBe(true);
    expect(answered).toBeGreaterThan(10);
    expect(bystander.sock.received.filter((m) => m.type === "error")).toEqual([]);
    for (const s of sockets) expect(await s.request({ type: "keepalive" }, "pong")).toMatchObject({ type: "pong" });
    expect(errors).toEqual([]);
    for (const s of [...sockets, bystander.sock]) s.close();
  });

  it("answers malformed JSON carried in v2/v3 binary frames as §10 says, inside the same rate limit", { timeout: 60_000 }, async () => {
    const encoder = new TextEncoder();
    const wrap = (version: number, text: string): Uint8Array => {
      const body = encoder.encode(text);
      const head = version === 2 ? 16 : 4;
      const out = new Uint8Array(head + body.length);
      const view = new DataView(out.buffer);
      if (version === 2) {
        view.setUint16(0, 2);
        view.setUint16(2, 1); // type 1: a JSON message
        view.setUint32(12, body.length);
      } else {
        view.setUint8(0, 1);
        view.setUint16(2, body.length);
      }
      out.set(body, head);
      return out;
    };
    for (const version of [2, 3]) {
      // v3's payload size is 16 bits: frames over 64 KiB cannot be carried, so they are left out there.
      const mine = fc.sample(cases, { numRuns: 150, seed: 40 + version }).filter((c) => version === 2 || encoder.encode(c.frame).length <= 0xffff);
      const sock = await openSocket(uniqueId("fj:fj:fj"), { headers: { "protocol-version": String(version) } });
      await sock.request({ type: "hello", version });
      const mismatches: string[] = [];
      for (const c of mine) {
        const reply = sock.next((m) => m.type !== "mcp");
        sock.ws.send(wrap(version, c.frame));
        const got = await reply;
        if (!matches(got, c.expect)) mismatches.push(`v${version} ${c.frame.slice(0, 120)} → ${JSON.stringify(got).slice(0, 200)}`);
      }
      expect(mismatches.slice(0, 5)).toEqual([]);
      // The bucket holds at most a burst of 200: 300 frames at once run it dry, then RATE_LIMITED.
      for (let i = 0; i < 300; i++) sock.ws.send(wrap(version, '{"type":"no_such_type"}'));
      expect(await sock.next((m) => m.code === "RATE_LIMITED")).toMatchObject({ type: "error", code: "RATE_LIMITED" });
      expect(sock.closeEvent).toBeUndefined();
      sock.close();
    }
    expect(errors).toEqual([]);
  });

  it("drops malformed binary frames of every version with at most one INVALID_FRAME per 5 s", async () => {
    const frames = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 40 }), { numRuns: 300, seed: 7 });
    for (const version of ["2", "3"]) {
      const sock = await openSocket(uniqueId("fb:fb:fb"), { headers: { "protocol-version": version } });
      await sock.request({ type: "hello", version: Number(version) });
      for (const f of frames) sock.ws.send(f);
      // Oversized v1-style payload inside a valid header, and a JSON text frame carried in binary.
      const reply = await sock.request({ type: "keepalive" }, "pong");
      expect(reply.type).toBe("pong");
      const notices = sock.received.filter((m) => m.code === "INVALID_FRAME");
      expect(notices.length).toBeLessThanOrEqual(1);
      expect(sock.closeEvent).toBeUndefined();
      sock.close();
    }
    expect(errors).toEqual([]);
  });
});
