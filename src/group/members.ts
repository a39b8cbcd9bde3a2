import type { Sql } from "../storage/sql.ts";

// Group membership in the GroupObject's SQLite. A device joins once (its object remembers that it
// did), so connects cost the group nothing; which members are online comes from the fleet
// registry, which each device's object keeps current, so a group that every device of a vendor
// shares (the default key is the id's first 8 characters) is no hot spot.

export const MEMBERS_MIGRATION = {
  name: "members-v1",
  up: `CREATE TABLE group_members (device_id TEXT PRIMARY KEY, joined_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS broadcast_limits (device_id TEXT PRIMARY KEY, last_at INTEGER NOT NULL);`,
};

/** Members the device's own object put here (its profile may name a group the settings do not). */
export const MEMBERS_PINNED_MIGRATION = {
  name: "members-v2",
  up: "ALTER TABLE group_members ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
};

/** The name the device's object gave when it joined: its profile's alias wins over DEVICE_ALIASES. */
export const MEMBERS_NAME_MIGRATION = {
  name: "members-v3",
  up: "ALTER TABLE group_members ADD COLUMN name TEXT",
};

export interface Member {
  deviceId: string;
  pinned: boolean;
}

export class Members {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  join(deviceIds: readonly string[], at: number): void {
    for (const id of deviceIds) this.sql.exec("INSERT OR IGNORE INTO group_members (device_id, joined_at) VALUES (?, ?)", id, at);
  }

  /** A member by its own word; `pinned` when only its profile puts it here; `name` its alias, if any. */
  claim(deviceId: string, pinned: boolean, at: number, name: string | null): void {
    this.sql.exec(
      `INSERT INTO group_members (device_id, joined_at, pinned, name) VALUES (?, ?, ?, ?)
       ON CONFLICT(device_id) DO UPDATE SET pinned = excluded.pinned, name = excluded.name`,
      deviceId,
      at,
      pinned ? 1 : 0,
      name,
    );
  }

  /** The names members gave when they joined, by device id (those that gave one). */
  names(): Map<string, string> {
    const rows = this.sql.exec<{ device_id: string; name: string }>("SELECT device_id, name FROM group_members WHERE name IS NOT NULL").toArray();
    return new Map(rows.map((r) => [r.device_id, r.name]));
  }

  leave(deviceId: string): void {
    this.sql.exec("DELETE FROM group_members WHERE device_id = ?", deviceId);
  }

  all(): Member[] {
    return this.sql
      .exec<{ device_id: string; pinned: number }>("SELECT device_id, pinned FROM group_members ORDER BY device_id")
      .toArray()
      .map((r) => ({ deviceId: r.device_id, pinned: r.pinned === 1 }));
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
