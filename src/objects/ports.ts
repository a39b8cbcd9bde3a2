import type { PeerPort } from "../peer/port.ts";
import type { WorkflowPort } from "../workflow/port.ts";

// Ports of the session core, over typed RPC to other objects; used by objects and the Worker alike.

const STUB_CACHE = 256;

/**
 * Stubs by name, kept for reuse: a device messaging the same peers again skips the id derivation,
 * and calls through one stub are delivered in order. Map order makes the oldest the first to go.
 */
function stubs<T extends Rpc.DurableObjectBranded | undefined>(ns: DurableObjectNamespace<T>) {
  const cache = new Map<string, DurableObjectStub<T>>();
  const get = (name: string): DurableObjectStub<T> => {
    let stub = cache.get(name);
    if (!stub) {
      stub = ns.get(ns.idFromName(name));
      if (cache.size >= STUB_CACHE) cache.delete(cache.keys().next().value!);
      cache.set(name, stub);
    }
    return stub;
  };
  /** Calls through the cached stub; a stub that failed is dropped (a broken stub stays broken). */
  return async <R>(name: string, call: (stub: DurableObjectStub<T>) => Promise<R>): Promise<R> => {
    try {
      return await call(get(name));
    } catch (err) {
      cache.delete(name);
      throw err;
    }
  };
}

export function peerPort(env: Env): PeerPort {
  const device = stubs(env.DEVICE);
  const group = stubs(env.GROUP);
  return {
    deliver: (target, envelope) => device(target, (s) => s.deliverPeer(target, envelope)),
    broadcast: (groupKey, from, envelope) => group(groupKey, (s) => s.broadcast(groupKey, from, envelope)),
    notifyRedelivered: (sender, to, count) => device(sender, (s) => s.receiveRedelivered(sender, to, count)),
    join: (groupKey, deviceId) => group(groupKey, (s) => s.join(groupKey, deviceId)),
  };
}

export function workflowPort(env: Env): WorkflowPort {
  const group = stubs(env.GROUP);
  return {
    apply: (groupKey, op, actor) => group(groupKey, (s) => s.taskApply(groupKey, op, actor)),
    snapshot: (groupKey, requester) => group(groupKey, (s) => s.taskSnapshot(groupKey, requester)),
    get: (groupKey, ids) => group(groupKey, (s) => s.taskGet(groupKey, ids)),
  };
}
