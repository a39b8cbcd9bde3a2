import type { Schema, Sql, Tables } from "../storage/sql.ts";
import type { DeliveryOutcome, PeerEnvelope } from "./messages.ts";

// The offline inbox in the target device's own SQLite (PROTOCOL §9). The server message id is the
// key, so a retried delivery can never queue a message twice. Notices (`redelivered` counts for a
// sender that was offline) share the table but not the cap.
//
// Delivered at least once: a drain marks its rows in flight (kind `sent:message`, `sent:notice`)
// instead of deleting them, and `confirm` deletes them once the socket has outlived the send by
// CONFIRM_AFTER_MS. A drain cut short by the object's reset (a deploy, a crash) never confirms, and
// the next hello delivers those rows again, with the same ids (docs/deploy.md, section 7).

export const INBOX_MIGRATION = {
  name: "inbox-v1",
  up: `CREATE TABLE inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX inbox_expiry ON inbox (expires_at);`,
};

/** How long a socket must stay open after a drain before the drained rows are deleted. */
export const CONFIRM_AFTER_MS = 2000;

export interface InboxLimits {
  max: number;
  ttlMs: number;
}

export interface Drained {
  messages: PeerEnvelope[];
  notices: object[];
}

export class Inbox {
  private readonly sql: Sql;
  private readonly schema: Tables;
  /** Messages (not notices) held, as of `countedAt`; kept in step by enqueue and drain. */
  private held: number | undefined;
  /** The earliest expiry among held messages: before it, nothing needs purging. */
  private nextExpiry = 0;

  constructor(sql: Sql, schema: Schema) {
    this.sql = sql;
    this.schema = schema.part([INBOX_MIGRATION]);
  }

  /** Drops expired entries and recounts; only when something may have expired. */
  private refresh(now: number): number {
    if (this.held !== undefined && now < this.nextExpiry) return this.held;
    this.sql.exec("DELETE FROM inbox WHERE expires_at <= ?", now);
    const row = this.sql.exec<{ n: number; next: number | null }>("SELECT COUNT(*) AS n, MIN(expires_at) AS next FROM inbox WHERE kind = 'message'").one();
    this.held = row.n;
    this.nextExpiry = row.next ?? Number.POSITIVE_INFINITY;
    return this.held;
  }

  count(now: number): number {
    if (!this.schema.exists()) return 0;
    return this.refresh(now);
  }

  enqueue(env: PeerEnvelope, limits: InboxLimits, now: number): DeliveryOutcome {
    this.schema.ensure();
    if (this.refresh(now) >= limits.max) {
      // Full; but a retried delivery of a message already held is still just "enqueued".
      const held = this.sql.exec("SELECT 1 AS x FROM inbox WHERE msg_id = ?", env.id).toArray().length > 0;
      return held ? "enqueued" : "queue_full";
    }
    const { rowsWritten } = this.sql.exec(
      "INSERT INTO inbox (msg_id, kind, sender, body, queued_at, expires_at) VALUES (?, 'message', ?, ?, ?, ?) ON CONFLICT(msg_id) DO NOTHING",
      env.id,
      env.from,
      JSON.stringify(env),
      now,
      now + limits.ttlMs,
    );
    if (rowsWritten > 0) {
      this.held = (this.held ?? 0) + 1;
      this.nextExpiry = Math.min(this.nextExpiry, now + limits.ttlMs);
    }
    return "enqueued";
  }

  enqueueNotice(id: string, notice: object, ttlMs: number, now: number): void {
    this.schema.ensure();
    this.sql.exec(
      "INSERT OR IGNORE INTO inbox (msg_id, kind, sender, body, queued_at, expires_at) VALUES (?, 'notice', '', ?, ?, ?)",
      id,
      JSON.stringify(notice),
      now,
      now + ttlMs,
    );
  }

  /**
   * Takes everything still valid, oldest first (rows an earlier drain left unconfirmed included),
   * and marks it in flight in the same synchronous step; `confirm` removes it.
   */
  drain(now: number): Drained {
    // Read first: the common case, an empty inbox, then writes nothing.
    if (!this.schema.exists()) return { messages: [], notices: [] };
    const rows = this.sql.exec<{ kind: string; body: string; expires_at: number }>("SELECT kind, body, expires_at FROM inbox ORDER BY seq").toArray();
    if (rows.length === 0) return { messages: [], notices: [] };
    this.sql.exec("UPDATE inbox SET kind = 'sent:' || kind WHERE kind NOT LIKE 'sent:%'");
    this.held = 0;
    this.nextExpiry = Number.POSITIVE_INFINITY;
    const out: Drained = { messages: [], notices: [] };
    for (const r of rows) {
      if (r.expires_at <= now) continue;
      if (r.kind.replace(/^sent:/, "") === "message") out.messages.push(JSON.parse(r.body) as PeerEnvelope);
      else out.notices.push(JSON.parse(r.body) as object);
    }
    return out;
  }

  /** Deletes what the drains so far sent: their socket outlived the send. */
  confirm(): void {
    if (this.schema.exists()) this.sql.exec("DELETE FROM inbox WHERE kind LIKE 'sent:%'");
  }

  /** Rows drained but not yet confirmed (tests, the API's view of a device). */
  inFlight(): number {
    if (!this.schema.exists()) return 0;
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inbox WHERE kind LIKE 'sent:%'").one().n;
  }
}
