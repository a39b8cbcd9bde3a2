import { activationCapability } from "./activation/capability.ts";
import { codingCapability } from "./coding/capability.ts";
import { fleetCapability } from "./fleet/capability.ts";
import type { FleetPort } from "./fleet/port.ts";
import type { Bucket } from "./meeting/archive.ts";
import { deviceToolSource, mcpCapability } from "./mcp/capability.ts";
import { meetingCapability } from "./meeting/capability.ts";
import { peerCapability } from "./peer/capability.ts";
import type { PeerPort } from "./peer/port.ts";
import { profileCapability } from "./profile/capability.ts";
import type { Capability, RpcHandler } from "./session/capability.ts";
import type { GroupDirectory } from "./tools/directory.ts";
import { serverToolSource } from "./tools/server-tools.ts";
import { voiceCapability } from "./voice/capability.ts";
import type { VoiceServices } from "./voice/turn.ts";
import { workflowCapability } from "./workflow/capability.ts";
import type { WorkflowPort } from "./workflow/port.ts";

// The one list of capabilities a device's session hosts, in the order their hooks run: after a
// hello the inbox is delivered before mode snapshots (PROTOCOL §3), and MCP setup comes after both
// (§13); an utterance is offered to meeting mode, then to working-mode commands, then to voice
// chat. Adding a capability: write its folder
// (a `capability.ts` declaring routes, migrations, hooks, timers and RPC), then add it here.

/** What capabilities reach outside their device: other objects and buckets (runtime-provided). */
export interface Services {
  peers: PeerPort;
  workflow: WorkflowPort;
  archive: Bucket;
  voice: VoiceServices;
  /** The fleet registry (D1): each device's row, activation codes, voice turns. */
  fleet: FleetPort;
  /** The group's online members for the server tools (optional: without it only configured members are known). */
  directory?: GroupDirectory;
}

export function deviceCapabilities(services: Services) {
  return [
    activationCapability(services),
    peerCapability(services),
    meetingCapability(services),
    workflowCapability(services),
    codingCapability(),
    profileCapability(services),
    fleetCapability(services),
    mcpCapability(),
    voiceCapability({ ...services.voice, tools: [deviceToolSource, serverToolSource(services)], fleet: services.fleet }),
  ] as const satisfies readonly Capability[];
}

// ---- the typed RPC client's view of the list ----

type RpcOf<C> = C extends { name: infer N extends string; rpc: infer R extends Record<string, RpcHandler> }
  ? { [K in keyof R & string as `${N}.${K}`]: R[K] }
  : unknown;
type RpcOfList<L> = L extends readonly [infer H, ...infer T] ? RpcOf<H> & RpcOfList<T> : unknown;

/** Every device RPC entry point by `<capability>.<name>`, with its handler's type. */
export type DeviceRpc = RpcOfList<ReturnType<typeof deviceCapabilities>>;
export type DeviceRpcName = keyof DeviceRpc & string;
/** The arguments of an entry point, without the session the host supplies. */
export type RpcArgs<K extends DeviceRpcName> = DeviceRpc[K] extends (s: never, ...args: infer A) => unknown ? A : never;
export type RpcResult<K extends DeviceRpcName> = DeviceRpc[K] extends (...args: never[]) => infer R ? Awaited<R> : never;
