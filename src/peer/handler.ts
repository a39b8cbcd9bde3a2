import type { HandlerCtx } from "../session/capability.ts";
import type { WorkflowPort } from "../workflow/port.ts";
import type { PeerIn } from "./messages.ts";
import type { PeerPort } from "./port.ts";
import { relayTask } from "./relay.ts";
import { newEnvelope, sendPeer } from "./send.ts";
import { taskToWorkflow } from "./task-to-workflow.ts";

export async function handlePeer(msg: PeerIn, ctx: HandlerCtx, peers: PeerPort, workflow: WorkflowPort): Promise<void> {
  const { session } = ctx;
  const req = {
    from: session.deviceId,
    fromGroup: session.groupKey,
    fromName: session.alias ?? session.deviceId,
    ref: msg.id,
    to: msg.to,
    category: msg.category,
    payload: msg.payload,
  };
  const envelope = await relayTask(newEnvelope(req, session.settings, ctx.now), session.settings);
  const result = await sendPeer(req, envelope, session.settings, peers, ctx.now, () => session.now());
  if (!result.ok) {
    ctx.reply({ type: "peer", status: "error", code: "RATE_LIMITED", retryAfterMs: result.retryAfterMs });
    return;
  }
  ctx.reply(result.receipt);
  await taskToWorkflow(envelope, result.receipt, session.settings, workflow);
}
