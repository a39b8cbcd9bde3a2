import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyRetention, archiveMeeting, type Bucket, type MeetingRecord } from "../../src/meeting/archive.ts";

// Its own file: Worker test storage is per file, so the bucket holds only these meetings.

const DAY = 86_400_000;
const summary = { title: "t", bullets: [], decisions: [], actions: [], risks: [], nextSteps: [] };

async function archive(deviceId: string, meetingId: string, startedAt: number, segments = 600): Promise<void> {
  const rec: MeetingRecord = { meetingId, deviceId, startedAt, endedAt: startedAt + 500, duration: "00:00:00", segmentCount: segments, summary };
  await archiveMeeting(
    env.ARCHIVE,
    rec,
    Array.from({ length: segments }, (_, s) => ({ seq: s + 1, ts: startedAt, text: `s${s}` })),
  );
}

async function allKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.ARCHIVE.list({ prefix: "", ...(cursor ? { cursor } : {}) });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

/** The bucket, recording every prefix it is asked to list. */
function watched(): { bucket: Bucket; prefixes: string[] } {
  const prefixes: string[] = [];
  const b = env.ARCHIVE as unknown as Bucket;
  return {
    prefixes,
    bucket: {
      put: (k, v, o) => b.put(k, v, o),
      get: (k) => b.get(k),
      delete: (k) => b.delete(k),
      list: (o) => {
        prefixes.push(o.prefix);
        return b.list(o);
      },
    },
  };
}

describe("meeting retention (PROTOCOL §6.1)", () => {
  it("keeps a device's newest N with all their parts, lists only that device's index, leaves other devices alone", async () => {
    const base = Date.now() - 10 * DAY;
    for (let i = 0; i < 105; i++) await archive("ret:aa", `m-reta-${i}`, base + i * 1000);
    for (let i = 0; i < 3; i++) await archive("ret:bb", `m-retb-${i}`, base + i * 1000, 10);
    const { bucket, prefixes } = watched();
    expect(await applyRetention(bucket, "ret:aa", 100, base - DAY)).toEqual({ removed: 5, kept: 100 });
    expect(prefixes.filter((p) => !p.startsWith("index/device/ret:aa/") && !/^meetings\/m-reta-\d+\/$/.test(p))).toEqual([]);

    const keys = await allKeys();
    const a = keys.filter((k) => k.includes("m-reta-"));
    const kept = new Set(a.map((k) => /m-reta-(\d+)/.exec(k)![1]));
    expect([...kept].map(Number).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 5));
    // Every kept meeting has its record, both segment chunks and both index entries: 5 parts.
    expect(a).toHaveLength(500);
    expect(keys.filter((k) => k.includes("m-retb-"))).toHaveLength(3 * 4);
  });

  it("deletes what started before the age limit, whatever the count", async () => {
    const now = Date.now();
    await archive("ret:cc", "m-retc-old", now - 400 * DAY, 10);
    await archive("ret:cc", "m-retc-new", now - 2 * DAY, 10);
    expect(await applyRetention(env.ARCHIVE as unknown as Bucket, "ret:cc", 100, now - 365 * DAY)).toEqual({ removed: 1, kept: 1 });
    const keys = await allKeys();
    expect(keys.filter((k) => k.includes("m-retc-old"))).toEqual([]);
    expect(keys.filter((k) => k.includes("m-retc-new"))).toHaveLength(4);
  });
});
