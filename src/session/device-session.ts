import { configuredAlias, groupOf, type Settings } from "../config/settings.ts";
import { log } from "../log.ts";
import { recordDisconnect } from "../metrics/analytics.ts";
import { parseFrame } from "../protocol/binary.ts";
import { errorReply } from "../protocol/errors.ts";
import { CLOSE, REPLACED_MESSAGE, type AlertOut, type ModeName, type SystemOut } from "../protocol/messages.ts";
import { Schema, type Sql } from "../storage/sql.ts";
import type { Capability, HandlerCtx, RuntimeSlot, Session, UtteranceSource } from "./capability.ts";
import type { Conn } from "./conn.ts";
import { CORE_TABLES } from "./core-routes.ts";
import { DeviceStore, LAST_SEEN, MODE } from "./device-store.ts";
import { isStale, planSocket } from "./lifecycle.ts";
import { takeToken, type Bucket as TokenBucket } from "./rate-limit.ts";
import { buildRegistry, type Registry } from "./registry.ts";
import { TEXT_BURST, TEXT_RATE_PER_S, dispatchText } from "./router.ts";
import { TimerTable, type AlarmPort } from "./timers.ts";
import { TurnRunner } from "./turns.ts";

// The portable core of one device: the host that capabilities plug into. The object hands it
// sockets, frames, closes, alarms and RPCs; it answers through the Conn and Sql ports. It imports no
// capability: the list arrives in the constructor (src/capabilities.ts builds it).

export interface SessionRuntime {
  /** The device this object serves (the Durable Object's name). */
  readonly deviceId: string;
  readonly settings: Settings;
  readonly sql: Sql;
  readonly alarm: AlarmPort;
  now(): number;
  /** Every socket the runtime still holds for this device, replaced ones included. */
  sockets(): Conn[];
  /** When the runtime last answered a ping for us without waking the object (0 when never). */
  lastAutoResponse(conn: Conn): number;
  /** Keeps background work alive past the current event. */
  defer(work: Promise<unknown>): void;
  /** Runs `work` in a later turn of the event loop, once what this turn sent has gone out. */
  later(work: () => void | Promise<void>, delayMs?: number): void;
  /** The deployed version running this instance (CF_VERSION_METADATA id; "" or absent when unknown). */
  readonly build?: string;
}

const BAD_FRAME_REPLY_INTERVAL_MS = 5000;
const ACTIVITY_SAVE_STEP_MS = 1000;
/** While a turn runs the alarm fires at least this often: an alarm is activity, so no eviction. */
export const TURN_KEEPALIVE_MS = 30_000;

const registries = new WeakMap<readonly Capability[], Registry>();
function registryOf(capabilities: readonly Capability[]): Registry {
  let r = registries.get(capabilities);
  if (!r) {
    r = buildRegistry(CORE_TABLES, capabilities);
    registries.set(capabilities, r);
  }
  return r;
}

interface ConnMemory {
  bucket: TokenBucket;
  savedActivity: number;
  framesBeforeHello: number;
  rateDropped: number;
  runtime: Map<RuntimeSlot<unknown>, unknown>;
}

export class DeviceSession implements Session {
  readonly store: DeviceStore;
  readonly timers: TimerTable;
  readonly turns: TurnRunner;
  readonly registry: Registry;
  /** The device's tables, created by its first write (a first connection writes nothing). */
  readonly schema: Schema;
  private readonly rt: SessionRuntime;
  private readonly running = new Map<string, Promise<void>>();
  private readonly memo = new Map<object, unknown>();
  /** What this isolate knows of each socket beyond its attachment; rebuilt lazily after a wake. */
  private readonly memory = new Map<string, ConnMemory>();

  constructor(rt: SessionRuntime, capabilities: readonly Capability[]) {
    this.rt = rt;
    this.registry = registryOf(capabilities);
    this.schema = new Schema(rt.sql, this.registry.migrations);
    // Every device writes both on its first connect: one batch of DDL, not two.
    const core = this.schema.part(CORE_TABLES.migrations);
    this.store = new DeviceStore(rt.sql, core);
    this.timers = new TimerTable(rt.sql, core, rt.alarm);
    this.turns = new TurnRunner({
      now: () => this.now(),
      send: (conn, msg) => this.send(conn, msg),
      keepAlive: (work) => rt.defer(work),
      changed: () => this.reschedule(),
    });
  }

  // ---- the Session API of capabilities ----

