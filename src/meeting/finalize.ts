import { completeJson, llmFor } from "../llm/client.ts";
import { log } from "../log.ts";
import { recordProvider } from "../metrics/analytics.ts";
import { errorReply } from "../protocol/errors.ts";
import type { HandlerCtx, Session } from "../session/capability.ts";
import { applyRetention, archiveMeeting, type Bucket, type MeetingRecord, type RetentionResult } from "./archive.ts";
import type { MeetingSummaryOut, ProgressStage, Segment } from "./messages.ts";
import { ARCHIVE_TIMER, FINALIZE_TIMER, PUSH_TIMER, RETENTION_TIMER, WEBHOOK_TIMER, meetings } from "./store.ts";

const DAY_MS = 86_400_000;
import type { MeetingRow } from "./store.ts";
import { heuristicSummary } from "./summary/heuristic.ts";
import { normalizeSummary } from "./summary/normalize.ts";
import { buildSummaryPrompt } from "./summary/prompt.ts";
import { formatDuration, type Summary } from "./summary/schema.ts";
import { WebhookOutbox } from "./webhook.ts";

// Finalize (message or mode end) runs exactly once per meeting: summary by the LLM (or a degraded
// one), archive in R2, webhook through an alarm-driven outbox. A repeated or concurrent finalize
// waits for the one run and gets the same summary.

/** If a finalize has not finished by then (the object was evicted mid-way), it is resumed. */
const FINALIZE_WATCHDOG_MS = 90_000;
const ARCHIVE_RETRY_MS = 30_000;
const SUMMARY_MAX_TOKENS = 800;
const SUMMARY_TIMEOUT_MS = 30_000;

/** Where a message about the meeting goes: the socket that asked, else the device's current one. */
export function sendTo(session: Session, ctx: HandlerCtx | undefined, msg: object): boolean {
  if (ctx?.conn.open) {
    session.send(ctx.conn, msg);
    return true;
  }
  return session.push(msg);
}

export function summaryMessage(m: MeetingRow, summary: Summary, degraded: string | null, idempotent: boolean): MeetingSummaryOut {
  return {
    type: "meeting",
    phase: "summary",
    meetingId: m.id,
    title: summary.title,
    duration: formatDuration((m.endedAt ?? m.startedAt) - m.startedAt),
    bullets: summary.bullets,
    decisions: summary.decisions,
    actions: summary.actions,
    risks: summary.risks,
    nextSteps: summary.nextSteps,
    ...(degraded ? { degraded } : {}),
    ...(idempotent ? { idempotent: true as const } : {}),
  };
}

export class Finalizer {
  private readonly bucket: Bucket;

  constructor(bucket: Bucket) {
    this.bucket = bucket;
  }

  async finalize(session: Session, ctx: HandlerCtx | undefined): Promise<void> {
    const store = meetings(session);
    const m = store.latest();
    if (!m) {
      if (ctx) ctx.reply(errorReply("NOT_IN_MODE", "there is no meeting to finalize"));
      return;
    }
    if (m.phase === "active" && store.beginFinalize(m.id, session.now())) {
      const started = store.get(m.id)!;
      session.timers.clear(PUSH_TIMER);
      session.timers.set(`${FINALIZE_TIMER}:${m.id}`, session.now() + FINALIZE_WATCHDOG_MS, m.id);
      sendTo(session, ctx, { type: "meeting", phase: "finalize", meetingId: m.id, startedAt: m.startedAt, pendingCount: store.count(m.id) });
      await session.once(`finalize:${m.id}`, () => this.run(session, ctx, started));
      return;
    }
    // Repeated or concurrent: wait for the one run (resuming it if the object was evicted mid-way).
    if (m.phase === "finalizing") await session.once(`finalize:${m.id}`, () => this.run(session, ctx, m));
    const done = store.get(m.id)!;
    if (done.summary) sendTo(session, ctx, summaryMessage(done, done.summary, done.degraded, true));
  }

  /** The watchdog timer: a finalize the object was evicted in the middle of is resumed. */
  async resume(session: Session, meetingId: string | null): Promise<void> {
    const m = meetingId ? meetings(session).get(meetingId) : null;
    if (m?.phase === "finalizing") await session.once(`finalize:${m.id}`, () => this.run(session, undefined, m));
  }

  async retryArchive(session: Session, meetingId: string | null): Promise<void> {
    const m = meetingId ? meetings(session).get(meetingId) : null;
    if (m?.phase === "done" && m.summary) await this.archive(session, m, meetings(session).segments(m.id));
  }

