import type { Migration } from "../storage/sql.ts";
import type { Capability, Route, RpcHandler, TimerHandler } from "./capability.ts";

// The capability list folded into the tables the host dispatches on. Built once per list; a clash
// (two capabilities claiming one message type, timer prefix or RPC name) is a programming error
// and fails at start-up, not at the first message.

export interface Registry {
  readonly capabilities: readonly Capability[];
  readonly routes: Readonly<Record<string, Route>>;
  readonly timers: Readonly<Record<string, TimerHandler>>;
  readonly migrations: readonly Migration[];
  readonly rpc: Readonly<Record<string, RpcHandler>>;
}

export interface CoreTables {
  /** Routes no capability may take. */
  routes: Record<string, Route>;
  /** Stock firmware types the core only logs until a capability takes them (`mcp`, `iot`). */
  fallbacks: Record<string, Route>;
  migrations: readonly Migration[];
}

/** Null-prototype tables: every lookup key comes from outside (a frame's `type`, a timer name). */
function table<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function claim<T>(into: Record<string, T>, key: string, value: T, what: string, owner: string): void {
  if (key in into) throw new Error(`capability "${owner}" claims ${what} "${key}", which is already taken`);
  into[key] = value;
}

export function buildRegistry(core: CoreTables, capabilities: readonly Capability[]): Registry {
  const routes = table<Route>();
  const timers = table<TimerHandler>();
  const rpc = table<RpcHandler>();
  const migrations: Migration[] = [...core.migrations];
  for (const [type, r] of Object.entries(core.routes)) routes[type] = r;
  for (const cap of capabilities) {
    // Fallbacks are added last, so a capability may take `mcp` but two may not.
    for (const [type, r] of Object.entries(cap.routes ?? {})) claim(routes, type, r, "message type", cap.name);
    for (const [prefix, handler] of Object.entries(cap.timers ?? {})) claim(timers, prefix, handler, "timer prefix", cap.name);
    for (const [name, handler] of Object.entries(cap.rpc ?? {})) claim(rpc, `${cap.name}.${name}`, handler, "RPC", cap.name);
    for (const m of cap.migrations ?? []) {
      if (migrations.some((x) => x.name === m.name)) throw new Error(`migration "${m.name}" of "${cap.name}" is declared twice`);
      migrations.push(m);
    }
  }
  for (const [type, r] of Object.entries(core.fallbacks)) if (!(type in routes)) routes[type] = r;
  return { capabilities, routes, timers, migrations, rpc };
}
