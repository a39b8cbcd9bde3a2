import { AbortIn, GoodbyeIn, HelloIn, IotIn, ListenIn, McpIn, ModeIn, PingIn } from "../protocol/messages.ts";
import type { z } from "zod";
import { route, type HandlerCtx, type Route } from "./capability.ts";
import { DEVICE_KV_MIGRATION } from "./device-store.ts";
import { handleHello } from "./handlers/hello.ts";
import { handleListen } from "./handlers/listen.ts";
import { handleMode } from "./handlers/mode.ts";
import { handleAbort, handleGoodbye, handleIot, handleMcp, handlePing } from "./handlers/stock.ts";
import type { HostCtx } from "./host.ts";
import type { CoreTables } from "./registry.ts";
import { TIMERS_MIGRATION } from "./timers.ts";

/** A route of the core: its handler sees the host (the router only ever passes a DeviceSession). */
function coreRoute<S extends z.ZodType>(schema: S, handle: (msg: z.infer<S>, ctx: HostCtx) => void | Promise<void>): Route {
  return route(schema, (msg, ctx: HandlerCtx) => handle(msg, ctx as HostCtx));
}

// The session's own message types; capabilities add theirs through the list in src/capabilities.ts.
export const CORE_TABLES: CoreTables = {
  routes: {
    hello: coreRoute(HelloIn, handleHello),
    ping: coreRoute(PingIn, handlePing),
    keepalive: coreRoute(PingIn, handlePing),
    listen: coreRoute(ListenIn, handleListen),
    abort: coreRoute(AbortIn, handleAbort),
    goodbye: coreRoute(GoodbyeIn, handleGoodbye),
    mode: coreRoute(ModeIn, handleMode),
  },
  fallbacks: {
    mcp: coreRoute(McpIn, handleMcp),
    iot: coreRoute(IotIn, handleIot),
  },
  migrations: [TIMERS_MIGRATION, DEVICE_KV_MIGRATION],
};
