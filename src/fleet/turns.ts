import { D1Store } from "./store.ts";

// Voice turns of the last hours, for the voice figures of GET /api/stats. One row per turn; rows
// older than the window the stats read are pruned as new ones arrive.

const HOUR_MS = 3_600_000;
const KEEP_MS = 2 * HOUR_MS;

export class VoiceTurns extends D1Store {
  record(deviceId: string, at: number, firstFrameMs: number | null): Promise<void> {
    const ms = firstFrameMs === null || !Number.isFinite(firstFrameMs) ? null : Math.max(0, Math.round(firstFrameMs));
    return this.q(async (db) => {
      await db.batch([
        db.prepare("INSERT INTO voice_turns (at, device_id, first_frame_ms) VALUES (?, ?, ?)").bind(at, deviceId, ms),
        db.prepare("DELETE FROM voice_turns WHERE at < ?").bind(at - KEEP_MS),
      ]);
    });
  }

  /** Turns in the last hour and the median time to their first audio frame (nearest rank, lower). */
  lastHour(now: number): Promise<{ turnsLastHour: number; firstFrameP50Ms: number | null }> {
    return this.q(async (db) => {
      const row = await db
        .prepare(
          `SELECT (SELECT COUNT(*) FROM voice_turns WHERE at > ?1) AS turns,
             (SELECT first_frame_ms FROM voice_turns WHERE at > ?1 AND first_frame_ms IS NOT NULL ORDER BY first_frame_ms LIMIT 1
                OFFSET (SELECT (COUNT(*) - 1) / 2 FROM voice_turns WHERE at > ?1 AND first_frame_ms IS NOT NULL)) AS p50`,
        )
        .bind(now - HOUR_MS)
        .first<{ turns: number; p50: number | null }>();
      return { turnsLastHour: row?.turns ?? 0, firstFrameP50Ms: row?.p50 ?? null };
    });
  }
}