  get deviceId(): string {
    return this.rt.deviceId;
  }

  get settings(): Settings {
    return this.rt.settings;
  }

  get sql(): Sql {
    return this.rt.sql;
  }

  get groupKey(): string {
    return this.named("group") ?? groupOf(this.settings, this.deviceId);
  }

  get alias(): string | null {
    return this.named("alias") ?? configuredAlias(this.settings, this.deviceId);
  }

  overrides(): { alias: string | null; group: string | null } {
    return { alias: this.named("alias") ?? null, group: this.named("group") ?? null };
  }

  /** A capability's override of the device's alias or group (see Capability.names). */
  private named(field: "alias" | "group"): string | undefined {
    for (const cap of this.registry.capabilities) {
      const v = cap.names?.(this)?.[field];
      if (v) return v;
    }
    return undefined;
  }

  get mode(): ModeName | null {
    return this.store.get(MODE)?.mode ?? null;
  }

  now(): number {
    return this.rt.now();
  }

  /** Every socket the runtime holds, replaced and closing ones included. */
  sockets(): Conn[] {
    return this.rt.sockets();
  }

  live(): Conn[] {
    return this.rt
      .sockets()
      .filter((c) => c.open && c.state.replacedAt === null && c.state.helloAt !== null)
      .sort((a, b) => b.state.connectedAt - a.state.connectedAt);
  }

  current(): Conn | undefined {
    return this.live()[0];
  }

  get online(): boolean {
    return this.rt.sockets().some((c) => c.open && c.state.replacedAt === null);
  }

  send(conn: Conn, msg: object): void {
    if (!conn.open) return;
    conn.send(msg);
    conn.state.lastSentAt = this.now();
  }

  push(msg: object): boolean {
    const conn = this.current();
    if (!conn) return false;
    this.send(conn, msg);
    return true;
  }

  defer(work: Promise<unknown>): void {
    this.rt.defer(work);
  }

  later(work: () => void | Promise<void>, delayMs?: number): void {
    this.rt.later(work, delayMs);
  }

  once(key: string, work: () => Promise<void>): Promise<void> {
    let p = this.running.get(key);
    if (!p) {
      p = work().finally(() => this.running.delete(key));
      this.running.set(key, p);
    }
    return p;
  }

