import { log } from "../log.ts";
import { describeIssues, errorReply, schemaError } from "../protocol/errors.ts";
import { MAX_TEXT_BYTES } from "../protocol/messages.ts";
import type { HandlerCtx } from "./capability.ts";
import type { Conn } from "./conn.ts";
import type { Host } from "./host.ts";

// Text frame → one handler: size check, JSON, type lookup in the route table (the core's types and
// the capabilities'), schema, handler. Every failure is a reply on the same socket; nothing here
// may throw into the runtime.

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  // UTF-8 needs at least one byte per UTF-16 unit and at most three: skip encoding when decided.
  if (text.length > MAX_TEXT_BYTES) return text.length;
  if (text.length * 3 <= MAX_TEXT_BYTES) return text.length;
  return encoder.encode(text).byteLength;
}

export async function dispatchText(session: Host, conn: Conn, text: string): Promise<void> {
  const ctx: HandlerCtx = { session, conn, now: session.now(), reply: (msg) => session.send(conn, msg) };
  const size = utf8Length(text);
  if (size > MAX_TEXT_BYTES) {
    ctx.reply(errorReply("MESSAGE_TOO_LARGE", `text frame of ${size} bytes exceeds ${MAX_TEXT_BYTES}`));
    return;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  // The hello reply is the first thing a socket hears (PROTOCOL §3): anything before it is dropped.
  if (conn.state.helloAt === null && (data as { type?: unknown } | undefined)?.type !== "hello") {
    session.beforeHello(conn, text);
    return;
  }
  if (data === undefined) {
    ctx.reply(errorReply("INVALID_JSON", "frame is not valid JSON"));
    return;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    ctx.reply(errorReply("INVALID_JSON", "frame must be a JSON object"));
    return;
  }
  const type = (data as { type?: unknown }).type;
  if (typeof type !== "string" || type === "") {
    ctx.reply(errorReply("UNKNOWN_TYPE", "message has no type"));
    return;
  }
  const r = session.registry.routes[type];
  if (!r) {
    ctx.reply(errorReply("UNKNOWN_TYPE", `unknown message type "${type.slice(0, 64)}"`));
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
