import type { DeviceRpcName, RpcArgs, RpcResult } from "../capabilities.ts";
import { fleetOf, fleetPortOf, type Fleet } from "../fleet/fleet.ts";
import type { FleetPort } from "../fleet/port.ts";
import type { MemberPort } from "../group/group.ts";
import type { PeerPort } from "../peer/port.ts";
import type { PushSnapshot } from "../workflow/group-tasks.ts";
import type { WorkflowPort } from "../workflow/port.ts";

// The ports of the session core and the group core, over typed RPC to other objects; used by
// objects and the Worker alike.

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

export type DeviceCall = <K extends DeviceRpcName>(deviceId: string, name: K, ...args: RpcArgs<K>) => Promise<RpcResult<K>>;

/** A capability's RPC entry point on a device's object, typed by the capability list. */
export function deviceCaller(env: Env): DeviceCall {
  const device = stubs(env.DEVICE);
  return (deviceId, name, ...args) => device(deviceId, (s) => s.call(name, args) as Promise<never>);
}

export function deviceStub(env: Env, deviceId: string) {
  return env.DEVICE.get(env.DEVICE.idFromName(deviceId));
}

export function groupStub(env: Env, key: string) {
  return env.GROUP.get(env.GROUP.idFromName(key));
}

export function peerPort(env: Env, call: DeviceCall = deviceCaller(env)): PeerPort {
  const group = stubs(env.GROUP);
  return {
    deliver: (target, envelope, access) => call(target, "peer.deliver", envelope, access),
    broadcast: (groupKey, from, envelope) => group(groupKey, (s) => s.broadcast(from, envelope)),
    notifyRedelivered: (sender, to, count) => call(sender, "peer.redelivered", to, count),
    join: (groupKey, deviceId, name) => group(groupKey, (s) => s.join(deviceId, name)),
    leave: (groupKey, deviceId) => group(groupKey, (s) => s.leave(deviceId)),
  };
}

export function workflowPort(env: Env): WorkflowPort {
  const group = stubs(env.GROUP);
  return {
    apply: (groupKey, op, actor) => group(groupKey, (s) => s.taskApply(op, actor)),
    snapshot: (groupKey, requester) => group(groupKey, (s) => s.taskSnapshot(requester)),
    get: (groupKey, ids) => group(groupKey, (s) => s.taskGet(ids)),
  };
}

/** How a group reaches its members: who is online (the fleet registry when bound), snapshots. */
export function memberPort(env: Env, call: DeviceCall = deviceCaller(env)): MemberPort & { pushSnapshot: PushSnapshot } {
  const device = stubs(env.DEVICE);
  const fleet = fleetFrom(env);
  return {
    status: (id) => device(id, (s) => s.status()),
    ...(fleet ? { online: (key: string) => fleet.devices.onlineMembers(key, Date.now()) } : {}),
    pushSnapshot: (id, snapshot, version) => call(id, "workflow.pushSnapshot", snapshot, version),
  };
}

/** The fleet registry, or null when the deployment binds no `FLEET` D1 database. */
export function fleetFrom(env: Env): Fleet | null {
  // Typed as always bound, but a wrangler.toml without the binding gives undefined: the registry is then off.
  return fleetOf(env.FLEET);
}

export function fleetPort(env: Env): FleetPort {
  return fleetPortOf(fleetFrom(env));
}
