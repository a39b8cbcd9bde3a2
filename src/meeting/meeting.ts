import { completeJson, llmFor } from "../llm/client.ts";
import { log } from "../log.ts";
import { errorReply } from "../protocol/errors.ts";
import type { DeviceSession } from "../session/device-session.ts";
import type { HandlerCtx } from "../session/route.ts";
import { applyRetention, archiveMeeting, type MeetingRecord } from "./archive.ts";
import type { MeetingIn, MeetingSummaryOut, ProgressStage, Segment } from "./messages.ts";
import { MeetingStore, type MeetingRow } from "./store.ts";
import { buildSummaryPrompt, formatDuration, heuristicSummary, normalizeSummary, type Summary } from "./summary.ts";
import { WebhookOutbox } from "./webhook.ts";

// Meeting mode (PROTOCOL §6.1): utterances and snippets become segments in the device's SQLite,
// new segments are pushed on an alarm cycle, and finalize (message or mode end) runs exactly once:
// summary by the LLM (or a degraded one), archive in R2, webhook through an alarm-driven outbox.

export const PUSH_TIMER = "meeting-push";
export const FINALIZE_TIMER = "meeting-finalize";
export const ARCHIVE_TIMER = "meeting-archive";
export const WEBHOOK_TIMER = "webhook";
/** If a finalize has not finished by then (the object was evicted mid-way), it is resumed. */
const FINALIZE_WATCHDOG_MS = 90_000;
const ARCHIVE_RETRY_MS = 30_000;
/** Snippets this soon after a meeting ended are acknowledged as ignored rather than refused. */
const LATE_CONTENT_GRACE_MS = 10 * 60_000;
const SUMMARY_MAX_TOKENS = 800;
const SUMMARY_TIMEOUT_MS = 30_000;

const stores = new WeakMap<DeviceSession, MeetingStore>();
export function meetings(session: DeviceSession): MeetingStore {
  let s = stores.get(session);
  if (!s) stores.set(session, (s = new MeetingStore(session.rt.sql, session.schema)));
  return s;
}

/** Where a message about the meeting goes: the socket that asked, else the device's current one. */
function sendTo(session: DeviceSession, ctx: HandlerCtx | undefined, msg: object): boolean {
  if (ctx?.conn.open) {
    session.send(ctx.conn, msg);
    return true;
  }
  return session.push(msg);
}

function schedulePush(session: DeviceSession, meetingId: string): void {
  session.timers.set(PUSH_TIMER, session.now() + session.settings.MEETING_TRANSCRIPT_PUSH_MS, meetingId);
}

// ---- lifecycle ----

export function startMeeting(ctx: HandlerCtx): void {
  const { session } = ctx;
  const store = meetings(session);
  const latest = store.latest();
  const m = latest?.phase === "active" ? latest : store.create(ctx.now);
  if (m !== latest) log.info("meeting.started", { deviceId: session.deviceId, meetingId: m.id });
  schedulePush(session, m.id);
}

/** Mode end (or a switch to another mode) finalises the meeting. */
export async function endMeeting(session: DeviceSession, ctx: HandlerCtx | undefined): Promise<void> {
  const m = meetings(session).latest();
  if (m?.phase === "active") await finalize(session, ctx);
}

// ---- content ----

function acceptsContent(session: DeviceSession): { meeting: MeetingRow } | { ignored: true } | { notInMode: true } {
  const m = meetings(session).latest();
  if (session.mode === "meeting" && m?.phase === "active") return { meeting: m };
  if (m && m.phase !== "active" && (session.mode === "meeting" || session.now() - (m.endedAt ?? 0) < LATE_CONTENT_GRACE_MS)) return { ignored: true };
  return { notInMode: true };
}

/** A recognised or typed utterance in meeting mode: a segment, echoed at once. */
export function meetingUtterance(ctx: HandlerCtx, text: string): boolean {
  const { session } = ctx;
  if (session.mode !== "meeting") return false;
  const state = acceptsContent(session);
  if (!("meeting" in state)) return true; // finalised: new content is refused, and not chatted about either
  const [seg] = meetings(session).add(state.meeting.id, [{ text }], ctx.now);
  ctx.reply({ type: "audio", event: "transcription", text, ts: seg!.ts, session_id: ctx.conn.state.sessionId });
  return true;
}

