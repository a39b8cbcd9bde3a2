import { deliverInboxAfterHello, joinGroupAfterHello } from "../peer/delivery.ts";
import { debouncedSnapshot } from "../workflow/handler.ts";
import { workingUtterance } from "../workflow/voice.ts";
import {
  ARCHIVE_TIMER,
  FINALIZE_TIMER,
  PUSH_TIMER,
  WEBHOOK_TIMER,
  deliverPendingSummary,
  endMeeting,
  meetingUtterance,
  pushTranscript,
  resumeFinalize,
  resumeTranscriptPushes,
  retryArchive,
  startMeeting,
} from "../meeting/meeting.ts";
import { deliverWebhook } from "../meeting/webhook-timer.ts";
import type { ModeName } from "../protocol/messages.ts";
import type { DeviceSession } from "./device-session.ts";
import type { HandlerCtx } from "./route.ts";

// Extension points where capabilities plug into the session lifecycle without the core knowing them:
// what runs after a hello reply, when a mode starts or ends, and where a user utterance goes.

export type AfterHello = (ctx: HandlerCtx) => void | Promise<void>;

export interface ModeLifecycle {
  start?(ctx: HandlerCtx): void | Promise<void>;
  /** `ctx` is absent when the mode ends without a device message (operator API, mode switch by API). */
  end?(session: DeviceSession, ctx: HandlerCtx | undefined): void | Promise<void>;
}

/** A user utterance: typed (`listen detect` that is not a wake word) or recognised speech. */
export type UtteranceHandler = (ctx: HandlerCtx, text: string) => boolean | Promise<boolean>;

/** In order: queued peer messages first (PROTOCOL §3), then mode snapshots. */
export const afterHelloHooks: AfterHello[] = [deliverInboxAfterHello, joinGroupAfterHello, debouncedSnapshot, resumeTranscriptPushes, deliverPendingSummary];

export const modeLifecycles: Partial<Record<ModeName, ModeLifecycle>> = {
  working: { start: debouncedSnapshot },
  meeting: {
    start: startMeeting,
    // The finalize ack goes out now; summary, archive and webhook finish in the background.
    end: (session, ctx) => session.rt.defer(endMeeting(session, ctx)),
  },
};

/** Tried in order; the first that returns true consumed the utterance. */
export const utteranceHandlers: UtteranceHandler[] = [meetingUtterance, workingUtterance];

export type TimerHandler = (session: DeviceSession, data: string | null) => void | Promise<void>;

/** Timer name prefix (up to ':') → what runs when it fires. */
export const timerHandlers: Record<string, TimerHandler> = {
  [PUSH_TIMER]: pushTranscript,
  [FINALIZE_TIMER]: resumeFinalize,
  [ARCHIVE_TIMER]: retryArchive,
  [WEBHOOK_TIMER]: deliverWebhook,
};
