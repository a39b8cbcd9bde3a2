import opusModule from "@evan/opus/wasm/opus.wasm";
import { DurableObject } from "cloudflare:workers";
import app from "../src/index.ts";
import { loadOpus, type OpusDecoder, type OpusEncoder, type OpusLib } from "../src/voice/opus.ts";

// Benchmark build of the Worker: our app, unchanged, plus a bare echo Durable Object in the same
// workerd. `/__bench/echo/<id>` upgrades go straight to BenchEchoObject with no auth and no logic:
// that is the floor our device path is compared against (scripts/bench.ts). Everything else is
// our app's fetch. Never deployed: bench/wrangler.toml is only used by `npm run bench`.
//
// Besides echoing, the bare object does the bare minimum of each hop the scenarios measure, with
// the same messages on the wire as our devices, so the client code is the same for both:
// - peer relay: `{"type":"peer","to":[B],...}` → one RPC to bare object B, which sends the message
//   to its socket (or, with no socket, INSERTs it into its own SQLite); a receipt to the sender;
// - inbox: with `?inbox=1`, after a hello the queued rows are SELECTed, DELETEd and sent;
// - fan-out: with `?presence=1` a socket joins the bare group of its id's first 8 characters (an
//   instance of this class named `group:<key>`, one SQLite row per member); a
//   `{"type":"workflow","event":"update","tasks":[...]}` is one RPC to that group, which stores the
//   tasks and sends the snapshot by RPC to every other member, each sending it to its socket.
// - voice: with `?voice=1`, binary frames are uplink Opus (decoded at 16 kHz while listening, not
//   echoed); `{"type":"listen","state":"stop","reply":{"sentences":[...],"frames":[...]}}` ends the
//   utterance and answers like our turn does on the wire (`stt`, `tts start`, `llm`, per sentence
//   `sentence_start` and that many 24 kHz 60 ms Opus frames paced in real time, `tts stop` 400 ms
//   after the last frame's play time). The frames re-encode the decoded utterance itself (stretched
//   to 24 kHz, looped): the same codec work as ours on real speech, without VAD, providers or turns.
// No schemas, ACL, rate limits, settings, logs or idempotency: those are what the ratio measures.

export { DeviceObject, GroupObject } from "../src/index.ts";

interface BenchEnv extends Env {
  BENCH_ECHO: DurableObjectNamespace<BenchEchoObject>;
}

const ECHO_PREFIX = "/__bench/echo/";
const GROUP_PREFIX = "/__bench/group/";

type Json = Record<string, unknown>;
type Outcome = "delivered" | "enqueued";

const groupOf = (deviceId: string) => deviceId.slice(0, 8);

// Bare voice: the codec settings of our turn (src/voice/turn.ts, listener.ts, pacer.ts, reply.ts).
const UP_RATE = 16000;
const DOWN_RATE = 24000;
const FRAME_MS = 60;
const DOWN_FRAME = (DOWN_RATE * FRAME_MS) / 1000;
const DOWNLINK_OPUS = { complexity: 5, bitrate: 24_000, application: "audio" } as const;
const PREBUFFER_FRAMES = 5;
const TTS_STOP_TAIL_MS = 400;

let opusLib: OpusLib | undefined;
const opus = () => (opusLib ??= loadOpus(opusModule));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

interface BareVoice {
  decoder: OpusDecoder;
  encoder: OpusEncoder;
  listening: boolean;
  /** The utterance decoded so far, 16 kHz. */
  chunks: Int16Array[];
}

/** 60 ms at 24 kHz from the utterance at `at` (16 kHz samples, looped), stretched by linear interpolation. */
function frameFrom(pcm: Int16Array, at: number): Int16Array {
  const out = new Int16Array(DOWN_FRAME);
  const n = pcm.length;
  if (n === 0) return out;
  for (let i = 0; i < DOWN_FRAME; i++) {
    const pos = at + (i * UP_RATE) / DOWN_RATE;
    const k = Math.floor(pos);
    const f = pos - k;
    out[i] = Math.round(pcm[k % n]! * (1 - f) + pcm[(k + 1) % n]! * f);
  }
  return out;
}

export class BenchEchoObject extends DurableObject<BenchEnv> {
  private inboxReady = false;
  private groupReady = false;
  private voice: BareVoice | null = null;

  private stub(name: string) {
    return this.env.BENCH_ECHO.get(this.env.BENCH_ECHO.idFromName(name));
  }