export async function handleMeeting(msg: MeetingIn, ctx: HandlerCtx): Promise<void> {
  if (msg.phase === "finalize") {
    await finalize(ctx.session, ctx);
    return;
  }
  const state = acceptsContent(ctx.session);
  if ("notInMode" in state) {
    ctx.reply(errorReply("NOT_IN_MODE", "meeting mode is not active: send {\"type\":\"mode\",\"state\":\"start\",\"mode\":\"meeting\"} first"));
    return;
  }
  if ("ignored" in state) {
    ctx.reply({ type: "meeting", status: "ok", phase: "snippet", count: 0, ignored: true });
    return;
  }
  const items = (msg.items as Array<{ tag: string; text: string; speakerId?: string }>).filter((i) => i.text.trim() !== "");
  meetings(ctx.session).add(
    state.meeting.id,
    items.map((i) => ({ text: i.text.trim(), tag: i.tag, ...(i.speakerId ? { speakerId: i.speakerId } : {}) })),
    ctx.now,
  );
  ctx.reply({ type: "meeting", status: "ok", phase: "snippet", count: items.length });
}

// ---- transcript pushes ----

export function pushTranscript(session: DeviceSession, meetingId: string | null): void {
  const store = meetings(session);
  const m = meetingId ? store.get(meetingId) : null;
  if (!m || m.phase !== "active") return; // finalised: pushes have stopped
  // Nobody to push to: stop cycling (an offline badge must not wake its object every few seconds);
  // the next hello starts the cycle again and the first push carries everything missed.
  if (!session.current()) return;
  const fresh = store.segments(m.id, m.pushedSeq, 500);
  if (fresh.length > 0) {
    const items = fresh.map((s) => ({ seq: s.seq, ts: s.ts, text: s.text, ...(s.speakerId ? { speakerId: s.speakerId } : {}) }));
    if (session.push({ type: "meeting", phase: "transcript", meetingId: m.id, items })) store.markPushed(m.id, fresh[fresh.length - 1]!.seq);
  }
  // Read the interval each cycle: a changed setting applies from the next cycle.
  schedulePush(session, m.id);
}

// ---- finalize ----

function summaryMessage(m: MeetingRow, summary: Summary, degraded: string | null, idempotent: boolean): MeetingSummaryOut {
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

export async function finalize(session: DeviceSession, ctx: HandlerCtx | undefined): Promise<void> {
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
    await session.once(`finalize:${m.id}`, () => runFinalize(session, ctx, started));
    return;
  }
  // Repeated or concurrent: wait for the one run (resuming it if the object was evicted mid-way).
  if (m.phase === "finalizing") await session.once(`finalize:${m.id}`, () => runFinalize(session, ctx, m));
  const done = store.get(m.id)!;
  if (done.summary) sendTo(session, ctx, summaryMessage(done, done.summary, done.degraded, true));
}

async function summarize(session: DeviceSession, m: MeetingRow, segments: Segment[], progress: (s: ProgressStage) => void) {
  const s = session.settings;
  progress("llm_start");
  if (!s.LLM_BASE_URL) {
    progress("llm_done");
    return { summary: heuristicSummary(segments, "LLM_NOT_CONFIGURED"), degraded: "LLM_NOT_CONFIGURED" };
  }
  const prompt = buildSummaryPrompt(segments, { startedAt: m.startedAt, endedAt: m.endedAt ?? session.now() });
  const result = await completeJson(llmFor(s), { ...prompt, maxTokens: SUMMARY_MAX_TOKENS, temperature: 0.2, timeoutMs: SUMMARY_TIMEOUT_MS });
  progress("llm_done");
  if (result.ok) {
    const summary = normalizeSummary(result.value);
    if (summary) return { summary, degraded: null };
    return { summary: heuristicSummary(segments, "LLM_OUTPUT_INVALID"), degraded: "LLM_OUTPUT_INVALID" };
  }
  log.warn("meeting.llm_failed", { deviceId: session.deviceId, meetingId: m.id, code: result.code, message: result.message });
  return { summary: heuristicSummary(segments, result.code), degraded: result.code };
}

