import type { Schema, Sql } from "../storage/sql.ts";
import type { DeliveryOutcome, PeerEnvelope } from "./messages.ts";

// The offline inbox in the target device's own SQLite (PROTOCOL §9). The server message id is the
// key, so a retried delivery can never queue a message twice. Notices (`redelivered` counts for a
// sender that was offline) share the table but not the cap.

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
  private readonly schema: Schema;

  constructor(sql: Sql, schema: Schema) {
    this.sql = sql;
    this.schema = schema;
  }

  private purge(now: number): void {
    this.sql.exec("DELETE FROM inbox WHERE expires_at <= ?", now);
  }

  count(now: number): number {
    if (!this.schema.exists()) return 0;
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inbox WHERE kind = 'message' AND expires_at > ?", now).one().n;
  }

  enqueue(env: PeerEnvelope, limits: InboxLimits, now: number): DeliveryOutcome {
    this.schema.ensure();
    this.purge(now);
    const exists = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inbox WHERE msg_id = ?", env.id).one().n;
    if (exists) return "enqueued";
    if (this.count(now) >= limits.max) return "queue_full";
    this.sql.exec(
      "INSERT INTO inbox (msg_id, kind, sender, body, queued_at, expires_at) VALUES (?, 'message', ?, ?, ?, ?)",
      env.id,
      env.from,
      JSON.stringify(env),
      now,
      now + limits.ttlMs,
    );
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

  /** Takes everything still valid, oldest first, and removes it in the same synchronous step. */
  drain(now: number): Drained {
    // Read first: the common case, an empty inbox, then writes nothing.
    if (!this.schema.exists()) return { messages: [], notices: [] };
    const rows = this.sql.exec<{ kind: string; body: string; expires_at: number }>("SELECT kind, body, expires_at FROM inbox ORDER BY seq").toArray();
    if (rows.length === 0) return { messages: [], notices: [] };
    this.sql.exec("DELETE FROM inbox");
    const out: Drained = { messages: [], notices: [] };
    for (const r of rows) {
      if (r.expires_at <= now) continue;
      if (r.kind === "message") out.messages.push(JSON.parse(r.body) as PeerEnvelope);
      else out.notices.push(JSON.parse(r.body) as object);
    }
    return out;
  }
}
