import opusModule from "@evan/opus/wasm/opus.wasm";
import { DurableObject } from "cloudflare:workers";
import { deviceCapabilities } from "../capabilities.ts";
import { runtimeConfig, type RuntimeConfig } from "../config/runtime.ts";
import { IDENTITY_HEADERS } from "../http/identity-headers.ts";
import { dropLlmClients } from "../llm/client.ts";
import { log } from "../log.ts";
import { bindAnalytics } from "../metrics/analytics.ts";
import { binaryVersion } from "../protocol/binary.ts";
import { CLOSE } from "../protocol/messages.ts";
import { newConnState, restoreConnState, type Conn, type ConnState } from "../session/conn.ts";
import { DeviceSession } from "../session/device-session.ts";
import { realClock } from "../voice/clock.ts";
import { loadOpus } from "../voice/opus.ts";
import { dropVoiceClients } from "../voice/providers/index.ts";
import type { AiRunner } from "../voice/providers/workers-ai.ts";
import { guard, guardRpc } from "./boundary.ts";
import { groupDirectory } from "./directory.ts";
import { deviceCaller, fleetPort, peerPort, workflowPort } from "./ports.ts";

// Runtime adapter for one device: accepts hibernatable sockets, keeps per-socket state in the
// attachment, and hands frames, closes, alarms and RPCs to the portable DeviceSession, each inside
// one error boundary. The object's name is the device id.

const RESERVED_CLOSE = new Set([1005, 1006, 1015]);

class SocketConn implements Conn {
  readonly ws: WebSocket;
  readonly state: ConnState;
  constructor(ws: WebSocket, state: ConnState) {
    this.ws = ws;
    this.state = state;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(msg: object): void {
    try {
      this.ws.send(JSON.stringify(msg));
    } catch {
      // A socket that closed between the check and the send: the close handler cleans up.
    }
  }

  sendBinary(bytes: Uint8Array): void {
    try {
      this.ws.send(bytes);
    } catch {
      /* as above */
    }
  }

  close(code: number, reason: string): void {
    try {
      this.ws.close(code, reason);
    } catch {
      /* already closing */
    }
  }

  save(): void {
    try {
      this.ws.serializeAttachment(this.state);
    } catch (err) {
      log.error("socket.attachment_failed", { deviceId: this.state.deviceId, error: err });
    }
  }
}

/** `http(s)://host` as the device sees us (behind a TLS proxy the forwarded scheme wins). */
function originOf(request: Request): string {
  const url = new URL(request.url);
  const https = request.headers.get("x-forwarded-proto") === "https" || url.protocol === "https:";
  return `${https ? "https" : "http"}://${url.host}`;
}

/** The deployed version's id (the optional CF_VERSION_METADATA binding), "" without one. */
function buildOf(env: Env): string {
  const id = (env as { CF_VERSION_METADATA?: { id?: unknown } }).CF_VERSION_METADATA?.id;
  return typeof id === "string" ? id : "";
}

/** Workers AI, when the deployment binds it as `AI` (optional: nothing requires it). */
function aiBinding(env: Env): { ai?: AiRunner } {
  const ai = (env as { AI?: AiRunner }).AI;
  return ai && typeof ai.run === "function" ? { ai } : {};
}

export class DeviceObject extends DurableObject<Env> {
  /** The portable session; public so Worker tests reach it through `runInDurableObject`. */
  readonly session: DeviceSession;
  /** Runtime settings of this isolate; public for the same reason. */
  readonly config: RuntimeConfig;
  private readonly conns = new WeakMap<WebSocket, SocketConn>();
  /** The deployed version running this instance, kept on each socket it accepts. */
  private readonly build: string;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Data points for operators (src/metrics): a no-op without the optional ANALYTICS binding.
    bindAnalytics((env as { ANALYTICS?: unknown }).ANALYTICS);
    const config = runtimeConfig(env, env.CONFIG, () => {
      dropLlmClients();
      dropVoiceClients();
    });
    this.config = config;
    const call = deviceCaller(env);
    const build = buildOf(env);
    this.build = build;
    this.session = new DeviceSession(
      {
        deviceId: ctx.id.name ?? "",
        build,
        get settings() {
          return config.settings;
        },
        sql: ctx.storage.sql,
        alarm: {
          // The hello reply need not wait for the alarm write: the timers it serves are either
          // recomputed on every alarm (the socket sweep) or stored in SQL rows that are confirmed.
          setAlarm: (at) => void ctx.storage.setAlarm(at, { allowUnconfirmed: true }),
          deleteAlarm: () => void ctx.storage.deleteAlarm(),
        },
        now: () => Date.now(),
        sockets: () => ctx.getWebSockets().map((ws) => this.conn(ws)),
        lastAutoResponse: (conn) => (conn instanceof SocketConn ? (ctx.getWebSocketAutoResponseTimestamp(conn.ws)?.getTime() ?? 0) : 0),
        // Background work is a runtime entry too: a throw there is logged once, not a rejected waitUntil.
        defer: (work) => ctx.waitUntil(guard("defer", this.fields, () => work, undefined)),
        later: (work, delayMs = 0) => ctx.waitUntil(scheduler.wait(delayMs).then(() => guard("later", this.fields, work, undefined))),
      },
      // Per object, not per isolate: a stub is bound to the object that made it (workerd refuses
      // I/O through another object's stub), and the ports cache stubs.
      deviceCapabilities({
        peers: peerPort(env, call),
        workflow: workflowPort(env),
        archive: env.ARCHIVE,
        // The device writes its own registry row (D1): connects never funnel through one object.
        fleet: fleetPort(env),
        // libopus is instantiated once per isolate, on the first audio (loadOpus caches it).
        voice: { opus: () => loadOpus(opusModule), clock: realClock, ...aiBinding(env) },
        directory: groupDirectory(env),
      }),
    );
    // Exact `{"type":"ping"}` frames are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  private get fields() {
    return { deviceId: this.session.deviceId };
  }

