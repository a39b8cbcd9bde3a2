import type { HandlerCtx, Session } from "../session/capability.ts";
import type { Conn } from "../session/conn.ts";
import { type ToolResult, type ToolSource, toolError, type TurnTool } from "../tools/tool.ts";
import { peekExt, request } from "./link.ts";
import { callText, type DeviceToolSpec } from "./messages.ts";
import { expireSetup } from "./setup.ts";
import { storedTools } from "./store.ts";

// The device's MCP tools as a turn offers them (PROTOCOL §13): those its setup listed, without
// user-only ones, the camera only when `initialize` gave it a vision URL, at most MCP_MAX_TOOLS.
// A call goes out on the socket of the turn and waits MCP_TOOL_TIMEOUT_MS for its answer.

const CAMERA = /camera[._]take_photo$/;

/** The tools setup listed on this socket, as offered to the LLM; empty until setup is done. */
export function offeredSpecs(session: Session, conn: Conn): DeviceToolSpec[] {
  expireSetup(session, conn);
  const ext = peekExt(conn);
  if (ext?.phase !== "ready") return [];
  const all = storedTools(session, ext.hash) ?? [];
  return all.filter((t) => !t.userOnly && (ext.vision || !CAMERA.test(t.name))).slice(0, session.settings.MCP_MAX_TOOLS);
}

/** tools/call on the socket; every outcome is a ToolResult (rejects only when `signal` aborts). */
export async function callDeviceTool(session: Session, conn: Conn, name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolResult> {
  const timeoutMs = session.settings.MCP_TOOL_TIMEOUT_MS;
  const out = await request(session, conn, "tools/call", { name, arguments: args }, { timeoutMs, ...(signal ? { signal } : {}) });
  switch (out.kind) {
    case "result": {
      const { text, isError } = callText(out.result);
      return isError ? toolError("TOOL_ERROR", text || "the tool failed") : { ok: true, text };
    }
    case "error":
      return toolError("RPC_ERROR", out.message);
    case "timeout":
      return toolError("TIMEOUT", `the device did not answer within ${Math.round(timeoutMs / 1000)} s`);
    case "gone":
      return toolError("DEVICE_OFFLINE", "the device disconnected");
  }
}

export const deviceToolSource: ToolSource = (ctx: HandlerCtx) => {
  const { session, conn } = ctx;
  return offeredSpecs(session, conn).map(
    (spec): TurnTool => ({
      name: spec.name,
      kind: "device",
      description: spec.description,
      parameters: spec.inputSchema,
      run: (args, signal) => callDeviceTool(session, conn, spec.name, args, signal),
    }),
  );
};
