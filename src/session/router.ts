import { log } from "../log.ts";
import { describeIssues, errorReply, schemaError } from "../protocol/errors.ts";
import { jsonTooDeep } from "../protocol/json-depth.ts";
import { MAX_TEXT_BYTES } from "../protocol/messages.ts";
import type { HandlerCtx } from "./capability.ts";
import type { Conn } from "./conn.ts";
import type { Host } from "./host.ts";

// Text frame → one handler: size check, JSON, type lookup in the route table (the core's types and
// the capabilities'), schema, handler. Every failure is a reply on the same socket; nothing here
// may throw into the runtime. Rejection is cheap: no log line, no storage write, one short reply.

const encoder = new TextEncoder();

/** Stock firmware messages: never answered with an error, dropped silently over the rate limit. */
const STOCK_TYPES = new Set(["listen", "abort", "mcp", "iot", "goodbye"]);

export const TEXT_RATE_PER_S = 50;
export const TEXT_BURST = 200;
const RATE_LIMITED = errorReply("RATE_LIMITED", `more than ${TEXT_RATE_PER_S} messages per second`, { retryAfterMs: 1000 });

/** UTF-8 size, exact where it matters against `limit`; a lower bound when clearly above it. */
function utf8Length(text: string, limit: number): number {
  // UTF-8 needs at least one byte per UTF-16 unit and at most three: skip encoding when decided.
  if (text.length > limit) return text.length;
  if (text.length * 3 <= limit) return text.length;
  return encoder.encode(text).byteLength;
}

/**
 * `mcp` frames carry device tool results (a photo's answer, a status dump) and have their own size
 * limit (PROTOCOL §13). Their type is sniffed near the start without parsing: the firmware puts
 * `session_id` before `type`, so look a little further than the first field.
 */
const MCP_TYPE = /"type"\s*:\s*"mcp"/;
function looksMcp(text: string): boolean {
  return MCP_TYPE.test(text.slice(0, 256));
}
/** Of an `mcp` frame that cannot be routed as JSON, the start goes to its handler (the id is there). */
const MCP_HEAD_CHARS = 512;

/**
 * `admitted` is the socket's rate limit verdict for this frame (PROTOCOL §10): over it, stock
 * firmware messages are dropped and counted, anything else is answered RATE_LIMITED.
 */
export async function dispatchText(session: Host, conn: Conn, text: string, admitted: boolean): Promise<void> {
  const ctx: HandlerCtx = { session, conn, now: session.now(), reply: (msg) => session.send(conn, msg) };
  let size = utf8Length(text, MAX_TEXT_BYTES);
  const mcp = size > MAX_TEXT_BYTES && looksMcp(text);
  const limit = mcp ? session.settings.MCP_MAX_FRAME_BYTES : MAX_TEXT_BYTES;
  if (mcp) size = utf8Length(text, limit);
  let data: unknown;
  if (size <= limit) {
    try {
      // JSON.parse is iterative: even absurd nesting cannot overflow it (the depth rule is below).
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  const rawType = data !== null && typeof data === "object" ? (data as { type?: unknown }).type : undefined;
  // The hello reply is the first thing a socket hears (PROTOCOL §3): anything before it is dropped.
  if (conn.state.helloAt === null && rawType !== "hello") {
    session.beforeHello(conn, text);
    return;
  }
  if (!admitted) {
    if ((typeof rawType === "string" && STOCK_TYPES.has(rawType)) || (rawType === undefined && looksMcp(text))) session.dropped(conn);
    else ctx.reply(RATE_LIMITED);
    return;
  }
  // An `mcp` frame never gets an error (PROTOCOL §13): what cannot be routed goes to its handler.
  if (size > limit && mcp) return unreadableMcp(session, ctx, text, `frame of ${size} bytes exceeds ${limit}`);
  if (size > MAX_TEXT_BYTES && !mcp) {
    ctx.reply(errorReply("MESSAGE_TOO_LARGE", `text frame of ${size} bytes exceeds ${MAX_TEXT_BYTES}`));
    return;
  }
  if (data === undefined && looksMcp(text)) return unreadableMcp(session, ctx, text, "not valid JSON");
  if (data === undefined) {
    ctx.reply(errorReply("INVALID_JSON", "frame is not valid JSON"));
    return;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    ctx.reply(errorReply("INVALID_JSON", "frame must be a JSON object"));
    return;
  }
  const type = (data as { type?: unknown }).type;
  if (size > MAX_TEXT_BYTES && type !== "mcp") {
    // Sniffed as `mcp` but of another type: the 64 KiB limit of every other type applies.
    ctx.reply(errorReply("MESSAGE_TOO_LARGE", `text frame of ${size} bytes exceeds ${MAX_TEXT_BYTES}`));
    return;
  }
  if (typeof type !== "string" || type === "") {
    ctx.reply(errorReply("UNKNOWN_TYPE", "message has no type"));
    return;
  }
  const r = session.registry.routes[type];
  if (!r) {
    ctx.reply(errorReply("UNKNOWN_TYPE", `unknown message type "${type.slice(0, 64)}"`));
    return;
  }
  // Schemas, structured clone (RPC) and JSON.stringify all recurse: deep JSON stops here.
  if (text.length > 64 && jsonTooDeep(text)) {
    if (type === "mcp") return unreadableMcp(session, ctx, text, "payload too deep");
    ctx.reply(schemaError(type, "payload too deep"));
    return;
  }
  const parsed = r.schema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    ctx.reply(schemaError(type, describeIssues(parsed.error.issues)));
    return;
  }
  try {
    await r.handle(parsed.data, ctx);
  } catch (err) {
    log.error("session.handler_failed", { deviceId: session.deviceId, type, error: err });
    ctx.reply(errorReply("INTERNAL_ERROR", `the server failed to handle "${type}"; the session goes on`));
  }
}

/**
 * Hands an `mcp` frame that could not be parsed (too large, not JSON, too deep) to the `mcp` route
 * as `{type:"mcp", unreadable, head}`: no reply goes out, and the handler may still find the id of
 * the request it answers at the start of the frame.
 */
async function unreadableMcp(session: Host, ctx: HandlerCtx, text: string, why: string): Promise<void> {
  const r = session.registry.routes.mcp;
  if (!r) return;
  try {
    await r.handle({ type: "mcp", unreadable: why, head: text.slice(0, MCP_HEAD_CHARS) }, ctx);
  } catch (err) {
    log.error("session.handler_failed", { deviceId: ctx.session.deviceId, type: "mcp", error: err });
  }
}
