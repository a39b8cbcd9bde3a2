import { type Cursor, encodeCursor } from "./cursor.ts";
import type { StateReport } from "./port.ts";
import { D1Store } from "./store.ts";

// The device rows of the fleet registry (PROTOCOL §11): written by OTA checks in the Worker and by
// each device's object, read by the operator API and by groups for their online members. Every
// list is served by an index (migrations/0001_fleet.sql); nothing asks a device's object.

/** An OTA check, as the Worker sees it: settings-derived names, the firmware's own description. */
export interface Sighting {
  deviceId: string;
  alias: string | null;
  groupKey: string;
  board: string | null;
  firmware: string | null;
  at: number;
}

export interface DeviceItem {
  deviceId: string;
  alias: string | null;
  groupKey: string;
  online: boolean;
  lastSeen: number;
  mode: string | null;
  board: string | null;
  firmware: string | null;
}

export interface ListFilter {
  online?: boolean;
  group?: string;
  /** Id or alias prefix, compared lower-case. */
  q?: string;
}

export interface GroupCount {
  key: string;
  members: number;
  online: number;
}

export interface OnlineMember {
  deviceId: string;
  name: string;
  since: number;
}

interface Row {
  device_id: string;
  alias: string | null;
  group_key: string;
  online: number;
  lease_until: number;
  last_seen: number;
  mode: string | null;
  board: string | null;
  firmware: string | null;
}

/** Above every character a prefix can be followed by (UTF-8 order): the end of a prefix range. */
const PREFIX_END = "\u{10FFFF}";
const COLUMNS = "device_id, alias, group_key, online, lease_until, last_seen, mode, board, firmware";
/** Online is a flag under a lease (see the migration): the one expression every read uses. */
const IS_ONLINE = "(online = 1 AND lease_until > ?)";

export const lowerAlias = (alias: string | null) => (alias === null ? null : alias.toLowerCase());

export class DeviceRegistry extends D1Store {
  /** An OTA check: creates the row or refreshes what the firmware says; the profile's names win. */
  sighted(s: Sighting): Promise<void> {
    return this.q(async (db) => {
      await db
        .prepare(
          `INSERT INTO devices (device_id, alias, alias_lc, group_key, board, firmware, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
           ON CONFLICT(device_id) DO UPDATE SET
             board = COALESCE(excluded.board, devices.board),
             firmware = COALESCE(excluded.firmware, devices.firmware),
             last_seen = MAX(devices.last_seen, excluded.last_seen),
             alias = CASE WHEN devices.profile_alias IS NULL THEN excluded.alias ELSE devices.alias END,
             alias_lc = CASE WHEN devices.profile_alias IS NULL THEN excluded.alias_lc ELSE devices.alias_lc END,
             group_key = COALESCE(devices.profile_group, excluded.group_key)`,
        )
        .bind(s.deviceId, s.alias, lowerAlias(s.alias), s.groupKey, s.board, s.firmware, s.at)
        .run();
    });
  }

  /** A device object's report; a connect or disconnect creates the row, other reports only update it. */
  report(r: StateReport): Promise<void> {
    const values = [
      r.deviceId,
      r.alias,
      lowerAlias(r.alias),
      r.groupKey,
      r.profileAlias,
      r.profileGroup,
      r.online ? 1 : 0,
      r.online ? r.leaseUntil : 0,
      r.online ? r.since : null,
      r.mode,
      r.inbox,
      r.seenAt ?? 0,
      r.at,
    ];
    // In an upsert's DO UPDATE, bare column names are the stored row's, as in a plain UPDATE.
    const set = `alias = ?2, alias_lc = ?3, group_key = ?4, profile_alias = ?5, profile_group = ?6, online = ?7, lease_until = ?8,
      since = ?9, mode = ?10, inbox = COALESCE(?11, inbox), last_seen = MAX(last_seen, ?12), state_at = ?13`;
    return this.q(async (db) => {
      if (r.seenAt === null) {
        await db
          .prepare(`UPDATE devices SET ${set} WHERE device_id = ?1 AND state_at <= ?13`)
          .bind(...values)
          .run();
        return;
      }
      await db
        .prepare(
          `INSERT INTO devices (device_id, alias, alias_lc, group_key, profile_alias, profile_group, online, lease_until, since, mode, inbox, last_seen, state_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, COALESCE(?11, 0), ?12, ?13)
           ON CONFLICT(device_id) DO UPDATE SET ${set} WHERE state_at <= ?13`,
        )
        .bind(...values)
        .run();
    });
  }

