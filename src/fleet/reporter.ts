import { log } from "../log.ts";
import type { Conn } from "../session/conn.ts";
import type { Session } from "../session/capability.ts";
import type { FleetPort, StateReport } from "./port.ts";

// A device's object keeps its own registry row current: after each connect and disconnect (and a
// mode, profile or inbox change) it writes the state it has at that moment. Writes run beside the
// session, never in a reply's path, one at a time per device, and a burst of changes becomes one
// write of the latest state. Every write is computed from the runtime's sockets, not from memory,
// so an object woken after eviction (its hibernated sockets still open) reports the truth.

/**
 * How long an online row stays online without renewal, and how often a connected device renews it
 * (one alarm and one D1 write per connected device every RENEW_MS; a missed renewal is survived).
 */
export const LEASE_MS = 25 * 60_000;
export const RENEW_MS = 10 * 60_000;
const RETRY_MS = [1000, 5000, 15_000];
/** An inbox count alone waits this long: a burst of queued messages becomes one write. */
export const INBOX_REPORT_DELAY_MS = 1000;

export interface Change {
  /** A connect or disconnect at this time: moves lastSeen and creates the row if needed. */
  seenAt?: number;
  /** The inbox holds this many messages now. */
  inbox?: number;
  /** This socket is closing: it no longer counts as live even if the runtime still lists it. */
  closing?: Conn;
}

export class Reporter {
  private readonly session: Session;
  private readonly port: FleetPort;
  private dirty = false;
  private running = false;
  private lastAt = 0;
  private seenAt: number | null = null;
  private inbox: number | null = null;
  private readonly closing = new Set<string>();
  private failures = 0;
  private inboxPending = false;

  constructor(session: Session, port: FleetPort) {
    this.session = session;
    this.port = port;
  }

  /**
   * Something changed: the latest state is written soon (now, or after the write in flight). A
   * change of the inbox count alone waits a moment, so a burst of queued messages is one write.
   */
  note(change: Change = {}): void {
    if (change.seenAt !== undefined) this.seenAt = Math.max(this.seenAt ?? 0, change.seenAt);
    if (change.closing) this.closing.add(change.closing.state.id);
    if (change.inbox !== undefined) {
      this.inbox = change.inbox;
      if (change.seenAt === undefined && !change.closing) {
        if (!this.inboxPending) {
          this.inboxPending = true;
          this.session.later(() => {
            if (this.inboxPending) this.note();
          }, INBOX_REPORT_DELAY_MS);
        }
        return;
      }
    }
    this.dirty = true;
    if (!this.running) this.session.defer(this.flush());
  }

  /** The state to write now. Public for tests. */
  snapshot(): StateReport {
    const s = this.session;
    const now = s.now();
    const all = s.live();
    // A closed socket leaves the live list for good: its id need not be remembered past that.
    for (const id of this.closing) if (!all.some((c) => c.state.id === id)) this.closing.delete(id);
    const live = all.filter((c) => !this.closing.has(c.state.id));
    const own = s.overrides();
    const online = live.length > 0;
    // Strictly increasing per object, so two reports in one millisecond still have an order.
    this.lastAt = Math.max(now, this.lastAt + 1);
    return {
      deviceId: s.deviceId,
      alias: s.alias,
      groupKey: s.groupKey,
      profileAlias: own.alias,
      profileGroup: own.group,
      online,
      since: online ? Math.min(...live.map((c) => c.state.connectedAt)) : null,
      mode: s.mode,
      inbox: this.inbox,
      seenAt: this.seenAt,
      at: this.lastAt,
      leaseUntil: now + LEASE_MS,
    };
  }

  private async flush(): Promise<void> {
    this.running = true;
    try {
      while (this.dirty) {
        this.dirty = false;
        const report = this.snapshot();
        const seen = this.seenAt;
        this.seenAt = null;
        this.inboxPending = false;
        try {
          await this.port.report(report);
          this.failures = 0;
        } catch (err) {
          this.retry(report, seen, err);
          return;
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** A failed write is tried again a few times, then left to the next change or lease renewal. */
  private retry(report: StateReport, seen: number | null, err: unknown): void {
    const wait = RETRY_MS[this.failures++];
    log.warn("fleet.report_failed", { deviceId: report.deviceId, online: report.online, attempt: this.failures, error: err });
    if (seen !== null) this.seenAt = Math.max(this.seenAt ?? 0, seen);
    if (wait === undefined) {
      this.failures = 0;
      return;
    }
    this.session.later(() => this.note(), wait);
  }
}

const REPORTERS = {};

/** The device's reporter (one per object instance; state is rebuilt from the sockets after a wake). */
export function reporterOf(session: Session, port: FleetPort): Reporter {
  return session.local(REPORTERS, () => new Reporter(session, port));
}
