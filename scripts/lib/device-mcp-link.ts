import { DeviceMcpServer, type DeviceMcpOptions, type Json } from "./device-mcp.ts";
import type { DeviceClient } from "./device-client.ts";

// Wires a firmware-like MCP server (device-mcp.ts) to a simulated device's socket: every `mcp`
// frame the server sends is answered as the firmware answers it, in the firmware's frame shape
// (`session_id` first). Used by the simulator (scripts/device.ts) and the end-to-end tests.

export interface McpLink {
  server: DeviceMcpServer;
  /** Stops answering (the socket stays open). */
  stop(): void;
}

/** One line about a request and its answer, for the simulator's output. */
export type McpNote = (line: string) => void;

function describe(payload: Json): string {
  const params = (payload.params ?? {}) as Json;
  if (payload.method === "tools/call") return `tools/call ${String(params.name)} ${JSON.stringify(params.arguments ?? {})}`;
  if (payload.method === "tools/list") return `tools/list cursor=${JSON.stringify(params.cursor ?? "")}${params.withUserTools ? " withUserTools" : ""}`;
  return String(payload.method ?? "?");
}

export function linkMcp(client: DeviceClient, opts: DeviceMcpOptions = {}, note?: McpNote): McpLink {
  const server = new DeviceMcpServer({ deviceId: client.deviceId, ...opts });
  const sessionId = () => String(client.hello?.session_id ?? "");
  let stopped = false;
  const answer = (msg: Json) => {
    const payload = msg.payload as Json;
    void server.handle(payload).then((text) => {
      if (stopped || !client.isOpen) return;
      note?.(`  mcp ${describe(payload)} → ${text === null ? "(dropped)" : text.length > 160 ? `${text.slice(0, 160)}…` : text}`);
      if (text !== null) client.sendRaw(DeviceMcpServer.frame(text, sessionId()));
    });
  };
  // Frames that came with the hello reply were buffered before this link existed.
  for (const msg of client.inbox.filter((m) => m.type === "mcp")) answer(msg);
  const untap = client.tap((msg) => {
    if (msg.type === "mcp" && !stopped) answer(msg);
    return false; // still printed by whoever prints
  });
  return {
    server,
    stop() {
      stopped = true;
      untap();
    },
  };
}
