import type { Sql } from "../storage/sql.ts";

// Group membership in the GroupObject's SQLite. A device joins once (its object remembers that it
// did), so connects cost the group nothing; whether a member is online is asked of the member's
// own object when it matters (listing, fan-out), so the answer is always current and a group that
// every device of a vendor shares (the default key is the id's first 8 characters) is no hot spot.

export const MEMBERS_MIGRATION = {
  name: "members-v1",
  up: `CREATE TABLE group_members (device_id TEXT PRIMARY KEY, joined_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS broadcast_limits (device_id TEXT PRIMARY KEY, last_at INTEGER NOT NULL);`,
};

export class Members {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  join(deviceIds: readonly string[], at: number): void {
    for (const id of deviceIds) this.sql.exec("INSERT OR IGNORE INTO group_members (device_id, joined_at) VALUES (?, ?)", id, at);
  }

  leave(deviceId: string): void {
    this.sql.exec("DELETE FROM group_members WHERE device_id = ?", deviceId);
  }

  all(): string[] {
    return this.sql
      .exec<{ device_id: string }>("SELECT device_id FROM group_members ORDER BY device_id")
      .toArray()
      .map((r) => r.device_id);
  }

  /** Broadcast rate limit: returns 0 when allowed (and records it), else the wait in ms. */
  takeBroadcast(deviceId: string, intervalMs: number, now: number): number {
    const row = this.sql.exec<{ last_at: number }>("SELECT last_at FROM broadcast_limits WHERE device_id = ?", deviceId).toArray()[0];
    if (row && now - row.last_at < intervalMs) return intervalMs - (now - row.last_at);
    this.sql.exec(
      "INSERT INTO broadcast_limits (device_id, last_at) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET last_at = excluded.last_at",
      deviceId,
      now,
    );
    return 0;
  }
}
