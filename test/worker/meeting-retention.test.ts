import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyRetention, archiveMeeting, type MeetingRecord } from "../../src/meeting/archive.ts";

// Its own file: Worker test storage is per file, so the bucket holds only these meetings.
describe("meeting retention", () => {
  it("keeps exactly the newest 100 of 105 meetings, with all their parts", async () => {
    const summary = { title: "t", bullets: [], decisions: [], actions: [], risks: [], nextSteps: [] };
    for (let i = 0; i < 105; i++) {
      const startedAt = 1_700_000_000_000 + i * 1000;
      const rec: MeetingRecord = {
        meetingId: `m-ret-${i}`,
        deviceId: "ret:dev",
        startedAt,
        endedAt: startedAt + 500,
        duration: "00:00:00",
        segmentCount: 600,
        summary,
      };
      await archiveMeeting(
        env.ARCHIVE,
        rec,
        Array.from({ length: 600 }, (_, s) => ({ seq: s + 1, ts: rec.startedAt, text: `s${s}` })),
      );
    }
    await applyRetention(env.ARCHIVE, 100);
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await env.ARCHIVE.list({ prefix: "", ...(cursor ? { cursor } : {}) });
      keys.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    const mine = keys.filter((k) => k.includes("m-ret-"));
    const kept = new Set(mine.map((k) => /m-ret-(\d+)/.exec(k)![1]));
    expect([...kept].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 5));
    // Every kept meeting has its record, both segment chunks and both index entries: 5 parts.
    expect(mine).toHaveLength(500);
  });
});
