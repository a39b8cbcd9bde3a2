import type { PeerPort } from "../peer/port.ts";
import type { WorkflowPort } from "../workflow/port.ts";

/** PeerPort over typed RPC to the Device and Group objects; used by objects and the Worker alike. */
export function peerPort(env: Env): PeerPort {
  const device = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));
  const group = (key: string) => env.GROUP.get(env.GROUP.idFromName(key));
  return {
    deliver: (target, envelope) => device(target).deliverPeer(target, envelope),
    broadcast: (groupKey, from, envelope) => group(groupKey).broadcast(groupKey, from, envelope),
    notifyRedelivered: (sender, to, count) => device(sender).receiveRedelivered(sender, to, count),
    join: (groupKey, deviceId) => group(groupKey).join(groupKey, deviceId),
  };
}

/** WorkflowPort over typed RPC to GroupObjects. */
export function workflowPort(env: Env): WorkflowPort {
  const group = (key: string) => env.GROUP.get(env.GROUP.idFromName(key));
  return {
    apply: (groupKey, op, actor) => group(groupKey).taskApply(groupKey, op, actor),
    snapshot: (groupKey, requester) => group(groupKey).taskSnapshot(groupKey, requester),
    get: (groupKey, ids) => group(groupKey).taskGet(groupKey, ids),
  };
}
