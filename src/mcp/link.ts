import { log } from "../log.ts";
import { attached, type RuntimeSlot, type Session } from "../session/capability.ts";
import type { Conn } from "../session/conn.ts";
import type { DeviceToolSpec, RpcReply } from "./messages.ts";

// One socket's JSON-RPC link to the device's MCP server (PROTOCOL §13). Request ids are numbers
// (the firmware drops anything else), counted per socket in its attachment, so they keep rising
// across hibernation and are never reused. Pending requests wait in runtime state; a turn (or an
// operator call) keeps the object awake while one does, so their resolvers outlive no wake-up.

/** The socket's MCP state that survives hibernation (a few scalars: the attachment stays small). */
export interface McpExt extends Record<string, unknown> {
  /** The next request id. */
  next: number;
  phase: "init" | "list" | "ready" | "failed";
  /** The id setup waits for (0: none). */
  wait: number;
  /** Setup gives up at this time (ms): checked when an answer or a turn comes, no timer needed. */
  until: number;
  /** `tools/list` pages requested so far. */
  pages: number;
  /** Fingerprint of this socket's tool list in the device's store (see store.ts). */
  hash: string;
  /** The `initialize` carried the vision capability: the camera tool may be offered. */
  vision: boolean;
}

export type Outcome = { kind: "result"; result: unknown } | { kind: "error"; message: string } | { kind: "timeout" } | { kind: "gone" };

export interface McpConn {
  pending: Map<number, (o: Outcome) => void>;
  /** Tools of the pages read so far during setup; null when unknown (the object woke mid-listing). */
  listed: DeviceToolSpec[] | null;
}

export const MCP_SLOT: RuntimeSlot<McpConn> = {
  name: "mcp",
  create: () => ({ pending: new Map(), listed: null }),
  // The socket closed: whoever waits hears at once that the device is gone.
  dispose(mc) {
    for (const resolve of mc.pending.values()) resolve({ kind: "gone" });
    mc.pending.clear();
  },
};

export function mcpExt(conn: Conn): McpExt {
  return attached<McpExt>(conn, "mcp", () => ({ next: 1, phase: "init", wait: 0, until: 0, pages: 0, hash: "", vision: false }));
}

/** The socket's MCP state if setup ever started on it (sockets without MCP carry none). */
export function peekExt(conn: Conn): McpExt | undefined {
  return conn.state.ext.mcp as McpExt | undefined;
}

/** Sends a request and returns its id; the caller decides how the answer is awaited. */
export function send(session: Session, conn: Conn, method: string, params: Record<string, unknown>): number {
  const ext = mcpExt(conn);
  const id = ext.next++;
  conn.save();
  session.send(conn, { type: "mcp", session_id: conn.state.sessionId, payload: { jsonrpc: "2.0", id, method, params } });
  return id;
}

/** A request whose answer is awaited, up to `timeoutMs`; rejects only when `signal` aborts. */
export function request(
  session: Session,
  conn: Conn,
  method: string,
  params: Record<string, unknown>,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<Outcome> {
  if (!conn.open) return Promise.resolve({ kind: "gone" });
  const mc = session.runtime(conn, MCP_SLOT);
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const id = send(session, conn, method, params);
  return new Promise<Outcome>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      mc.pending.delete(id);
    };
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      done();
      resolve({ kind: "timeout" });
    }, opts.timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    mc.pending.set(id, (o) => {
      done();
      resolve(o);
    });
  });
}

/** An answer to a request made with `request`; false when nobody waits for that id. */
export function settle(session: Session, conn: Conn, id: number, reply: RpcReply): boolean {
  const resolve = session.runtime(conn, MCP_SLOT).pending.get(id);
  if (!resolve) return false;
  resolve(reply.ok ? { kind: "result", result: reply.result } : { kind: "error", message: reply.message });
  return true;
}

export function logIgnored(session: Session, conn: Conn, why: string, fields: Record<string, unknown> = {}): void {
  log.info("mcp.ignored", { deviceId: session.deviceId, conn: conn.state.id, why, ...fields });
}
