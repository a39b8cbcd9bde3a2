import { fact, type Session } from "../session/capability.ts";
import type { DeviceStore } from "../session/device-store.ts";
import { LazyStore, type Schema, type Sql } from "../storage/sql.ts";
import { appendBounded, emptyStatsState, HISTORY_MAX, reduceStats, type HistoryEntry, type HistoryKind, type StatsState } from "./history.ts";
import type { CodingInsightOut, LogLevel } from "./messages.ts";

// A device's coding run in its own SQLite (PROTOCOL §8): the bounded history as rows (the last
// HISTORY_MAX lines, oldest dropped on insert) and one small fact beside it with the incremental
// stats, the phase and the last insight sent. Durable, so the run survives reconnects and eviction
// while coding mode lasts; the rows are mirrored in memory once read, so an insight never rereads
// 200 rows.

export const CODING_MIGRATION = {
  name: "coding-v1",
  up: `CREATE TABLE coding_history (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    text TEXT NOT NULL,
    name TEXT,
    status TEXT,
    ts INTEGER NOT NULL
  )`,
};

export interface CodingRun {
  /** Bumped by every reset: work started for an older run does not write into a newer one. */
  epoch: number;
  /** Sequence number of the newest history row (rows dropped beyond HISTORY_MAX included). */
  seq: number;
  /** Stats since the run's start, over every entry (not only the 200 kept). */
  stats: StatsState;
  phase: string;
  /** A `stop` ended the run: the next event begins a fresh one. */
  stopped: boolean;
  /** The last insight or summary delivered, and the history `seq` it covered. */
  last: { msg: CodingInsightOut; seq: number } | null;
}

const RUN = fact<CodingRun>("coding");
const ROW = "(?, ?, ?, ?, ?, ?, ?)";
/** 7 values a row, at most 100 bound values a statement. */
const ROWS_PER_INSERT = 14;

function emptyRun(epoch: number): CodingRun {
  return { epoch, seq: 0, stats: emptyStatsState(), phase: "", stopped: false, last: null };
}

type Row = { seq: number; kind: string; level: string; text: string; name: string | null; status: string | null; ts: number };

function toEntry(r: Row): HistoryEntry {
  return {
    kind: r.kind as HistoryKind,
    level: r.level as LogLevel,
    text: r.text,
    ...(r.name !== null ? { name: r.name } : {}),
    ...(r.status !== null ? { status: r.status } : {}),
    ts: r.ts,
  };
}

export class CodingStore extends LazyStore {
  private readonly facts: DeviceStore;
  /** The stored rows, oldest first, once read (null: not read yet in this isolate). */
  private mirror: HistoryEntry[] | null = null;

  constructor(sql: Sql, schema: Schema, facts: DeviceStore) {
    super(sql, schema, [CODING_MIGRATION]);
    this.facts = facts;
  }

  run(): CodingRun {
    return this.facts.get(RUN) ?? emptyRun(0);
  }

  /** The history, oldest first (at most HISTORY_MAX entries). */
  entries(): readonly HistoryEntry[] {
    if (this.mirror === null) {
      this.mirror = this.schema.exists()
        ? this.sql.exec<Row>("SELECT seq, kind, level, text, name, status, ts FROM coding_history ORDER BY seq").toArray().map(toEntry)
        : [];
    }
    return this.mirror;
  }

  /** Stores new entries: the stats fold all of them, the rows keep the newest HISTORY_MAX. */
  append(added: readonly HistoryEntry[]): CodingRun {
    const run = this.run();
    let stats = run.stats;
    let phase = run.phase;
    for (const e of added) {
      stats = reduceStats(stats, e);
      if (e.kind === "phase") phase = e.name ?? e.text;
    }
    const kept = added.length > HISTORY_MAX ? added.slice(added.length - HISTORY_MAX) : added;
    // Entries cut from a huge message still take their sequence numbers: `seq` counts lines seen.
    let seq = run.seq + (added.length - kept.length);
    const db = this.db;
    // Several rows per statement: a forwarded chunk is many lines, and each statement has a fixed
    // cost in the runtime. Durable Object SQL takes at most 100 bound values per statement.
    for (let at = 0; at < kept.length; at += ROWS_PER_INSERT) {
      const rows = kept.slice(at, at + ROWS_PER_INSERT);
      const values: unknown[] = [];
      for (const e of rows) values.push(++seq, e.kind, e.level, e.text, e.name ?? null, e.status ?? null, e.ts);
      db.exec(`INSERT INTO coding_history (seq, kind, level, text, name, status, ts) VALUES ${rows.map(() => ROW).join(", ")}`, ...values);
    }
    if (seq > HISTORY_MAX) db.exec("DELETE FROM coding_history WHERE seq <= ?", seq - HISTORY_MAX);
    if (this.mirror !== null) this.mirror = appendBounded(this.mirror, kept);
    const next: CodingRun = { ...run, seq, stats, phase };
    this.facts.set(RUN, next);
    return next;
  }

  /** Empties history and stats (`start`, `clear`, the first event after a `stop`). */
  reset(): CodingRun {
    const next = emptyRun(this.run().epoch + 1);
    if (this.schema.exists()) this.sql.exec("DELETE FROM coding_history");
    this.mirror = [];
    this.facts.set(RUN, next);
    return next;
  }

  markStopped(): void {
    const run = this.run();
    if (!run.stopped) this.facts.set(RUN, { ...run, stopped: true });
  }

  /** Keeps the message just delivered, unless its run has been reset since it started. */
  remember(msg: CodingInsightOut, epoch: number, seq: number): void {
    const run = this.run();
    if (run.epoch === epoch) this.facts.set(RUN, { ...run, last: { msg, seq } });
  }

  /** Coding mode ended: nothing of the run is kept. */
  drop(): void {
    if (this.schema.exists()) this.sql.exec("DELETE FROM coding_history");
    this.mirror = [];
    // An empty run rather than no fact: its epoch still moves on, so late work of the old run is ignored.
    const run = this.facts.get(RUN);
    if (run !== undefined) this.facts.set(RUN, emptyRun(run.epoch + 1));
  }
}

const STORE = {};
/** The device's coding store (one per object). */
export function codingStore(session: Session): CodingStore {
  return session.local(STORE, () => new CodingStore(session.sql, session.schema, session.store));
}
