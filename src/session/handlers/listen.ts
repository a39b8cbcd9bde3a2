import type { AlertOut, ListenIn } from "../../protocol/messages.ts";
import { utteranceHandlers } from "../hooks.ts";
import type { HandlerCtx } from "../route.ts";

// Listen state machine (PROTOCOL §5): idle → listening → finalizing → idle, moved only by device
// events (and, with the voice pipeline, the VAD fallback). Start/stop within 300 ms of the previous
// change are debounced: the firmware repeats them when a button bounces.

export const LISTEN_DEBOUNCE_MS = 300;

export function isWakeWord(text: string, wakeWords: readonly string[]): boolean {
  const t = text.trim().toLowerCase().replace(/[\s,.!?，。！？]+/g, "");
  return wakeWords.some((w) => w.trim().toLowerCase().replace(/[\s,.!?，。！？]+/g, "") === t);
}

export async function handleListen(msg: ListenIn, ctx: HandlerCtx): Promise<void> {
  const s = ctx.conn.state;
  if (msg.state === "detect") {
    const text = (msg.text ?? "").trim();
    if (!text || isWakeWord(text, ctx.session.settings.WAKE_WORDS)) return;
    await handleUtterance(ctx, text);
    return;
  }
  if (ctx.now - s.listenChangedAt < LISTEN_DEBOUNCE_MS) return;
  if (msg.state === "start") {
    s.listen = "listening";
    s.listenMode = msg.mode ?? "auto";
  } else {
    if (s.listen !== "listening") return;
    // Without a recogniser there is nothing to flush: the turn ends here.
    s.listen = "idle";
  }
  s.listenChangedAt = ctx.now;
  ctx.conn.save();
}

export async function handleUtterance(ctx: HandlerCtx, text: string): Promise<void> {
  for (const handler of utteranceHandlers) {
    if (await handler(ctx, text)) return;
  }
  const s = ctx.session.settings;
  const missing = !s.LLM_BASE_URL ? "LLM (LLM_BASE_URL)" : !s.TTS_BASE_URL ? "TTS (TTS_BASE_URL)" : "";
  ctx.reply({
    type: "alert",
    status: "error",
    message: missing ? `${missing} is not configured; chat replies are off` : "voice chat is not enabled on this server",
    emotion: "sad",
  } satisfies AlertOut);
}