  /** One page of the list, newest activity first; `nextCursor` is null on the last page. */
  list(filter: ListFilter, cursor: Cursor | null, limit: number, now: number): Promise<{ items: DeviceItem[]; nextCursor: string | null }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.group !== undefined) {
      where.push("group_key = ?");
      args.push(filter.group);
    }
    if (filter.online !== undefined) {
      where.push(filter.online ? IS_ONLINE : `NOT ${IS_ONLINE}`);
      args.push(now);
    }
    if (filter.q) {
      const lo = filter.q.toLowerCase();
      where.push("((device_id >= ? AND device_id < ?) OR (alias_lc >= ? AND alias_lc < ?))");
      args.push(lo, lo + PREFIX_END, lo, lo + PREFIX_END);
    }
    if (cursor) {
      // The first conjunct lets the index seek to the cursor instead of scanning up to it.
      where.push("last_seen <= ? AND (last_seen < ? OR device_id > ?)");
      args.push(cursor.lastSeen, cursor.lastSeen, cursor.deviceId);
    }
    const sql = `SELECT ${COLUMNS} FROM devices ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY last_seen DESC, device_id LIMIT ?`;
    return this.q(async (db) => {
      const { results } = await db
        .prepare(sql)
        .bind(...args, limit + 1)
        .all<Row>();
      const page = results.slice(0, limit);
      const last = page.at(-1);
      const more = results.length > limit && last !== undefined;
      return { items: page.map((r) => item(r, now)), nextCursor: more ? encodeCursor({ lastSeen: last.last_seen, deviceId: last.device_id }) : null };
    });
  }

  device(deviceId: string, now: number): Promise<DeviceItem | null> {
    return this.q(async (db) => {
      const row = await db.prepare(`SELECT ${COLUMNS} FROM devices WHERE device_id = ?`).bind(deviceId).first<Row>();
      return row ? item(row, now) : null;
    });
  }

  /** Every group with a known device, with member and online counts. */
  groups(now: number): Promise<GroupCount[]> {
    return this.q(async (db) => {
      const { results } = await db
        .prepare(`SELECT group_key AS key, COUNT(*) AS members, SUM(${IS_ONLINE}) AS online FROM devices GROUP BY group_key ORDER BY group_key`)
        .bind(now)
        .all<GroupCount>();
      return results.map((g) => ({ key: g.key, members: g.members, online: g.online ?? 0 }));
    });
  }

  /** A group's online members, by id (a group's fan-out and GET /api/groups/:key/devices). */
  onlineMembers(groupKey: string, now: number): Promise<OnlineMember[]> {
    return this.q(async (db) => {
      const { results } = await db
        .prepare(`SELECT device_id, alias, since FROM devices WHERE group_key = ? AND ${IS_ONLINE} ORDER BY device_id`)
        .bind(groupKey, now)
        .all<{ device_id: string; alias: string | null; since: number | null }>();
      return results.map((r) => ({ deviceId: r.device_id, name: r.alias ?? r.device_id, since: r.since ?? 0 }));
    });
  }

  /** The registry's part of GET /api/stats. */
  counts(now: number): Promise<{ known: number; online: number; groups: number; queued: number }> {
    return this.q(async (db) => {
      const [totals, groups] = await db.batch([
        db.prepare(`SELECT COUNT(*) AS known, SUM(${IS_ONLINE}) AS online, SUM(inbox) AS queued FROM devices`).bind(now),
        db.prepare("SELECT COUNT(*) AS groups FROM (SELECT 1 FROM devices GROUP BY group_key)"),
      ]);
      const t = (totals?.results[0] ?? {}) as { known?: number; online?: number | null; queued?: number | null };
      const g = (groups?.results[0] ?? {}) as { groups?: number };
      return { known: t.known ?? 0, online: t.online ?? 0, groups: g.groups ?? 0, queued: t.queued ?? 0 };
    });
  }
}

function item(r: Row, now: number): DeviceItem {
  return {
    deviceId: r.device_id,
    alias: r.alias,
    groupKey: r.group_key,
    online: r.online === 1 && r.lease_until > now,
    lastSeen: r.last_seen,
    mode: r.mode,
    board: r.board,
    firmware: r.firmware,
  };
}
