import { deliverInboxAfterHello } from "../peer/delivery.ts";
import { debouncedSnapshot } from "../workflow/handler.ts";
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
export const afterHelloHooks: AfterHello[] = [deliverInboxAfterHello, debouncedSnapshot];
export const modeLifecycles: Partial<Record<ModeName, ModeLifecycle>> = {
  working: { start: debouncedSnapshot },
};
/** Tried in order; the first that returns true consumed the utterance. */
export const utteranceHandlers: UtteranceHandler[] = [];