  local<T>(key: object, create: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, create());
    return this.memo.get(key) as T;
  }

  runtime<T>(conn: Conn, slot: RuntimeSlot<T>): T {
    const slots = this.mem(conn).runtime;
    if (!slots.has(slot)) slots.set(slot, slot.create(this, conn));
    return slots.get(slot) as T;
  }

  async say(ctx: HandlerCtx, text: string): Promise<void> {
    const speaker = this.registry.capabilities.find((c) => c.say);
    if (speaker) await speaker.say!(ctx, text);
    else ctx.reply({ type: "tts", state: "sentence_start", text, session_id: ctx.conn.state.sessionId });
  }

  async utterance(ctx: HandlerCtx, text: string, source: UtteranceSource): Promise<void> {
    for (const cap of this.registry.capabilities) {
      if (cap.onUtterance && (await cap.onUtterance(ctx, text, source))) return;
    }
    ctx.reply({ type: "alert", status: "error", message: "voice chat is not enabled on this server", emotion: "sad" } satisfies AlertOut);
  }

  // ---- lifecycle, called by the runtime adapter ----

  private mem(conn: Conn): ConnMemory {
    let m = this.memory.get(conn.state.id);
    if (!m) {
      m = { bucket: { tokens: TEXT_BURST, at: this.now() }, savedActivity: 0, framesBeforeHello: 0, rateDropped: 0, runtime: new Map() };
      this.memory.set(conn.state.id, m);
    }
    return m;
  }

  onConnect(conn: Conn): void {
    const now = this.now();
    for (const old of this.rt.sockets()) {
      if (old === conn || !old.open || old.state.replacedAt !== null) continue;
      // The old socket hears why it is going away, and keeps working until it closes.
      this.send(old, { type: "system", event: "replaced", message: REPLACED_MESSAGE } satisfies SystemOut);
      old.state.replacedAt = now;
      old.save();
      log.info("device.replaced", { deviceId: this.deviceId, oldConn: old.state.id, newConn: conn.state.id });
    }
    conn.save();
    // A lone new socket's idle alarm is set after its hello reply (or, without a hello, a second
    // later; the object is awake that long anyway), keeping storage out of the handshake's latency.
    // A handover needs the old socket's close scheduled now, and that object's storage is open.
    const others = this.rt.sockets().some((c) => c !== conn && c.open);
    if (others) this.reschedule();
    else this.rt.later(() => this.reschedule(), 1000);
  }

  onClose(conn: Conn, code: number): void {
    this.turns.cancel(conn, "socket closed");
    const m = this.memory.get(conn.state.id);
    this.memory.delete(conn.state.id);
    for (const [slot, value] of m?.runtime ?? []) {
      try {
        slot.dispose?.(value);
      } catch (err) {
        log.error("session.dispose_failed", { deviceId: this.deviceId, slot: slot.name, error: err });
      }
    }
    for (const cap of this.registry.capabilities) cap.onClose?.(this, conn, code);
    const now = this.now();
    this.store.set(LAST_SEEN, now);
    recordDisconnect({
      deviceId: this.deviceId,
      code,
      helloed: conn.state.helloAt !== null,
      connectedMs: now - conn.state.connectedAt,
      audioFrames: conn.state.audioFrames,
    });
    log.info("device.disconnected", {
      deviceId: this.deviceId,
      conn: conn.state.id,
      code,
      helloed: conn.state.helloAt !== null,
      audioFrames: conn.state.audioFrames,
      badFrames: conn.state.badFrames,
      ...(m?.framesBeforeHello ? { framesBeforeHello: m.framesBeforeHello } : {}),
      ...(m?.rateDropped ? { rateDropped: m.rateDropped } : {}),
    });
    this.reschedule();
  }

  private touch(conn: Conn, now: number): void {
    conn.state.lastActivity = now;
    // The attachment write is throttled: a second of staleness after hibernation is harmless.
    const m = this.mem(conn);
    if (now - m.savedActivity >= ACTIVITY_SAVE_STEP_MS) {
      m.savedActivity = now;
      conn.save();
    }
  }

  /** The per-socket text rate limit (PROTOCOL §10), for text frames and JSON inside binary frames. */
  private admitText(conn: Conn, now: number): boolean {
    return takeToken(this.mem(conn).bucket, now, TEXT_RATE_PER_S, TEXT_BURST);
  }

  dropped(conn: Conn): void {
    this.mem(conn).rateDropped++;
  }

  /** A frame before the hello: dropped (the hello reply is the first thing a socket hears), logged once. */
  beforeHello(conn: Conn, frame: string): void {
    const m = this.mem(conn);
    if (m.framesBeforeHello++ === 0) log.warn("session.before_hello", { deviceId: this.deviceId, conn: conn.state.id, frame: frame.slice(0, 64) });
  }

  async onText(conn: Conn, text: string): Promise<void> {
    const now = this.now();
    this.touch(conn, now);
    await dispatchText(this, conn, text, this.admitText(conn, now));
  }

  onBinary(conn: Conn, data: ArrayBuffer): void {
    const now = this.now();
    this.touch(conn, now);
    if (conn.state.helloAt === null) return; // audio before hello has no session to belong to
    const frame = parseFrame(conn.state.binary, data);
    if (!frame.ok) {
      conn.state.badFrames++;
      // One reply per interval: a broken encoder sends 16 bad frames a second.
      if (now - conn.state.badFrameReplyAt >= BAD_FRAME_REPLY_INTERVAL_MS) {
        conn.state.badFrameReplyAt = now;
        this.send(conn, errorReply("INVALID_FRAME", `dropped binary frame: ${frame.reason}`, { dropped: conn.state.badFrames }));
        conn.save();
      }
      return;
    }
    if (frame.kind === "text") {
      void dispatchText(this, conn, frame.text, this.admitText(conn, now));
      return;
    }
    if (frame.kind === "audio") conn.state.audioFrames++;
    const ctx = this.ctx(conn);
    for (const cap of this.registry.capabilities) cap.onAudio?.(ctx, frame);
  }

  ctx(conn: Conn): HandlerCtx {
    return { session: this, conn, now: this.now(), reply: (msg) => this.send(conn, msg) };
  }

  reschedule(): void {
    const now = this.now();
    let next: number | null = this.turns.busy ? now + TURN_KEEPALIVE_MS : null;
    for (const conn of this.rt.sockets()) {
      if (!conn.open) continue;
      const plan = planSocket(conn.state, this.lastInbound(conn), this.mode, this.limits(), now, this.turns.current(conn) !== undefined, this.build);
      if (plan.actions.length) next = now;
      else if (plan.next !== null) next = next === null ? plan.next : Math.min(next, plan.next);
    }
    this.timers.setFloor(next);
  }

  private limits() {
    return { idleTimeoutS: this.settings.IDLE_TIMEOUT_S, idleWarningS: this.settings.IDLE_WARNING_S };
  }

  /** The deployed version running this instance ("" when unknown). */
  get build(): string {
    return this.rt.build ?? "";
  }

  private buildChecked = false;

  /**
   * Called by the adapter at each event; acts on the instance's first. Sockets accepted by another
   * deployed version (they outlived a deploy while the object hibernated) get a sweep at once: the
   * quiet ones are closed with 1012 and reconnect into a session of this version (lifecycle.ts).
   */
  checkBuild(): void {
    if (this.buildChecked) return;
    this.buildChecked = true;
    const build = this.build;
    if (build && this.rt.sockets().some((c) => c.open && isStale(c.state, build))) this.reschedule();
  }

  private lastInbound(conn: Conn): number {
    return Math.max(conn.state.lastActivity, this.rt.lastAutoResponse(conn));
  }

  private sweep(): void {
    const now = this.now();
    for (const conn of this.rt.sockets()) {
      if (!conn.open) continue;
      const plan = planSocket(conn.state, this.lastInbound(conn), this.mode, this.limits(), now, this.turns.current(conn) !== undefined, this.build);
      for (const action of plan.actions) {
        switch (action.kind) {
          case "close-replaced":
            conn.close(CLOSE.replaced, "replaced by a new connection");
            break;
          case "restart":
            conn.close(CLOSE.restart, "server restarting");
            log.info("device.restart_close", { deviceId: this.deviceId, conn: conn.state.id, from: conn.state.build || null, to: this.build });
            break;
          case "timeout":
            this.send(conn, { type: "system", event: "timeout" } satisfies SystemOut);
            conn.close(CLOSE.idle, "idle timeout");
            log.info("device.idle_timeout", { deviceId: this.deviceId, conn: conn.state.id });
            break;
          case "warn":
            this.send(conn, { type: "system", event: "timeout_warning", seconds: action.seconds } satisfies SystemOut);
            conn.state.warnedAt = now;
            conn.save();
            break;
          case "heartbeat":
            this.send(conn, { type: "system", event: "heartbeat", ts: now } satisfies SystemOut);
            conn.save();
            break;
        }
      }
    }
  }

  async onAlarm(): Promise<void> {
    this.timers.alarmFired();
    const due = this.timers.takeDue(this.now());
    for (const timer of due) {
      const prefix = timer.name.split(":")[0]!;
      const handler = this.registry.timers[prefix];
      if (!handler) {
        log.warn("timer.unknown", { deviceId: this.deviceId, name: timer.name });
        continue;
      }
      try {
        await handler(this, timer.data);
      } catch (err) {
        log.error("timer.failed", { name: timer.name, deviceId: this.deviceId, error: err });
      }
    }
    this.sweep();
    this.reschedule();
  }

  /** An RPC entry point of a capability (`<capability>.<name>`). */
  async rpc(name: string, args: readonly unknown[]): Promise<unknown> {
    const handler = this.registry.rpc[name];
    if (!handler) throw new Error(`no RPC "${name.slice(0, 64)}" on the device object`);
    return (handler as (s: Session, ...a: unknown[]) => unknown)(this, ...args);
  }

  /** What GET /api/devices/:id shows: the core's facts plus each capability's. */
  info(): Record<string, unknown> {
    const online = this.online;
    const out: Record<string, unknown> = {
      deviceId: this.deviceId,
      online,
      lastSeen: online ? this.now() : (this.store.get(LAST_SEEN) ?? null),
      mode: this.mode,
      groupKey: this.groupKey,
    };
    for (const cap of this.registry.capabilities) Object.assign(out, cap.describe?.(this));
    return out;
  }

  /** Whether the device is connected, and since when; answered without touching storage. */
  status(): { online: boolean; since: number } {
    const live = this.live();
    return { online: live.length > 0, since: live.length ? Math.min(...live.map((c) => c.state.connectedAt)) : 0 };
  }

  /** Operator disconnect (DELETE /api/devices/:id/sessions). */
  disconnectAll(code: number, reason: string): number {
    let n = 0;
    for (const conn of this.rt.sockets()) {
      if (!conn.open) continue;
      conn.close(code, reason);
      n++;
    }
    return n;
  }
}
