import { groupOf, type Settings } from "../config/settings.ts";
import { joinGroup } from "../peer/delivery.ts";
import { INBOX_MIGRATION, Inbox } from "../peer/inbox.ts";
import type { PeerPort } from "../peer/port.ts";
import type { WorkflowPort } from "../workflow/port.ts";
import type { Bucket } from "../meeting/archive.ts";
import { MEETING_MIGRATION } from "../meeting/store.ts";
import { OUTBOX_MIGRATION } from "../meeting/webhook.ts";
import { timerHandlers } from "./hooks.ts";
import { log } from "../log.ts";
import { parseFrame } from "../protocol/binary.ts";
import { errorReply } from "../protocol/errors.ts";
import { CLOSE, REPLACED_MESSAGE, type ModeName, type SystemOut } from "../protocol/messages.ts";
import { Schema, type Sql } from "../storage/sql.ts";
import type { Conn } from "./conn.ts";
import { DEVICE_KV_MIGRATION, DeviceStore } from "./device-store.ts";
import { planSocket } from "./lifecycle.ts";
import { takeToken, type Bucket as TokenBucket } from "./rate-limit.ts";
import { dispatchText } from "./router.ts";
import { TIMERS_MIGRATION, TimerTable, type AlarmPort } from "./timers.ts";

// The portable core of one device: everything the DeviceObject does, minus the Workers runtime.
// The object hands it sockets, frames, closes and alarms; it answers through the Conn and Sql ports.

export interface SessionRuntime {
  readonly settings: Settings;
  readonly sql: Sql;
  readonly alarm: AlarmPort;
  now(): number;
  /** Every socket the runtime still holds for this device, replaced ones included. */
  sockets(): Conn[];
  /** When the runtime last answered a ping for us without waking the object (0 when never). */
  lastAutoResponse(conn: Conn): number;
  readonly peers: PeerPort;
  readonly workflow: WorkflowPort;
  /** The meeting archive (R2 in production). */
  readonly archive: Bucket;
  /** Keeps background work (notifications to other objects) alive past the current event. */
  defer(work: Promise<unknown>): void;
  /**
   * Runs `work` in a later turn of the event loop, once what this turn sent has gone out: storage
   * work that does not belong in a reply's latency (opening a new object's database costs more
   * than everything else a first connection does).
   */
  later(work: () => void | Promise<void>, delayMs?: number): void;
}

const TEXT_RATE_PER_S = 50;
const TEXT_BURST = 200;
const BAD_FRAME_REPLY_INTERVAL_MS = 5000;
const ACTIVITY_SAVE_STEP_MS = 1000;

export const DEVICE_MIGRATIONS = [TIMERS_MIGRATION, DEVICE_KV_MIGRATION, INBOX_MIGRATION, MEETING_MIGRATION, OUTBOX_MIGRATION];

export class DeviceSession {
  readonly store: DeviceStore;
  readonly timers: TimerTable;
  readonly inbox: Inbox;
  /** Newest task-list version pushed per group: an older snapshot arriving late is dropped. */
  readonly snapshotVersions = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly savedActivity = new Map<string, number>();

  readonly rt: SessionRuntime;
  /** The device's tables, created by its first write (a first connection writes nothing). */
  readonly schema: Schema;

  constructor(rt: SessionRuntime) {
    this.rt = rt;
    this.schema = new Schema(rt.sql, DEVICE_MIGRATIONS);
    this.store = new DeviceStore(rt.sql, this.schema);
    this.timers = new TimerTable(rt.sql, this.schema, rt.alarm);
    this.inbox = new Inbox(rt.sql, this.schema);
  }

  /** Runs `work` once per key at a time: concurrent callers share the one run in progress. */
  once(key: string, work: () => Promise<void>): Promise<void> {
    let p = this.running.get(key);
    if (!p) {
      p = work().finally(() => this.running.delete(key));
      this.running.set(key, p);
    }
    return p;
  }

  get groupKey(): string {
    return groupOf(this.settings, this.deviceId);
  }



  get settings(): Settings {
    return this.rt.settings;
  }

  /** Stored once the device's first session ends; until then its sockets know it. */
  get deviceId(): string {
    return this.store.get("deviceId") ?? this.rt.sockets()[0]?.state.deviceId ?? "";
  }

  /** Persists the device id if it is not yet (first close, first RPC), never on the connect path. */
  remember(deviceId: string): void {
    if (deviceId && this.store.get("deviceId") !== deviceId) this.store.set("deviceId", deviceId);
  }

  get mode(): ModeName | null {
    return this.store.get("mode")?.mode ?? null;
  }

  now(): number {
    return this.rt.now();
  }

  /** Open sockets that have said hello and were not replaced, newest first. */
  live(): Conn[] {
    return this.rt
      .sockets()
      .filter((c) => c.open && c.state.replacedAt === null && c.state.helloAt !== null)
      .sort((a, b) => b.state.connectedAt - a.state.connectedAt);
  }