  private conn(ws: WebSocket): SocketConn {
    let c = this.conns.get(ws);
    if (!c) {
      c = new SocketConn(ws, restoreConnState(ws.deserializeAttachment()));
      this.conns.set(ws, c);
    }
    return c;
  }

  /**
   * Picks up runtime settings changes (a KV read at most once a minute). Only the isolate's first
   * event waits for it; later refreshes run beside the event and apply from the next one.
   */
  private async fresh(): Promise<void> {
    this.session.checkBuild();
    const now = Date.now();
    if (!this.config.due(now)) return;
    const loaded = this.config.loaded;
    const refresh = this.config.refresh(now);
    if (loaded) this.ctx.waitUntil(refresh);
    else await refresh;
  }

  /** The Worker forwards an authenticated upgrade here; identity arrives in internal headers. */
  override async fetch(request: Request): Promise<Response> {
    const failed = new Response("the device object failed to accept this connection", { status: 500 });
    return guard("fetch", this.fields, () => this.accept(request), failed);
  }

  private async accept(request: Request): Promise<Response> {
    await this.fresh();
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const h = request.headers;
    const deviceId = h.get(IDENTITY_HEADERS.device) ?? this.session.deviceId;
    const pair = new WebSocketPair();
    const server = pair[1];
    const id = crypto.randomUUID();
    this.ctx.acceptWebSocket(server, [id]);
    const state = newConnState({
      id,
      deviceId,
      clientId: h.get(IDENTITY_HEADERS.client) ?? deviceId,
      sessionId: crypto.randomUUID(),
      headerVersion: binaryVersion(Number(h.get(IDENTITY_HEADERS.protocol))) ?? null,
      assignedId: h.get(IDENTITY_HEADERS.assigned) === "1",
      auth: h.get(IDENTITY_HEADERS.method) ?? "",
      build: this.build,
      origin: originOf(request),
      now: Date.now(),
    });
    const conn = new SocketConn(server, state);
    this.conns.set(server, conn);
    this.session.onConnect(conn);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await guard(
      "webSocketMessage",
      this.fields,
      async () => {
        await this.fresh();
        const conn = this.conn(ws);
        if (typeof message === "string") await this.session.onText(conn, message);
        else this.session.onBinary(conn, message);
      },
      undefined,
    );
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await guard("webSocketClose", this.fields, () => this.session.onClose(this.conn(ws), code), undefined);
    try {
      ws.close(RESERVED_CLOSE.has(code) ? CLOSE.normal : code, reason);
    } catch {
      // The runtime already completed the closing handshake.
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    await guard("webSocketError", this.fields, () => log.warn("socket.error", { ...this.fields, conn: this.conn(ws).state.id, error }), undefined);
  }

  override async alarm(): Promise<void> {
    await guard(
      "alarm",
      this.fields,
      async () => {
        await this.fresh();
        await this.session.onAlarm();
      },
      undefined,
    );
  }

  // ---- RPC ----

  /** A capability's entry point (`<capability>.<name>`); see DeviceCall in ports.ts for the typing. */
  async call(name: string, args: unknown[]): Promise<unknown> {
    return guardRpc(`rpc ${name.slice(0, 64)}`, this.fields, async () => {
      await this.fresh();
      return this.session.rpc(name, args);
    });
  }

  async info(): Promise<Record<string, unknown>> {
    return guardRpc("info", this.fields, async () => {
      await this.fresh();
      return this.session.info();
    });
  }

  /** Whether the device is connected, and since when; answered without touching storage. */
  async status(): Promise<{ online: boolean; since: number }> {
    return guardRpc("status", this.fields, () => this.session.status());
  }

  async disconnect(): Promise<number> {
    return guardRpc("disconnect", this.fields, () => {
      const n = this.session.disconnectAll(CLOSE.normal, "disconnected by operator");
      log.info("device.operator_disconnect", { ...this.fields, sockets: n });
      return n;
    });
  }
}
