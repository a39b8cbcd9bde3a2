import { log } from "../log.ts";
import type { HandlerCtx } from "../session/capability.ts";
import { logIgnored, peekExt, settle } from "./link.ts";
import { RpcResponse, replyOf } from "./messages.ts";
import { advanceSetup, isSetupAnswer, mcpEnabled } from "./setup.ts";

// `mcp` frames from the device (PROTOCOL §13): an answer to a pending request is taken; anything
// else (an unknown or late id, a notification, a request, something malformed) is logged and never
// answered, not even with an error: the firmware would show it to the user.

/** The frame as routed; `unreadable`/`head` come from the router for frames it could not parse. */
export interface McpFrame {
  payload?: unknown;
  unreadable?: unknown;
  head?: unknown;
}

/**
 * The firmware does not escape its error messages, so an error about a tool name with a quote in it
 * is not JSON. Its id is still readable at the start: the request fails now instead of timing out.
 */
const HEAD_ID = /"id"\s*:\s*(\d{1,15})\s*,\s*"error"/;

export function handleMcpFrame(msg: McpFrame, ctx: HandlerCtx): void {
  const { session, conn } = ctx;
  if (!mcpEnabled(session, conn) || !peekExt(conn)) {
    const p = msg.payload as { method?: unknown; id?: unknown } | undefined;
    log.debug("device.mcp", { deviceId: session.deviceId, method: p?.method, id: p?.id });
    return;
  }
  if (typeof msg.unreadable === "string") {
    const id = typeof msg.head === "string" ? HEAD_ID.exec(msg.head)?.[1] : undefined;
    const reply = { ok: false as const, message: `the device sent an unreadable answer (${msg.unreadable})` };
    const taken = id !== undefined && dispatch(ctx, Number(id), reply);
    logIgnored(session, conn, `unreadable frame: ${msg.unreadable}`, { id: id === undefined ? null : Number(id), failedRequest: taken });
    return;
  }
  const parsed = RpcResponse.safeParse(msg.payload);
  if (!parsed.success) {
    const p = msg.payload as { method?: unknown; id?: unknown } | null | undefined;
    const method = p && typeof p === "object" && typeof p.method === "string" ? p.method.slice(0, 64) : null;
    logIgnored(session, conn, method ? "a request or notification from the device" : "not a JSON-RPC response", { method });
    return;
  }
  if (!dispatch(ctx, parsed.data.id, replyOf(parsed.data))) logIgnored(session, conn, "no request waits for this id", { id: parsed.data.id });
}

function dispatch(ctx: HandlerCtx, id: number, reply: ReturnType<typeof replyOf>): boolean {
  const { session, conn } = ctx;
  if (isSetupAnswer(conn, id)) {
    advanceSetup(session, conn, reply);
    return true;
  }
  return settle(session, conn, id, reply);
}
