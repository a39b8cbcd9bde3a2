import { McpIn } from "../protocol/messages.ts";
import { capability, route, type Session } from "../session/capability.ts";
import { handleMcpFrame } from "./handler.ts";
import { operatorCall, operatorTools } from "./operator.ts";
import { startSetup } from "./setup.ts";

// Device tools over MCP (PROTOCOL §13): this capability takes the stock `mcp` message type, sets
// up each socket's MCP session after the hello, and answers the operator API. The tools reach chat
// turns through `deviceToolSource` (device-tools.ts), wired in src/capabilities.ts. Placed after
// the capabilities whose afterHello delivers the inbox and the task snapshot: setup comes after.

export { deviceToolSource } from "./device-tools.ts";

export function mcpCapability() {
  return capability({
    name: "mcp",
    routes: { mcp: route(McpIn, handleMcpFrame) },
    afterHello: startSetup,
    rpc: {
      tools: (session: Session) => operatorTools(session),
      call: (session: Session, name: string, args: Record<string, unknown>) => operatorCall(session, name, args),
    },
  });
}
