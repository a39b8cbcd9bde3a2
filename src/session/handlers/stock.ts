import { log } from "../../log.ts";
import { CLOSE } from "../../protocol/messages.ts";
import type { HostCtx } from "../host.ts";

// Stock firmware messages the core answers itself. They are never answered with an error
// (PROTOCOL §10): the firmware would show it to the user.

/** Barge-in: the turn on this socket is cancelled at once, then capabilities tidy up. */
export function handleAbort(_msg: { reason?: string | undefined }, ctx: HostCtx): void {
  ctx.session.turns.cancel(ctx.conn, "aborted by the device");
  ctx.conn.state.listen = "idle";
  ctx.conn.save();
  for (const cap of ctx.session.registry.capabilities) cap.onAbort?.(ctx);
  ctx.reply({ type: "tts", state: "stop", session_id: ctx.conn.state.sessionId });
}

/** Until a capability takes `mcp` frames they are only logged. */
export function handleMcp(msg: { payload?: unknown }, ctx: HostCtx): void {
  const payload = msg.payload as { method?: unknown; id?: unknown } | undefined;
  log.debug("device.mcp", { deviceId: ctx.session.deviceId, method: payload?.method, id: payload?.id });
}

export function handleIot(_msg: unknown, ctx: HostCtx): void {
  log.debug("device.iot", { deviceId: ctx.session.deviceId });
}

export function handleGoodbye(_msg: unknown, ctx: HostCtx): void {
  ctx.conn.close(CLOSE.normal, "goodbye");
}

export function handlePing(_msg: unknown, ctx: HostCtx): void {
  ctx.reply({ type: "pong", ts: ctx.now });
}
