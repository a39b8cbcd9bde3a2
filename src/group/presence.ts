import type { Sql } from "../storage/sql.ts";

// Group membership and presence in the GroupObject's SQLite. Updates carry the time the device
// object saw the change, so a late "offline" from an old socket cannot undo a newer "online".

export const PRESENCE_MIGRATION = {
  name: "presence-v1",
  up: `CREATE TABLE members (
    device_id TEXT PRIMARY KEY,
    online INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
  );
  CREATE TABLE broadcast_limits (device_id TEXT PRIMARY KEY, last_at INTEGER NOT NULL);`,
};

export interface Member {
  deviceId: string;
  online: boolean;
  changedAt: number;
}

export class Presence {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  update(deviceId: string, online: boolean, at: number): void {
    this.sql.exec(
      `INSERT INTO members (device_id, online, changed_at) VALUES (?, ?, ?)
       ON CONFLICT(device_id) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at
       WHERE excluded.changed_at >= members.changed_at`,
      deviceId,
      online ? 1 : 0,
      at,
    );
  }

  /** Makes configured members (DEVICE_GROUPS) known without marking them online. */
  ensure(deviceIds: readonly string[]): void {
    for (const id of deviceIds) {
      this.sql.exec("INSERT OR IGNORE INTO members (device_id, online, changed_at) VALUES (?, 0, 0)", id);
    }
  }

  all(): Member[] {
    return this.sql
      .exec<{ device_id: string; online: number; changed_at: number }>("SELECT device_id, online, changed_at FROM members ORDER BY device_id")
      .toArray()
      .map((r) => ({ deviceId: r.device_id, online: r.online === 1, changedAt: r.changed_at }));
  }

  online(): Member[] {
    return this.all().filter((m) => m.online);
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
