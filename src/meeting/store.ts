import type { Session } from "../session/capability.ts";
import { LazyStore, type Schema, type Sql } from "../storage/sql.ts";
import type { Segment } from "./messages.ts";
import type { Summary } from "./summary/schema.ts";

// A device's meetings in its own SQLite: the meeting row and its segments. Nothing of a meeting is
// held in memory, so memory stays flat however long it runs, and it survives disconnects and
// eviction until it is finalised.

export const MEETING_MIGRATION = {
  name: "meeting-v1",
  up: `CREATE TABLE meetings (
    id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    phase TEXT NOT NULL,
    ended_at INTEGER,
    pushed_seq INTEGER NOT NULL DEFAULT 0,
    summary TEXT,
    degraded TEXT,
    summary_delivered INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE meeting_segments (
    meeting_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    text TEXT NOT NULL,
    speaker_id TEXT,
    tag TEXT,
    PRIMARY KEY (meeting_id, seq)
  );`,
};

export const PUSH_TIMER = "meeting-push";
export const FINALIZE_TIMER = "meeting-finalize";
export const ARCHIVE_TIMER = "meeting-archive";
export const WEBHOOK_TIMER = "webhook";
export const RETENTION_TIMER = "meeting-retention";

export type MeetingPhase = "active" | "finalizing" | "done";

export interface MeetingRow {
  id: string;
  startedAt: number;
  phase: MeetingPhase;
  endedAt: number | null;
  pushedSeq: number;
  summary: Summary | null;
  degraded: string | null;
  summaryDelivered: boolean;
}

type Raw = {
  id: string;
  started_at: number;
  phase: string;
  ended_at: number | null;
  pushed_seq: number;
  summary: string | null;
  degraded: string | null;
  summary_delivered: number;
};

function toRow(r: Raw): MeetingRow {
  return {
    id: r.id,
    startedAt: r.started_at,
    phase: r.phase as MeetingPhase,
    endedAt: r.ended_at,
    pushedSeq: r.pushed_seq,
    summary: r.summary ? (JSON.parse(r.summary) as Summary) : null,
    degraded: r.degraded,
    summaryDelivered: r.summary_delivered === 1,
  };
}

/** The form of every meeting id this server makes; anything else is refused before it reaches R2. */
export const MEETING_ID = /^m-\d{8}-[0-9a-f]{10}$/;

export function newMeetingId(now: number): string {
  const d = new Date(now).toISOString().slice(0, 10).replace(/-/g, "");
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(5)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `m-${d}-${rand}`;
}

export class MeetingStore extends LazyStore {
  constructor(sql: Sql, schema: Schema) {
    super(sql, schema, [MEETING_MIGRATION]);
  }

  /** The newest meeting of this device, whatever its phase. */
  latest(): MeetingRow | null {
    if (!this.schema.exists()) return null;
    const r = this.sql.exec<Raw>("SELECT * FROM meetings ORDER BY started_at DESC, rowid DESC LIMIT 1").toArray()[0];
    return r ? toRow(r) : null;
  }

  get(id: string): MeetingRow | null {
    if (!this.schema.exists()) return null;
    const r = this.sql.exec<Raw>("SELECT * FROM meetings WHERE id = ?", id).toArray()[0];
    return r ? toRow(r) : null;
  }

  create(now: number): MeetingRow {
    const id = newMeetingId(now);
    this.db.exec("INSERT INTO meetings (id, started_at, phase) VALUES (?, ?, 'active')", id, now);
    return this.get(id)!;
  }

  count(id: string): number {
    return this.db.exec<{ n: number }>("SELECT COUNT(*) AS n FROM meeting_segments WHERE meeting_id = ?", id).one().n;
  }

  add(id: string, items: ReadonlyArray<{ text: string; speakerId?: string; tag?: string }>, now: number): Segment[] {
    const last = this.db.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM meeting_segments WHERE meeting_id = ?", id).one().s ?? 0;
    const out: Segment[] = [];
    items.forEach((item, i) => {
      const seq = last + i + 1;
      this.db.exec(
        "INSERT INTO meeting_segments (meeting_id, seq, ts, text, speaker_id, tag) VALUES (?, ?, ?, ?, ?, ?)",
        id,
        seq,
        now,
        item.text,
        item.speakerId ?? null,
        item.tag ?? null,
      );
      out.push({ seq, ts: now, text: item.text, ...(item.speakerId ? { speakerId: item.speakerId } : {}), ...(item.tag ? { tag: item.tag } : {}) });
    });
    return out;
  }

  segments(id: string, afterSeq = 0, limit = 1_000_000): Segment[] {
    return this.sql
      .exec<{ seq: number; ts: number; text: string; speaker_id: string | null; tag: string | null }>(
        "SELECT seq, ts, text, speaker_id, tag FROM meeting_segments WHERE meeting_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        id,
        afterSeq,
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, ts: r.ts, text: r.text, ...(r.speaker_id ? { speakerId: r.speaker_id } : {}), ...(r.tag ? { tag: r.tag } : {}) }));
  }

  markPushed(id: string, seq: number): void {
    this.db.exec("UPDATE meetings SET pushed_seq = MAX(pushed_seq, ?) WHERE id = ?", seq, id);
  }

  /** active → finalizing, once: true only for the caller that made the change. */
  beginFinalize(id: string, now: number): boolean {
    return this.db.exec("UPDATE meetings SET phase = 'finalizing', ended_at = ? WHERE id = ? AND phase = 'active'", now, id).rowsWritten > 0;
  }

  finish(id: string, summary: Summary, degraded: string | null): void {
    this.db.exec("UPDATE meetings SET phase = 'done', summary = ?, degraded = ? WHERE id = ?", JSON.stringify(summary), degraded, id);
  }

  markSummaryDelivered(id: string): void {
    this.db.exec("UPDATE meetings SET summary_delivered = 1 WHERE id = ?", id);
  }

  /** Segments are archived with the meeting; the device keeps only what it still needs. */
  dropSegments(id: string): void {
    this.db.exec("DELETE FROM meeting_segments WHERE meeting_id = ?", id);
  }
}

const STORE = {};
/** The device's meeting store (one per object). */
export function meetings(session: Session): MeetingStore {
  return session.local(STORE, () => new MeetingStore(session.sql, session.schema));
}
