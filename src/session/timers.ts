import type { Sql, Tables } from "../storage/sql.ts";

// One alarm, many timers (the agents SDK pattern): a due-time table in SQLite, and the object's
// single alarm always set to the earliest entry. Timers survive hibernation and eviction.

export const TIMERS_MIGRATION = {
  name: "timers-v1",
  up: "CREATE TABLE timers (name TEXT PRIMARY KEY, due INTEGER NOT NULL, data TEXT)",
};

export interface AlarmPort {
  setAlarm(at: number): void;
  deleteAlarm(): void;
}

export interface DueTimer {
  name: string;
  due: number;
  data: string | null;
}

export class TimerTable {
  /** The alarm time we last asked for; avoids rewriting the alarm on every change. */
  private armed: number | null | undefined;
  /** Earliest due time in the table, cached (undefined: not read yet). */
  private tableMin: number | null | undefined;
  /**
   * A due time kept only in memory and in the alarm itself: the session's socket sweep. It needs no
   * row because every alarm runs the sweep, which recomputes it from the sockets' attachments.
   */
  private floor: number | null = null;

  private readonly sql: Sql;
  private readonly schema: Tables;
  private readonly alarm: AlarmPort;

  constructor(sql: Sql, tables: Tables, alarm: AlarmPort) {
    this.sql = sql;
    this.schema = tables;
    this.alarm = alarm;
  }

  set(name: string, due: number, data: string | null = null): void {
    const at = Math.floor(due);
    this.schema.ensure();
    this.sql.exec(
      "INSERT INTO timers (name, due, data) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET due = excluded.due, data = excluded.data",
      name,
      at,
      data,
    );
    // Replacing a timer can move the minimum later: only an earlier one is known without a read.
    this.tableMin = this.tableMin !== undefined && this.tableMin !== null && at <= this.tableMin ? at : undefined;
    this.arm();
  }

  get(name: string): DueTimer | undefined {
    if (!this.schema.exists()) return undefined;
    return this.sql.exec<{ name: string; due: number; data: string | null }>("SELECT name, due, data FROM timers WHERE name = ?", name).toArray()[0];
  }

  clear(name: string): void {
    if (!this.schema.exists()) return;
    const { rowsWritten } = this.sql.exec("DELETE FROM timers WHERE name = ?", name);
    if (rowsWritten > 0) {
      this.tableMin = undefined;
      this.arm();
    }
  }

  /** Removes and returns every timer due at `now`, earliest first. */
  takeDue(now: number): DueTimer[] {
    if (!this.schema.exists()) return [];
    const rows = this.sql
      .exec<{ name: string; due: number; data: string | null }>("SELECT name, due, data FROM timers WHERE due <= ? ORDER BY due", now)
      .toArray();
    if (rows.length) {
      this.sql.exec("DELETE FROM timers WHERE due <= ?", now);
      this.tableMin = undefined;
    }
    return rows;
  }

  /** Sets (or with null, removes) the in-memory due time; see `floor`. */
  setFloor(at: number | null): void {
    if (at === this.floor) return;
    this.floor = at === null ? null : Math.floor(at);
    this.arm();
  }

  /** Points the alarm at the earliest due time, or removes it when there is none. */
  arm(): void {
    if (this.tableMin === undefined) {
      this.tableMin = this.schema.exists() ? this.sql.exec<{ due: number | null }>("SELECT MIN(due) AS due FROM timers").one().due : null;
    }
    const candidates = [this.tableMin, this.floor].filter((v): v is number => v !== null);
    const next = candidates.length ? Math.min(...candidates) : null;
    if (next === this.armed) return;
    this.armed = next;
    if (next === null) this.alarm.deleteAlarm();
    else this.alarm.setAlarm(next);
  }

  /** After the alarm ran the runtime has no alarm set; the next arm() must write it. */
  alarmFired(): void {
    this.armed = null;
    this.floor = null;
  }
}