async function runFinalize(session: DeviceSession, ctx: HandlerCtx | undefined, m: MeetingRow): Promise<void> {
  const t0 = session.now();
  const progress = (stage: ProgressStage) => sendTo(session, ctx, { type: "meeting", phase: "progress", stage, elapsedMs: session.now() - t0 });
  const store = meetings(session);
  progress("prepare");
  const segments = store.segments(m.id);
  const { summary, degraded } = await summarize(session, m, segments, progress);
  store.finish(m.id, summary, degraded);
  session.timers.clear(`${FINALIZE_TIMER}:${m.id}`);
  log.info("meeting.summarized", { deviceId: session.deviceId, meetingId: m.id, segments: segments.length, degraded, elapsedMs: session.now() - t0 });

  const finished = store.get(m.id)!;
  const archived = await archive(session, finished, segments);
  if (archived) progress("archived");
  progress("done");
  if (sendTo(session, ctx, summaryMessage(finished, summary, degraded, false))) store.markSummaryDelivered(m.id);
  queueWebhook(session, finished, summary);
}

function record(session: DeviceSession, m: MeetingRow, segmentCount: number): MeetingRecord {
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

/** Archives in R2 and applies retention; on failure an alarm retries, the summary is not held up. */
async function archive(session: DeviceSession, m: MeetingRow, segments: Segment[]): Promise<boolean> {
  try {
    await archiveMeeting(session.rt.archive, record(session, m, segments.length), segments);
    meetings(session).dropSegments(m.id);
    const removed = await applyRetention(session.rt.archive, session.settings.MEETING_RETENTION_COUNT);
    log.info("meeting.archived", { deviceId: session.deviceId, meetingId: m.id, segments: segments.length, retentionRemoved: removed });
    return true;
  } catch (err) {
    log.error("meeting.archive_failed", { deviceId: session.deviceId, meetingId: m.id, error: err });
    session.timers.set(`${ARCHIVE_TIMER}:${m.id}`, session.now() + ARCHIVE_RETRY_MS, m.id);
    return false;
  }
}

function queueWebhook(session: DeviceSession, m: MeetingRow, summary: Summary): void {
  const url = session.settings.MEETING_WEBHOOK_URL;
  if (!url) return;
  const id = `wh_${m.id}`;
  const body = JSON.stringify({ event: "meeting.summarized", meetingId: m.id, deviceId: session.deviceId, summary: { ...summary, duration: formatDuration((m.endedAt ?? m.startedAt) - m.startedAt), ...(m.degraded ? { degraded: m.degraded } : {}) } });
  new WebhookOutbox(session.rt.sql, session.schema).add(id, url, body, session.now());
  session.timers.set(`${WEBHOOK_TIMER}:${id}`, session.now(), id);
}

// ---- timers and hello ----

export async function resumeFinalize(session: DeviceSession, meetingId: string | null): Promise<void> {
  const m = meetingId ? meetings(session).get(meetingId) : null;
  if (m?.phase === "finalizing") await session.once(`finalize:${m.id}`, () => runFinalize(session, undefined, m));
}

export async function retryArchive(session: DeviceSession, meetingId: string | null): Promise<void> {
  const m = meetingId ? meetings(session).get(meetingId) : null;
  if (m?.phase === "done" && m.summary) await archive(session, m, meetings(session).segments(m.id));
}

/** After a hello in meeting mode the transcript cycle resumes. */
export function resumeTranscriptPushes(ctx: HandlerCtx): void {
  if (ctx.session.mode !== "meeting") return;
  const m = meetings(ctx.session).latest();
  if (m?.phase === "active") schedulePush(ctx.session, m.id);
}

/** A summary that was produced while the device was away is shown after its next hello. */
export function deliverPendingSummary(ctx: HandlerCtx): void {
  const store = meetings(ctx.session);
  const m = store.latest();
  if (m?.phase === "done" && m.summary && !m.summaryDelivered) {
    ctx.reply(summaryMessage(m, m.summary, m.degraded, false));
    store.markSummaryDelivered(m.id);
  }
}
