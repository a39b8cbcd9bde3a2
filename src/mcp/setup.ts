import pkg from "../../package.json" with { type: "json" };
import { issueVisionToken } from "../auth/vision-token.ts";
import { isLoopbackHost, tokenSecret } from "../config/local.ts";
import { log } from "../log.ts";
import type { HandlerCtx, Session } from "../session/capability.ts";
import type { Conn } from "../session/conn.ts";
import { MAX_LIST_PAGES, MCP_PROTOCOL_VERSION, type RpcReply, ToolsListResult, toolSpec } from "./messages.ts";
import { MCP_SLOT, type McpExt, mcpExt, peekExt, send } from "./link.ts";
import { saveTools } from "./store.ts";

// MCP setup on a new socket (PROTOCOL §13): after the hello reply and the §3 deliveries (this
// capability's afterHello runs after theirs), `initialize`, then `tools/list` page by page, one
// request at a time. The state lives in the socket's attachment and advances on each answer; the
// deadline is checked when something happens, so setup needs no timer and survives hibernation.
// No answer in time, or an error: the socket has no device tools and chat goes on.

export const VISION_PATH = "/supie/vision/explain";

export function mcpEnabled(session: Session, conn: Conn): boolean {
  return session.settings.MCP_ENABLED && conn.state.features.includes("mcp");
}

/** Where the camera should post, as the device reached us (PUBLIC_WS_URL's host when set). */
function visionOrigin(publicWsUrl: string, connOrigin: string): string {
  if (publicWsUrl) {
    try {
      const u = new URL(publicWsUrl);
      return `${u.protocol === "ws:" || u.protocol === "http:" ? "http" : "https"}://${u.host}`;
    } catch {
      /* an unusable setting: fall back to the connection's origin */
    }
  }
  return connOrigin;
}

/** The vision capability of `initialize`, when VISION_MODEL is set and a token can be signed. */
async function visionOf(session: Session, conn: Conn): Promise<{ url: string; token: string } | null> {
  const s = session.settings;
  if (!s.VISION_MODEL) return null;
  const origin = visionOrigin(s.PUBLIC_WS_URL, conn.state.origin ?? "");
  if (!origin) return null;
  const secret = tokenSecret(s.DEVICE_TOKEN_SECRET, isLoopbackHost(new URL(origin).hostname));
  if (!secret) return null;
  return { url: `${origin}${VISION_PATH}`, token: await issueVisionToken(secret, session.deviceId, s.VISION_TOKEN_TTL_S, session.now()) };
}

export async function startSetup(ctx: HandlerCtx): Promise<void> {
  const { session, conn } = ctx;
  if (!mcpEnabled(session, conn) || !conn.open) return;
  const vision = await visionOf(session, conn);
  const ext = mcpExt(conn);
  ext.vision = vision !== null;
  ext.phase = "init";
  ext.pages = 0;
  ext.until = session.now() + session.settings.MCP_INIT_TIMEOUT_MS;
  ext.wait = send(session, conn, "initialize", {
    protocolVersion: MCP_PROTOCOL_VERSION,
    capabilities: vision ? { vision } : {},
    clientInfo: { name: "supie-edge", version: pkg.version },
  });
  conn.save();
}

function fail(session: Session, conn: Conn, ext: McpExt, reason: string): void {
  ext.phase = "failed";
  ext.wait = 0;
  conn.save();
  log.warn("mcp.setup_failed", { deviceId: session.deviceId, conn: conn.state.id, reason });
}

function requestPage(session: Session, conn: Conn, ext: McpExt, cursor: string): void {
  ext.pages++;
  ext.wait = send(session, conn, "tools/list", { cursor });
  conn.save();
}

/** Setup still waiting past its deadline gives up (asked when a turn wants the tools). */
export function expireSetup(session: Session, conn: Conn): void {
  const ext = peekExt(conn);
  if (ext && (ext.phase === "init" || ext.phase === "list") && session.now() > ext.until) {
    fail(session, conn, ext, `no answer within ${session.settings.MCP_INIT_TIMEOUT_MS} ms`);
  }
}

/** True when `id` is the answer setup waits for (it is then taken here). */
export function isSetupAnswer(conn: Conn, id: number): boolean {
  const ext = peekExt(conn);
  return ext !== undefined && ext.wait === id && (ext.phase === "init" || ext.phase === "list");
}

export function advanceSetup(session: Session, conn: Conn, reply: RpcReply): void {
  const ext = mcpExt(conn);
  const mc = session.runtime(conn, MCP_SLOT);
  if (session.now() > ext.until) {
    fail(session, conn, ext, `no answer within ${session.settings.MCP_INIT_TIMEOUT_MS} ms`);
    return;
  }
  if (!reply.ok) {
    fail(session, conn, ext, `${ext.phase === "init" ? "initialize" : "tools/list"} failed: ${reply.message}`);
    return;
  }
  if (ext.phase === "init") {
    ext.phase = "list";
    mc.listed = [];
    requestPage(session, conn, ext, "");
    return;
  }
  const page = ToolsListResult.safeParse(reply.result);
  if (!page.success) {
    fail(session, conn, ext, "tools/list answered without a tool list");
    return;
  }
  if (mc.listed === null) {
    // The object woke between pages and the earlier ones are gone: list again from the start.
    if (ext.pages > 1) {
      if (ext.pages >= MAX_LIST_PAGES) {
        fail(session, conn, ext, "the listing was interrupted");
        return;
      }
      mc.listed = [];
      requestPage(session, conn, ext, "");
      return;
    }
    mc.listed = [];
  }
  for (const raw of page.data.tools) {
    const spec = toolSpec(raw);
    if (spec && !mc.listed.some((t) => t.name === spec.name)) mc.listed.push(spec);
  }
  const cursor = page.data.nextCursor;
  if (cursor && ext.pages < MAX_LIST_PAGES) {
    requestPage(session, conn, ext, cursor);
    return;
  }
  const tools = mc.listed;
  mc.listed = null;
  ext.hash = saveTools(session, tools);
  ext.phase = "ready";
  ext.wait = 0;
  conn.save();
  log.info("mcp.ready", {
    deviceId: session.deviceId,
    conn: conn.state.id,
    tools: tools.length,
    pages: ext.pages,
    truncated: Boolean(cursor),
    vision: ext.vision,
    ms: session.now() - (ext.until - session.settings.MCP_INIT_TIMEOUT_MS),
  });
}