  /** This object's device id (its name), as our objects know theirs. */
  private get self(): string {
    return this.ctx.id.name ?? "";
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("WebSocket only", { status: 426 });
    const pair = new WebSocketPair();
    const flags = new URL(request.url).searchParams;
    // Opt-in, so the connect and capacity floors stay a bare socket that never opens its storage.
    const tags = [...(flags.get("inbox") === "1" ? ["inbox"] : []), ...(flags.get("voice") === "1" ? ["voice"] : [])];
    this.ctx.acceptWebSocket(pair[1], tags);
    if (flags.get("presence") === "1") {
      const id = this.self;
      this.ctx.waitUntil(this.stub(`group:${groupOf(id)}`).join(id));
    }
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Audio once a voice socket has listened (`this.voice`); other bare sockets echo binary frames.
    if (typeof message !== "string" && this.voice) return this.audio(message);
    if (typeof message === "string" && message.startsWith("{")) {
      let msg: Json | undefined;
      try {
        msg = JSON.parse(message) as Json;
      } catch {
        /* not JSON: echoed below */
      }
      switch (msg?.type) {
        case "hello":
          ws.send(
            JSON.stringify({
              type: "hello",
              version: 1,
              transport: "websocket",
              session_id: crypto.randomUUID(),
              audio_params: { format: "opus", sample_rate: 24000, channels: 1, frame_duration: 60 },
            }),
          );
          if (this.ctx.getTags(ws).includes("inbox")) this.drainInbox(ws);
          return;
        case "peer":
          if (Array.isArray(msg.to)) return this.relay(ws, msg);
          break;
        case "workflow":
          if (msg.event === "update" && Array.isArray(msg.tasks)) return this.taskUpdate(ws, msg.tasks as Json[]);
          break;
        case "listen":
          if (this.ctx.getTags(ws).includes("voice")) return this.listen(ws, msg);
          break;
      }
    }
    ws.send(message);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    if (this.voice) {
      this.voice.decoder.free();
      this.voice.encoder.free();
      this.voice = null;
    }
    try {
      ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
    } catch {
      /* already closed */
    }
  }

  // ---- bare voice ----

  private listen(ws: WebSocket, msg: Json): void {
    this.voice ??= { decoder: opus().decoder(UP_RATE), encoder: opus().encoder(DOWN_RATE, DOWNLINK_OPUS), listening: false, chunks: [] };
    const v = this.voice;
    if (msg.state === "start") {
      v.listening = true;
      v.chunks = [];
      return;
    }
    if (msg.state !== "stop" || !v.listening) return;
    v.listening = false;
    const reply = (msg.reply ?? {}) as { sentences?: unknown; frames?: unknown };
    const sentences = Array.isArray(reply.sentences) ? reply.sentences.map(String) : [];
    const frames = Array.isArray(reply.frames) ? reply.frames.map(Number) : [];
    const pcm = new Int16Array(v.chunks.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of v.chunks) {
      pcm.set(c, o);
      o += c.length;
    }
    v.chunks = [];
    this.ctx.waitUntil(this.speak(ws, v.encoder, pcm, sentences, frames));
  }

  private audio(message: ArrayBuffer): void {
    const v = this.voice;
    if (!v?.listening || message.byteLength === 0) return;
    v.chunks.push(v.decoder.decode(new Uint8Array(message)));
  }

  private async speak(ws: WebSocket, encoder: OpusEncoder, pcm: Int16Array, sentences: string[], frames: number[]): Promise<void> {
    try {
      ws.send(JSON.stringify({ type: "stt", text: "bare" }));
      ws.send(JSON.stringify({ type: "tts", state: "start" }));
      const t0 = Date.now();
      let sent = 0;
      let at = 0;
      for (const [i, text] of sentences.entries()) {
        for (let f = 0; f < (frames[i] ?? 0); f++) {
          await sleep(t0 + Math.max(0, sent - (PREBUFFER_FRAMES - 1)) * FRAME_MS - Date.now());
          if (sent === 0) ws.send(JSON.stringify({ type: "llm", emotion: "happy", text: "😀" }));
          if (f === 0) ws.send(JSON.stringify({ type: "tts", state: "sentence_start", text }));
          ws.send(encoder.encode(frameFrom(pcm, at)));
          at += (UP_RATE * FRAME_MS) / 1000;
          sent++;
        }
      }
      await sleep(t0 + sent * FRAME_MS + TTS_STOP_TAIL_MS - Date.now());
      ws.send(JSON.stringify({ type: "tts", state: "stop" }));
    } catch {
      /* the socket closed mid-reply */
    }
  }

  // ---- peer relay and inbox ----

