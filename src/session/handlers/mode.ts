import { log } from "../../log.ts";
import type { ListenOut, ModeIn, ModeName, ModeOut } from "../../protocol/messages.ts";
import { MODE } from "../device-store.ts";
import type { Host, HostCtx } from "../host.ts";

/** Ends the active mode, running the capabilities' end hooks (a meeting is finalised). */
export async function endMode(session: Host, ctx: HostCtx | undefined): Promise<ModeName | null> {
  const current = session.mode;
  if (!current) return null;
  session.store.set(MODE, null);
  session.reschedule();
  log.info("device.mode_end", { deviceId: session.deviceId, mode: current });
  for (const cap of session.registry.capabilities) await cap.modes?.[current]?.end?.(session, ctx);
  return current;
}

export async function handleMode(msg: ModeIn, ctx: HostCtx): Promise<void> {
  const { session } = ctx;
  const current = session.mode;
  if (msg.state === "end") {
    if (current !== msg.mode) {
      ctx.reply({ type: "mode", status: "ok", state: "end", mode: msg.mode, idempotent: true } satisfies ModeOut);
      return;
    }
    ctx.reply({ type: "mode", status: "ok", state: "end", mode: msg.mode } satisfies ModeOut);
    await endMode(session, ctx);
    return;
  }
  if (current === msg.mode) {
    ctx.reply({ type: "mode", status: "ok", state: "start", mode: msg.mode, idempotent: true } satisfies ModeOut);
    return;
  }
  if (current) await endMode(session, ctx);
  session.store.set(MODE, { mode: msg.mode, startedAt: ctx.now });
  session.reschedule();
  log.info("device.mode_start", { deviceId: session.deviceId, mode: msg.mode, previous: current });
  ctx.reply({ type: "mode", status: "ok", state: "start", mode: msg.mode } satisfies ModeOut);
  if (msg.mode === "working") {
    // Working mode is hands-free: the badge keeps its microphone open until the mode ends.
    ctx.reply({ type: "listen", state: "start", mode: "manual" } satisfies ListenOut);
  }
  for (const cap of session.registry.capabilities) await cap.modes?.[msg.mode]?.start?.(ctx);
}
