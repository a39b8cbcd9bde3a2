import type { Group } from "../group/group.ts";
import { deliverWithRetry } from "./deliver.ts";
import type { DeliveryOutcome, PeerEnvelope } from "./messages.ts";
import type { BroadcastResult } from "./port.ts";

// A broadcast to a group (PROTOCOL §9), run by the group's object: at most one per sender per
// PEER_BROADCAST_INTERVAL_MS, then every member but the sender, online ones at once and offline
// ones through their inbox.

export async function broadcast(
  group: Group,
  from: string,
  envelope: PeerEnvelope,
  deliver: (target: string, envelope: PeerEnvelope) => Promise<DeliveryOutcome>,
  now: number,
): Promise<BroadcastResult> {
  group.admit(from);
  const wait = group.members.takeBroadcast(from, group.settings.PEER_BROADCAST_INTERVAL_MS, now);
  if (wait > 0) return { retryAfterMs: wait, delivered: [], enqueued: [], queueFull: [] };
  const targets = group.memberIds().filter((id) => id !== from);
  const outcomes = await Promise.all(targets.map(async (id) => ({ id, outcome: await deliverWithRetry(deliver, id, envelope) })));
  const result: BroadcastResult = { delivered: [], enqueued: [], queueFull: [] };
  for (const { id, outcome } of outcomes) {
    if (outcome === "delivered") result.delivered.push(id);
    else if (outcome === "enqueued") result.enqueued.push(id);
    else result.queueFull.push(id);
  }
  return result;
}