  private async relay(ws: WebSocket, msg: Json): Promise<void> {
    const started = Date.now();
    const envelope = { type: "peer", event: "message", id: crypto.randomUUID(), from: this.self, category: "chat", payload: msg.payload, ts: started };
    const to = (msg.to as unknown[]).filter((t): t is string => typeof t === "string");
    const outcomes = await Promise.all(to.map(async (t) => ({ id: t, outcome: await this.stub(t).deliver(envelope) })));
    ws.send(
      JSON.stringify({
        type: "peer",
        event: "receipt",
        status: "ok",
        id: envelope.id,
        ...(typeof msg.id === "string" ? { ref: msg.id } : {}),
        delivered: outcomes.filter((o) => o.outcome === "delivered").map((o) => o.id),
        enqueued: outcomes.filter((o) => o.outcome === "enqueued").map((o) => o.id),
        failed: [],
        elapsedMs: Date.now() - started,
      }),
    );
  }

  /** RPC: a message for this object's device: to its socket, else one row in its SQLite. */
  async deliver(envelope: Json): Promise<Outcome> {
    if (this.toSocket(envelope)) return "delivered";
    if (!this.inboxReady) {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)");
      this.inboxReady = true;
    }
    this.ctx.storage.sql.exec("INSERT INTO inbox (body) VALUES (?)", JSON.stringify(envelope));
    return "enqueued";
  }

  private drainInbox(ws: WebSocket): void {
    const sql = this.ctx.storage.sql;
    if (!this.inboxReady) {
      if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'inbox'").toArray().length === 0) return;
      this.inboxReady = true;
    }
    const rows = sql.exec<{ body: string }>("SELECT body FROM inbox ORDER BY seq").toArray();
    if (rows.length === 0) return;
    sql.exec("DELETE FROM inbox");
    for (const r of rows) ws.send(r.body);
  }

  /** RPC: sends to the newest socket; false when there is none. */
  async push(msg: Json): Promise<boolean> {
    return this.toSocket(msg);
  }

  private toSocket(msg: Json): boolean {
    const sockets = this.ctx.getWebSockets();
    const ws = sockets[sockets.length - 1];
    if (!ws) return false;
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  // ---- bare group (instances named `group:<key>`) and task fan-out ----

  private async taskUpdate(ws: WebSocket, tasks: Json[]): Promise<void> {
    const snapshot = await this.stub(`group:${groupOf(this.self)}`).fanout(this.self, tasks);
    ws.send(JSON.stringify({ type: "workflow", status: "ok", event: "update" }));
    ws.send(JSON.stringify(snapshot));
  }

  private ensureGroup(): void {
    if (this.groupReady) return;
    this.ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS members (device_id TEXT PRIMARY KEY); CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, updated_at INTEGER NOT NULL)",
    );
    this.groupReady = true;
  }

  /** RPC on a group: a member came online. */
  async join(deviceId: string): Promise<void> {
    this.ensureGroup();
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO members (device_id) VALUES (?)", deviceId);
  }

  /** RPC on a group: how many members joined. */
  async memberCount(): Promise<number> {
    this.ensureGroup();
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM members").one().n;
  }

  /** RPC on a group: stores the tasks, sends the snapshot to every member but the actor (after the reply), returns it. */
  async fanout(actor: string, tasks: Json[]): Promise<Json> {
    this.ensureGroup();
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    for (const t of tasks)
      sql.exec(
        "INSERT OR REPLACE INTO tasks (id, title, updated_at) VALUES (?, ?, ?)",
        typeof t.id === "string" ? t.id : crypto.randomUUID(),
        String(t.title ?? ""),
        now,
      );
    const groupKey = this.self.slice("group:".length);
    const snapshot = {
      type: "workflow",
      event: "update",
      groupKey,
      tasks: sql
        .exec<{ id: string; title: string; updated_at: number }>("SELECT id, title, updated_at FROM tasks ORDER BY updated_at, id")
        .toArray()
        .map((r) => ({ id: r.id, title: r.title, groupKey, updatedAt: r.updated_at })),
    };
    const members = sql
      .exec<{ device_id: string }>("SELECT device_id FROM members")
      .toArray()
      .filter((m) => m.device_id !== actor);
    this.ctx.waitUntil(
      Promise.all(
        members.map((m) =>
          this.stub(m.device_id)
            .push(snapshot)
            .catch(() => false),
        ),
      ),
    );
    return snapshot;
  }
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith(ECHO_PREFIX)) {
      const id = decodeURIComponent(pathname.slice(ECHO_PREFIX.length)) || "echo";
      return env.BENCH_ECHO.get(env.BENCH_ECHO.idFromName(id)).fetch(request);
    }
    if (pathname.startsWith(GROUP_PREFIX)) {
      // How many bare devices have joined a bare group (the fan-out scenario waits for all).
      const key = decodeURIComponent(pathname.slice(GROUP_PREFIX.length));
      const members = await env.BENCH_ECHO.get(env.BENCH_ECHO.idFromName(`group:${key}`)).memberCount();
      return Response.json({ groupKey: key, members });
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
