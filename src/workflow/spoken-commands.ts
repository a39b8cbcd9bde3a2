import type { HandlerCtx } from "../session/capability.ts";
import { confirmationText } from "./commands/confirm.ts";
import { parseTaskCommand } from "./commands/parse.ts";
import { resolveTaskTarget } from "./commands/resolve.ts";
import { applyTo, sendSnapshot } from "./handler.ts";
import type { WorkflowCommandReply } from "./messages.ts";
import type { VersionedSnapshot, WorkflowPort } from "./port.ts";

// Working-mode commands said or typed without the LLM (PROTOCOL §5, §7): claim/assign, complete,
// refresh, with ordinals. The device gets the command reply, the new snapshot, and a short line
// of text, spoken where the voice pipeline can (`Session.say`).

export async function workingUtterance(ctx: HandlerCtx, text: string, workflow: WorkflowPort): Promise<boolean> {
  const { session } = ctx;
  if (session.mode !== "working") return false;
  const cmd = parseTaskCommand(text);
  if (!cmd) return false;
  const group = session.groupKey;
  const current = await workflow.snapshot(group, session.deviceId);

  if (cmd.intent === "refresh") {
    ctx.reply({ type: "workflow", event: "command", intent: "refresh", status: "ok" } satisfies WorkflowCommandReply);
    sendSnapshot(session, ctx, current);
    await ctx.session.say(ctx, confirmationText(cmd, null));
    return true;
  }

  const taskId = resolveTaskTarget(cmd, current.snapshot.tasks, session.deviceId);
  const task = current.snapshot.tasks.find((t) => t.id === taskId) ?? null;
  if (!taskId || !task) {
    ctx.reply({ type: "workflow", event: "command", intent: cmd.intent, status: "error", message: "no matching task" } satisfies WorkflowCommandReply);
    await ctx.session.say(ctx, confirmationText(cmd, null));
    return true;
  }
  const snapshots: VersionedSnapshot[] = [];
  const op = cmd.intent === "assign" ? { op: "assign" as const, id: taskId, owner: session.deviceId } : { op: "complete" as const, ids: [taskId] };
  const r = await applyTo(ctx, workflow, group, op, snapshots);
  ctx.reply({
    type: "workflow",
    event: "command",
    intent: cmd.intent,
    status: r.ok ? "ok" : "error",
    taskId,
    ...(r.ok ? {} : { message: r.message }),
  } satisfies WorkflowCommandReply);
  for (const s of snapshots) sendSnapshot(session, ctx, s);
  await ctx.session.say(ctx, confirmationText(cmd, r.ok ? task : null));
  return true;
}