  /** The socket pushes go to: the newest live one. */
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

  /** Sends to the current socket; false when the device has none (the caller decides what then). */
  push(msg: object): boolean {
    const conn = this.current();
    if (!conn) return false;
    this.send(conn, msg);
    return true;
  }

  // ---- lifecycle ----

  onConnect(conn: Conn): void {
    const now = this.now();
    for (const old of this.rt.sockets()) {
      if (old === conn || !old.open || old.state.replacedAt !== null) continue;
      // The old socket hears why it is going away, and keeps working until it closes.
      this.send(old, { type: "system", event: "replaced", message: REPLACED_MESSAGE } satisfies SystemOut);
      old.state.replacedAt = now;
      old.save();
      log.info("device.replaced", { deviceId: conn.state.deviceId, oldConn: old.state.id, newConn: conn.state.id });
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
    this.buckets.delete(conn.state.id);
    this.savedActivity.delete(conn.state.id);
    const now = this.now();
    this.remember(conn.state.deviceId);
    this.store.set("lastSeen", now);
    joinGroup(this);
    log.info("device.disconnected", {
      deviceId: conn.state.deviceId,
      conn: conn.state.id,
      code,
      helloed: conn.state.helloAt !== null,
      audioFrames: conn.state.audioFrames,
      badFrames: conn.state.badFrames,
    });
    this.reschedule();
  }

  private touch(conn: Conn, now: number): void {
    conn.state.lastActivity = now;
    // The attachment write is throttled: a second of staleness after hibernation is harmless.
    const saved = this.savedActivity.get(conn.state.id) ?? 0;
    if (now - saved >= ACTIVITY_SAVE_STEP_MS) {
      this.savedActivity.set(conn.state.id, now);
      conn.save();
    }
  }

  async onText(conn: Conn, text: string): Promise<void> {
    const now = this.now();
    this.touch(conn, now);
    let bucket = this.buckets.get(conn.state.id);
    if (!bucket) this.buckets.set(conn.state.id, (bucket = { tokens: TEXT_BURST, at: now }));
    if (!takeToken(bucket, now, TEXT_RATE_PER_S, TEXT_BURST)) {
      this.send(conn, errorReply("RATE_LIMITED", `more than ${TEXT_RATE_PER_S} messages per second`, { retryAfterMs: 1000 }));
      return;
    }
    await dispatchText(this, conn, text);
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
      void dispatchText(this, conn, frame.text);
      return;
    }
    if (frame.kind === "audio") conn.state.audioFrames++;
    // Audio and end-of-speech feed the voice pipeline once it is configured; until then they are
    // counted (logged at close) and the session carries on.
  }

  /** Points the alarm at the next moment any socket needs attention (idle, heartbeat, handover). */
  reschedule(): void {
    const now = this.now();
    let next: number | null = null;
    for (const conn of this.rt.sockets()) {
      if (!conn.open) continue;
      const plan = planSocket(conn.state, this.lastInbound(conn), this.mode, this.limits(), now);
      if (plan.actions.length) next = now;
      else if (plan.next !== null) next = next === null ? plan.next : Math.min(next, plan.next);
    }
    this.timers.setFloor(next);
  }

  private limits() {
    return { idleTimeoutS: this.settings.IDLE_TIMEOUT_S, idleWarningS: this.settings.IDLE_WARNING_S };
  }

  private lastInbound(conn: Conn): number {
    return Math.max(conn.state.lastActivity, this.rt.lastAutoResponse(conn));
  }

  private sweep(): void {
    const now = this.now();
    for (const conn of this.rt.sockets()) {
      if (!conn.open) continue;
      const plan = planSocket(conn.state, this.lastInbound(conn), this.mode, this.limits(), now);
      for (const action of plan.actions) {
        switch (action.kind) {
          case "close-replaced":
            conn.close(CLOSE.replaced, "replaced by a new connection");
            break;
          case "timeout":
            this.send(conn, { type: "system", event: "timeout" } satisfies SystemOut);
            conn.close(CLOSE.idle, "idle timeout");
            log.info("device.idle_timeout", { deviceId: conn.state.deviceId, conn: conn.state.id });
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
      const handler = Object.hasOwn(timerHandlers, prefix) ? timerHandlers[prefix] : undefined;
      if (!handler) {
        log.warn("timer.unknown", { name: timer.name });
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

  /** Operator disconnect (DELETE /api/devices/:id/sessions): credentials revoked → 1008. */
  disconnectAll(reason: string): number {
    let n = 0;
    for (const conn of this.rt.sockets()) {
      if (!conn.open) continue;
      conn.close(CLOSE.policy, reason);
      n++;
    }
    return n;
  }
}
