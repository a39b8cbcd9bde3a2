import type { Sql } from "../storage/sql.ts";

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

  private readonly sql: Sql;
  private readonly alarm: AlarmPort;

  constructor(sql: Sql, alarm: AlarmPort) {
    this.sql = sql;
    this.alarm = alarm;
  }

  set(name: string, due: number, data: string | null = null): void {
    this.sql.exec(
      "INSERT INTO timers (name, due, data) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET due = excluded.due, data = excluded.data",
      name,
      Math.floor(due),
      data,
    );
    if (this.armed === undefined || this.armed === null || due < this.armed) this.arm();
  }

  /** Sets the timer only if it is not already due earlier: for "at the latest by" deadlines. */
  setIfEarlier(name: string, due: number, data: string | null = null): void {
    const cur = this.get(name);
    if (cur && cur.due <= due) return;
    this.set(name, due, data);
  }

  get(name: string): DueTimer | undefined {
    return this.sql.exec<{ name: string; due: number; data: string | null }>("SELECT name, due, data FROM timers WHERE name = ?", name).toArray()[0];
  }

  clear(name: string): void {
    const { rowsWritten } = this.sql.exec("DELETE FROM timers WHERE name = ?", name);
    if (rowsWritten > 0) this.arm();
  }

  /** Removes and returns every timer due at `now`, earliest first. */
  takeDue(now: number): DueTimer[] {
    const rows = this.sql
      .exec<{ name: string; due: number; data: string | null }>("SELECT name, due, data FROM timers WHERE due <= ? ORDER BY due", now)
      .toArray();
    if (rows.length) this.sql.exec("DELETE FROM timers WHERE due <= ?", now);
    return rows;
  }

  /** Points the alarm at the earliest timer, or removes it when none is left. */
  arm(): void {
    const row = this.sql.exec<{ due: number | null }>("SELECT MIN(due) AS due FROM timers").one();
    const next = row.due;
    if (next === this.armed) return;
    this.armed = next;
    if (next === null) this.alarm.deleteAlarm();
    else this.alarm.setAlarm(next);
  }

  /** After the alarm ran the runtime has no alarm set; the next arm() must write it. */
  alarmFired(): void {
    this.armed = null;
  }
}
