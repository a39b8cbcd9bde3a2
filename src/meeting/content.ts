import { log } from "../log.ts";
import { errorReply } from "../protocol/errors.ts";
import type { HandlerCtx, Session } from "../session/capability.ts";
import { summaryMessage, type Finalizer } from "./finalize.ts";
import type { MeetingIn } from "./messages.ts";
import { PUSH_TIMER, meetings, type MeetingRow } from "./store.ts";

// Meeting content (PROTOCOL §6.1): utterances and snippets become segments in the device's SQLite,
// and new segments are pushed on an alarm cycle while someone listens.

/** Snippets this soon after a meeting ended are acknowledged as ignored rather than refused. */
const LATE_CONTENT_GRACE_MS = 10 * 60_000;

function schedulePush(session: Session, meetingId: string): void {
  session.timers.set(PUSH_TIMER, session.now() + session.settings.MEETING_TRANSCRIPT_PUSH_MS, meetingId);
}

export function startMeeting(ctx: HandlerCtx): void {
  const { session } = ctx;
  const store = meetings(session);
  const latest = store.latest();
  const m = latest?.phase === "active" ? latest : store.create(ctx.now);
  if (m !== latest) log.info("meeting.started", { deviceId: session.deviceId, meetingId: m.id });
  schedulePush(session, m.id);
}

function acceptsContent(session: Session): { meeting: MeetingRow } | { ignored: true } | { notInMode: true } {
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

export async function handleMeeting(msg: MeetingIn, ctx: HandlerCtx, finalizer: Finalizer): Promise<void> {
  if (msg.phase === "finalize") {
    await finalizer.finalize(ctx.session, ctx);
    return;
  }
  const state = acceptsContent(ctx.session);
  if ("notInMode" in state) {
    ctx.reply(errorReply("NOT_IN_MODE", 'meeting mode is not active: send {"type":"mode","state":"start","mode":"meeting"} first'));
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

export function pushTranscript(session: Session, meetingId: string | null): void {
  const store = meetings(session);
  const m = meetingId ? store.get(meetingId) : null;
  if (m?.phase !== "active") return; // finalised: pushes have stopped
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

/** After a hello: the transcript cycle resumes in meeting mode, and a summary produced while the
 * device was away is shown. */
export function meetingAfterHello(ctx: HandlerCtx): void {
  const { session } = ctx;
  const store = meetings(session);
  const m = store.latest();
  if (session.mode === "meeting" && m?.phase === "active") schedulePush(session, m.id);
  if (m?.phase === "done" && m.summary && !m.summaryDelivered) {
    ctx.reply(summaryMessage(m, m.summary, m.degraded, false));
    store.markSummaryDelivered(m.id);
  }
}
