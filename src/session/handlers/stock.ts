import { log } from "../../log.ts";
import { CLOSE } from "../../protocol/messages.ts";
import type { HandlerCtx } from "../route.ts";

// Stock firmware messages that need no capability here. They are never answered with an error
// (PROTOCOL §10): the firmware would show it to the user.

export function handleAbort(_msg: { reason?: string | undefined }, ctx: HandlerCtx): void {
  ctx.conn.state.listen = "idle";
  ctx.conn.save();
  ctx.reply({ type: "tts", state: "stop", session_id: ctx.conn.state.sessionId });
}

export function handleMcp(msg: { payload?: unknown }, ctx: HandlerCtx): void {
  const payload = msg.payload as { method?: unknown; id?: unknown } | undefined;
  log.debug("device.mcp", { deviceId: ctx.conn.state.deviceId, method: payload?.method, id: payload?.id });
}

export function handleIot(_msg: unknown, ctx: HandlerCtx): void {
  log.debug("device.iot", { deviceId: ctx.conn.state.deviceId });
}

export function handleGoodbye(_msg: unknown, ctx: HandlerCtx): void {
  ctx.conn.close(CLOSE.normal, "goodbye");
}

export function handlePing(_msg: unknown, ctx: HandlerCtx): void {
  ctx.reply({ type: "pong", ts: ctx.now });
}
