import type { Session } from "../session/capability.ts";
import type { Conn } from "../session/conn.ts";
import { checkArgs } from "../tools/args.ts";
import { callDeviceTool } from "./device-tools.ts";
import { request } from "./link.ts";
import { type DeviceToolSpec, MAX_LIST_PAGES, ToolsListResult, toolSpec } from "./messages.ts";
import { mcpEnabled } from "./setup.ts";

// The operator API's view of a device's tools (PROTOCOL §13): its own `tools/list` with
// `withUserTools:true` (user-only tools marked, never offered to the LLM), and a call of any listed
// tool, arguments checked as for the LLM. Answers are plain data for the HTTP layer to shape.

export type OperatorFailure = {
  ok: false;
  code: "DEVICE_OFFLINE" | "MCP_UNAVAILABLE" | "TOOL_TIMEOUT" | "MCP_ERROR" | "NOT_FOUND" | "SCHEMA_INVALID";
  message: string;
};
export type ToolsAnswer = { ok: true; items: DeviceToolSpec[] } | OperatorFailure;
export type CallAnswer = { ok: true; name: string; isError: boolean; text: string } | OperatorFailure;

function socketOf(session: Session): Conn | OperatorFailure {
  const conn = session.current();
  if (!conn) return { ok: false, code: "DEVICE_OFFLINE", message: "the device is not connected" };
  if (!mcpEnabled(session, conn)) {
    const why = session.settings.MCP_ENABLED ? "the device did not offer MCP in its hello" : "MCP is off on this server (MCP_ENABLED=false)";
    return { ok: false, code: "MCP_UNAVAILABLE", message: why };
  }
  return conn;
}

async function listAll(session: Session, conn: Conn): Promise<ToolsAnswer> {
  const items: DeviceToolSpec[] = [];
  let cursor = "";
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const out = await request(session, conn, "tools/list", { cursor, withUserTools: true }, { timeoutMs: session.settings.MCP_INIT_TIMEOUT_MS });
    if (out.kind === "timeout") return { ok: false, code: "TOOL_TIMEOUT", message: "the device did not list its tools in time" };
    if (out.kind === "gone") return { ok: false, code: "DEVICE_OFFLINE", message: "the device disconnected" };
    if (out.kind === "error") return { ok: false, code: "MCP_ERROR", message: `tools/list failed: ${out.message}` };
    const parsed = ToolsListResult.safeParse(out.result);
    if (!parsed.success) return { ok: false, code: "MCP_ERROR", message: "tools/list answered without a tool list" };
    for (const raw of parsed.data.tools) {
      const spec = toolSpec(raw);
      if (spec && !items.some((t) => t.name === spec.name)) items.push(spec);
    }
    if (!parsed.data.nextCursor) break;
    cursor = parsed.data.nextCursor;
  }
  return { ok: true, items };
}

export async function operatorTools(session: Session): Promise<ToolsAnswer> {
  const conn = socketOf(session);
  if (!("state" in conn)) return conn;
  return listAll(session, conn);
}

export async function operatorCall(session: Session, name: string, args: Record<string, unknown>): Promise<CallAnswer> {
  const conn = socketOf(session);
  if (!("state" in conn)) return conn;
  const listed = await listAll(session, conn);
  if (!listed.ok) return listed;
  const spec = listed.items.find((t) => t.name === name);
  if (!spec) return { ok: false, code: "NOT_FOUND", message: `the device lists no tool named "${name.slice(0, 64)}"` };
  const checked = checkArgs(spec.inputSchema, JSON.stringify(args));
  if (!checked.ok) return { ok: false, code: "SCHEMA_INVALID", message: checked.message };
  const r = await callDeviceTool(session, conn, name, checked.args);
  if (r.ok) return { ok: true, name, isError: false, text: r.text };
  if (r.code === "TIMEOUT") return { ok: false, code: "TOOL_TIMEOUT", message: r.message };
  if (r.code === "DEVICE_OFFLINE") return { ok: false, code: "DEVICE_OFFLINE", message: r.message };
  return { ok: true, name, isError: true, text: r.message };
}
