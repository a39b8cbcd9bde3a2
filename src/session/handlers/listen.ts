import { log } from "../../log.ts";
import type { ListenIn } from "../../protocol/messages.ts";
import type { ListenEvent } from "../capability.ts";
import type { HostCtx } from "../host.ts";

// Listen state machine (PROTOCOL §5): idle → listening → finalizing → idle, moved only by device
// events and the server VAD. Start/stop within 300 ms of the previous change are debounced: the
// firmware repeats them when a button bounces. `detect` is never debounced and debounces nothing.
// The core keeps the state; capabilities (voice) hear the events.

export const LISTEN_DEBOUNCE_MS = 300;

const WAKE_NOISE = /[\s,.!?，。！？]+/g;

export function isWakeWord(text: string, wakeWords: readonly string[]): boolean {
  const t = text.trim().toLowerCase().replace(WAKE_NOISE, "");
  return wakeWords.some((w) => w.trim().toLowerCase().replace(WAKE_NOISE, "") === t);
}

async function emit(ctx: HostCtx, event: ListenEvent): Promise<void> {
  for (const cap of ctx.session.registry.capabilities) await cap.onListen?.(ctx, event);
}

export async function handleListen(msg: ListenIn, ctx: HostCtx): Promise<void> {
  const s = ctx.conn.state;
  if (msg.state === "detect") {
    const text = (msg.text ?? "").trim();
    if (!text) return;
    if (isWakeWord(text, ctx.session.settings.WAKE_WORDS)) await emit(ctx, { state: "wake", text });
    else await ctx.session.utterance(ctx, text, "typed");
    return;
  }
  if (ctx.now - s.listenChangedAt < LISTEN_DEBOUNCE_MS) {
    // A dropped stop leaves a manual turn open: worth seeing when a device seems stuck listening.
    log.debug("listen.debounced", { deviceId: ctx.session.deviceId, state: msg.state, sinceMs: ctx.now - s.listenChangedAt });
    return;
  }
  if (msg.state === "start") {
    s.listen = "listening";
    s.listenMode = msg.mode ?? "auto";
    s.listenChangedAt = ctx.now;
    ctx.conn.save();
    await emit(ctx, { state: "start", mode: s.listenMode });
    return;
  }
  if (s.listen !== "listening") return;
  // A capability that still has audio to recognise moves the state on to `finalizing`; without
  // one the turn simply ends here.
  s.listen = "idle";
  s.listenChangedAt = ctx.now;
  ctx.conn.save();
  await emit(ctx, { state: "stop" });
}
