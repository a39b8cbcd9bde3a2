import { DurableObject } from "cloudflare:workers";
import { groupOf } from "../config/settings.ts";
import { runtimeConfig, type RuntimeConfig } from "../config/runtime.ts";
import { dropLlmClients } from "../llm/client.ts";
import { log } from "../log.ts";
import { binaryVersion } from "../protocol/binary.ts";
import { newConnState, type Conn, type ConnState } from "../session/conn.ts";
import { DeviceSession } from "../session/device-session.ts";
import { activationFor, checkActivationCode, type OtaActivation } from "../session/activation.ts";
import { IDENTITY_HEADERS } from "../http/identity-headers.ts";
import { deliverLocal, receiveRedelivered } from "../peer/delivery.ts";
import type { DeliveryOutcome, PeerEnvelope } from "../peer/messages.ts";
import { peerPort, workflowPort } from "./ports.ts";
import type { WorkflowSnapshot } from "../workflow/messages.ts";
import { sendSnapshot } from "../workflow/handler.ts";

// Runtime adapter for one device: accepts hibernatable sockets, keeps per-socket state in the
// attachment, and hands frames, closes and alarms to the portable DeviceSession.

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
      log.error("socket.attachment_failed", { error: err });
    }
  }
}

export interface DeviceInfo {
  deviceId: string;
  online: boolean;
  lastSeen: number | null;
  mode: string | null;
  groupKey: string;
  inbox: number;
}

export class DeviceObject extends DurableObject<Env> {
  private readonly session: DeviceSession;
  private readonly config: RuntimeConfig;
  private readonly conns = new WeakMap<WebSocket, SocketConn>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = runtimeConfig(env, env.CONFIG, dropLlmClients);
    this.config = config;
    this.session = new DeviceSession({
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
      lastAutoResponse: (conn) =>
        conn instanceof SocketConn ? (ctx.getWebSocketAutoResponseTimestamp(conn.ws)?.getTime() ?? 0) : 0,
      peers: peerPort(env),
      workflow: workflowPort(env),
      archive: env.ARCHIVE,
      defer: (work) => ctx.waitUntil(work),
      later: (work, delayMs = 0) => ctx.waitUntil(scheduler.wait(delayMs).then(work)),
    });
    // Exact `{"type":"ping"}` frames are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  private conn(ws: WebSocket): SocketConn {
    let c = this.conns.get(ws);
    if (!c) {
      c = new SocketConn(ws, ws.deserializeAttachment() as ConnState);
      this.conns.set(ws, c);
    }
    return c;
  }

  /** The Worker forwards an authenticated upgrade here; identity arrives in internal headers. */
  /**
   * Picks up runtime settings changes (a KV read at most once a minute). Only the isolate's first
   * event waits for it; later refreshes run beside the event and apply from the next one.
   */
  private async fresh(): Promise<void> {
    const now = Date.now();
    if (!this.config.due(now)) return;
    const loaded = this.config.loaded;
    const refresh = this.config.refresh(now);
    if (loaded) this.ctx.waitUntil(refresh);
    else await refresh;
  }

  override async fetch(request: Request): Promise<Response> {
    await this.fresh();
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const h = request.headers;
    const deviceId = h.get(IDENTITY_HEADERS.device) ?? "";
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
      now: Date.now(),
    });
    const conn = new SocketConn(server, state);
    this.conns.set(server, conn);
    this.session.onConnect(conn);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.fresh();
    const conn = this.conn(ws);
    if (typeof message === "string") await this.session.onText(conn, message);
    else this.session.onBinary(conn, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const conn = this.conn(ws);
    this.session.onClose(conn, code);
    try {
      ws.close(RESERVED_CLOSE.has(code) ? 1000 : code, reason);
    } catch {
      // The runtime already completed the closing handshake.
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    log.warn("socket.error", { deviceId: this.conn(ws).state.deviceId, error });
  }

  override async alarm(): Promise<void> {
    await this.fresh();
    await this.session.onAlarm();
  }

  // ---- RPC for the Worker's HTTP routes ----

  private async adopt(deviceId: string): Promise<void> {
    await this.fresh();
    this.session.remember(deviceId);
  }

  async info(deviceId: string): Promise<DeviceInfo> {
    await this.adopt(deviceId);
    const online = this.session.online;
    const lastSeen = online ? Date.now() : (this.session.store.get("lastSeen") ?? null);
    return {
      deviceId,
      online,
      lastSeen,
      mode: this.session.mode,
      groupKey: groupOf(this.session.settings, deviceId),
      inbox: this.session.inbox.count(Date.now()),
    };
  }

  async deliverPeer(deviceId: string, envelope: PeerEnvelope): Promise<DeliveryOutcome> {
    await this.adopt(deviceId);
    return deliverLocal(this.session, envelope);
  }

  /** Whether the device is connected, and since when; answered without touching storage. */
  async status(_deviceId: string): Promise<{ online: boolean; since: number }> {
    const live = this.session.live();
    return { online: live.length > 0, since: live.length ? Math.min(...live.map((c) => c.state.connectedAt)) : 0 };
  }

  /** A group's task list changed: show it on the device if it is connected (never queued). */
  async pushSnapshot(deviceId: string, snapshot: WorkflowSnapshot, version: number): Promise<boolean> {
    // Offline members answer at once: a fan-out must not open every member's storage.
    if (!this.session.current()) return false;
    // A member the group still lists after DEVICE_GROUPS moved it shows only its own group.
    if (snapshot.groupKey !== groupOf(this.config.settings, deviceId)) return false;
    await this.adopt(deviceId);
    return sendSnapshot(this.session, undefined, { snapshot, version });
  }

  async receiveRedelivered(deviceId: string, to: string, count: number): Promise<void> {
    await this.adopt(deviceId);
    receiveRedelivered(this.session, to, count);
  }

  async disconnect(deviceId: string): Promise<number> {
    await this.adopt(deviceId);
    const n = this.session.disconnectAll("disconnected by operator");
    log.info("device.operator_disconnect", { deviceId, sockets: n });
    return n;
  }

  async otaActivation(deviceId: string): Promise<OtaActivation> {
    await this.adopt(deviceId);
    return activationFor(this.session.store, Date.now());
  }

  async activate(deviceId: string, code: string): Promise<{ ok: boolean; reason?: string }> {
    await this.adopt(deviceId);
    const result = checkActivationCode(this.session.store, code, Date.now());
    log.info("device.activation", { deviceId, ok: result.ok, reason: result.reason });
    return result;
  }
}
