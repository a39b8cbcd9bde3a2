import type { Segment } from "./messages.ts";
import type { Summary } from "./summary/schema.ts";

// The meeting archive in R2 (PROTOCOL §6.1). Layout:
//   meetings/<id>/segments/<chunk>.json   segments, SEGMENT_CHUNK per object
//   meetings/<id>/record.json             the record and its summary
//   index/all/<inverted start>-<id>        empty object, metadata = listing fields
//   index/device/<device>/<inverted start>-<id>
// Listing is an R2 prefix list of the index, newest first thanks to the inverted start time, so two
// devices archiving at once never read-modify-write a shared object. Parts are written before the
// index entries and deleted before them, so a listed meeting always has its parts and a retention
// run that stops half way is simply repeated.

export const SEGMENT_CHUNK = 500;
const MAX_TS = 9_999_999_999_999;

/** The slice of R2Bucket the archive uses. */
export interface Bucket {
  put(key: string, value: string, options?: { httpMetadata?: { contentType?: string }; customMetadata?: Record<string, string> }): Promise<unknown>;
  get(key: string): Promise<{ text(): Promise<string> } | null>;
  delete(keys: string | string[]): Promise<void>;
  list(options: { prefix: string; limit?: number; cursor?: string; include?: Array<"customMetadata"> }): Promise<{
    objects: Array<{ key: string; customMetadata?: Record<string, string> }>;
    truncated: boolean;
    cursor?: string;
  }>;
}

export interface MeetingRecord {
  meetingId: string;
  deviceId: string;
  startedAt: number;
  endedAt: number;
  duration: string;
  segmentCount: number;
  summary: Summary;
  degraded?: string;
}

export interface MeetingListing {
  meetingId: string;
  deviceId: string;
  title: string;
  startedAt: number;
  endedAt: number;
  segmentCount: number;
}

const inverted = (ts: number) => String(MAX_TS - ts).padStart(13, "0");
const recordKey = (id: string) => `meetings/${id}/record.json`;
const chunkKey = (id: string, n: number) => `meetings/${id}/segments/${String(n).padStart(6, "0")}.json`;
const allIndexKey = (r: { startedAt: number; meetingId: string }) => `index/all/${inverted(r.startedAt)}-${r.meetingId}`;
const deviceIndexKey = (r: { deviceId: string; startedAt: number; meetingId: string }) => `index/device/${r.deviceId}/${inverted(r.startedAt)}-${r.meetingId}`;
const JSON_TYPE = { httpMetadata: { contentType: "application/json" } };

function listingMeta(r: MeetingRecord): Record<string, string> {
  return {
    meetingId: r.meetingId,
    deviceId: r.deviceId,
    title: r.summary.title.slice(0, 200),
    startedAt: String(r.startedAt),
    endedAt: String(r.endedAt),
    segmentCount: String(r.segmentCount),
  };
}

function fromMeta(m: Record<string, string> | undefined): MeetingListing | null {
  if (!m?.meetingId) return null;
  return {
    meetingId: m.meetingId,
    deviceId: m.deviceId ?? "",
    title: m.title ?? "",
    startedAt: Number(m.startedAt),
    endedAt: Number(m.endedAt),
    segmentCount: Number(m.segmentCount),
  };
}

export async function archiveMeeting(bucket: Bucket, record: MeetingRecord, segments: readonly Segment[]): Promise<void> {
  const chunks: Promise<unknown>[] = [];
  for (let i = 0; i * SEGMENT_CHUNK < segments.length; i++) {
    chunks.push(bucket.put(chunkKey(record.meetingId, i), JSON.stringify(segments.slice(i * SEGMENT_CHUNK, (i + 1) * SEGMENT_CHUNK)), JSON_TYPE));
  }
  await Promise.all(chunks);
  await bucket.put(recordKey(record.meetingId), JSON.stringify(record), JSON_TYPE);
  const meta = { customMetadata: listingMeta(record) };
  await Promise.all([bucket.put(deviceIndexKey(record), "", meta), bucket.put(allIndexKey(record), "", meta)]);
}

export async function listMeetings(bucket: Bucket, opts: { limit: number; deviceId?: string }): Promise<MeetingListing[]> {
  const prefix = opts.deviceId ? `index/device/${opts.deviceId}/` : "index/all/";
  const out: MeetingListing[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, limit: Math.min(1000, opts.limit - out.length), include: ["customMetadata"], ...(cursor ? { cursor } : {}) });
    for (const o of page.objects) {
      const l = fromMeta(o.customMetadata);
      if (l) out.push(l);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor && out.length < opts.limit);
  return out.slice(0, opts.limit);
}

/** Meetings started at or after `since`: index keys up to that time, read newest first. */
export async function countMeetingsSince(bucket: Bucket, since: number): Promise<number> {
  const bound = `index/all/${inverted(since)}`;
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: "index/all/", limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const o of page.objects) {
      // `<inverted start>-<id>`: a key past the bound started before `since`, and so do all after it.
      if (o.key.slice(0, bound.length) > bound) return n;
      n++;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return n;
}

export async function getRecord(bucket: Bucket, meetingId: string): Promise<MeetingRecord | null> {
  const obj = await bucket.get(recordKey(meetingId));
  return obj ? (JSON.parse(await obj.text()) as MeetingRecord) : null;
}

export async function getTranscript(bucket: Bucket, record: MeetingRecord, offset: number, limit: number): Promise<Segment[]> {
  const out: Segment[] = [];
  const end = Math.min(record.segmentCount, offset + limit);
  for (let chunk = Math.floor(offset / SEGMENT_CHUNK); chunk * SEGMENT_CHUNK < end; chunk++) {
    const obj = await bucket.get(chunkKey(record.meetingId, chunk));
    if (!obj) break;
    const items = JSON.parse(await obj.text()) as Segment[];
    const base = chunk * SEGMENT_CHUNK;
    for (let i = Math.max(0, offset - base); i < items.length && base + i < end; i++) out.push(items[i]!);
  }
  return out;
}

export interface RetentionResult {
  removed: number;
  /** Meetings the device still has archived. */
  kept: number;
}

/**
 * A device's retention (PROTOCOL §6.1): deletes its meetings past the newest `keep` and those that
 * started before `minStartedAt`, parts first, index entries last. Only the device's own index is
 * listed (about `keep` entries), never the whole bucket.
 */
export async function applyRetention(bucket: Bucket, deviceId: string, keep: number, minStartedAt: number): Promise<RetentionResult> {
  const stale: MeetingListing[] = [];
  let kept = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: `index/device/${deviceId}/`, limit: 1000, include: ["customMetadata"], ...(cursor ? { cursor } : {}) });
    for (const o of page.objects) {
      const listing = fromMeta(o.customMetadata);
      if (!listing) continue;
      // Newest first: the first `keep` young enough stay.
      if (kept < keep && listing.startedAt >= minStartedAt) kept++;
      else stale.push(listing);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  for (const listing of stale) {
    const parts: string[] = [recordKey(listing.meetingId)];
    for (let i = 0; i * SEGMENT_CHUNK < Math.max(1, listing.segmentCount); i++) parts.push(chunkKey(listing.meetingId, i));
    // Chunks a record does not account for (from a write that failed half way) are found by prefix.
    const extra = await bucket.list({ prefix: `meetings/${listing.meetingId}/` });
    for (const o of extra.objects) if (!parts.includes(o.key)) parts.push(o.key);
    await bucket.delete(parts);
    await bucket.delete(allIndexKey(listing));
    await bucket.delete(deviceIndexKey(listing));
  }
  return { removed: stale.length, kept };
}