  private async summarize(session: Session, m: MeetingRow, segments: Segment[], progress: (s: ProgressStage) => void) {
    const s = session.settings;
    progress("llm_start");
    if (!s.LLM_BASE_URL) {
      progress("llm_done");
      return { summary: heuristicSummary(segments, "LLM_NOT_CONFIGURED"), degraded: "LLM_NOT_CONFIGURED" };
    }
    const prompt = buildSummaryPrompt(segments, { startedAt: m.startedAt, endedAt: m.endedAt ?? session.now() });
    const t0 = session.now();
    const result = await completeJson(llmFor(s), { ...prompt, maxTokens: SUMMARY_MAX_TOKENS, temperature: 0.2, timeoutMs: SUMMARY_TIMEOUT_MS });
    progress("llm_done");
    const outcome = result.ok ? "ok" : result.code;
    recordProvider({ deviceId: session.deviceId, provider: "llm", purpose: "summary", model: s.LLM_MODEL, outcome, ms: session.now() - t0 });
    if (result.ok) {
      const summary = normalizeSummary(result.value);
      if (summary) return { summary, degraded: null };
      return { summary: heuristicSummary(segments, "LLM_OUTPUT_INVALID"), degraded: "LLM_OUTPUT_INVALID" };
    }
    log.warn("meeting.llm_failed", { deviceId: session.deviceId, meetingId: m.id, code: result.code, message: result.message });
    return { summary: heuristicSummary(segments, result.code), degraded: result.code };
  }

  private async run(session: Session, ctx: HandlerCtx | undefined, m: MeetingRow): Promise<void> {
    const t0 = session.now();
    const progress = (stage: ProgressStage) => sendTo(session, ctx, { type: "meeting", phase: "progress", stage, elapsedMs: session.now() - t0 });
    const store = meetings(session);
    progress("prepare");
    const segments = store.segments(m.id);
    const { summary, degraded } = await this.summarize(session, m, segments, progress);
    store.finish(m.id, summary, degraded);
    session.timers.clear(`${FINALIZE_TIMER}:${m.id}`);
    log.info("meeting.summarized", { deviceId: session.deviceId, meetingId: m.id, segments: segments.length, degraded, elapsedMs: session.now() - t0 });

    const finished = store.get(m.id)!;
    const archived = await this.archive(session, finished, segments);
    if (archived) progress("archived");
    progress("done");
    if (sendTo(session, ctx, summaryMessage(finished, summary, degraded, false))) store.markSummaryDelivered(m.id);
    queueWebhook(session, finished, summary);
  }

  /**
   * The device's retention by count and age; while it still has meetings archived, it runs again a
   * day later, so meetings age out even when the device stops holding new ones.
   */
  async retention(session: Session): Promise<RetentionResult> {
    const s = session.settings;
    const now = session.now();
    const result = await applyRetention(this.bucket, session.deviceId, s.MEETING_RETENTION_COUNT, now - s.MEETING_RETENTION_DAYS * DAY_MS);
    if (result.kept > 0) session.timers.set(RETENTION_TIMER, now + DAY_MS);
    else session.timers.clear(RETENTION_TIMER);
    return result;
  }

  /** Archives in R2 and applies retention; on failure an alarm retries, the summary is not held up. */
  private async archive(session: Session, m: MeetingRow, segments: Segment[]): Promise<boolean> {
    try {
      await archiveMeeting(this.bucket, record(session, m, segments.length), segments);
      meetings(session).dropSegments(m.id);
      const { removed } = await this.retention(session);
      log.info("meeting.archived", { deviceId: session.deviceId, meetingId: m.id, segments: segments.length, retentionRemoved: removed });
      return true;
    } catch (err) {
      log.error("meeting.archive_failed", { deviceId: session.deviceId, meetingId: m.id, error: err });
      session.timers.set(`${ARCHIVE_TIMER}:${m.id}`, session.now() + ARCHIVE_RETRY_MS, m.id);
      return false;
    }
  }
}

function record(session: Session, m: MeetingRow, segmentCount: number): MeetingRecord {
  return {
    meetingId: m.id,
    deviceId: session.deviceId,
    startedAt: m.startedAt,
    endedAt: m.endedAt ?? m.startedAt,
    duration: formatDuration((m.endedAt ?? m.startedAt) - m.startedAt),
    segmentCount,
    summary: m.summary!,
    ...(m.degraded ? { degraded: m.degraded } : {}),
  };
}

function queueWebhook(session: Session, m: MeetingRow, summary: Summary): void {
  const url = session.settings.MEETING_WEBHOOK_URL;
  if (!url) return;
  const id = `wh_${m.id}`;
  const body = JSON.stringify({
    event: "meeting.summarized",
    meetingId: m.id,
    deviceId: session.deviceId,
    summary: { ...summary, duration: formatDuration((m.endedAt ?? m.startedAt) - m.startedAt), ...(m.degraded ? { degraded: m.degraded } : {}) },
  });
  new WebhookOutbox(session.sql, session.schema).add(id, url, body, session.now());
  session.timers.set(`${WEBHOOK_TIMER}:${id}`, session.now(), id);
}
