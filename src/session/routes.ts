import { AbortIn, GoodbyeIn, HelloIn, IotIn, ListenIn, McpIn, ModeIn, PingIn } from "../protocol/messages.ts";
import { handlePeer } from "../peer/handler.ts";
import { PeerIn } from "../peer/messages.ts";
import { handleWorkflow } from "../workflow/handler.ts";
import { WorkflowIn } from "../workflow/messages.ts";
import { handleMeeting } from "../meeting/meeting.ts";
import { MeetingIn } from "../meeting/messages.ts";
import { handleHello } from "./handlers/hello.ts";
import { handleListen } from "./handlers/listen.ts";
import { handleMode } from "./handlers/mode.ts";
import { handleAbort, handleGoodbye, handleIot, handleMcp, handlePing } from "./handlers/stock.ts";
import { route, type Route } from "./route.ts";

// The route table: message type → schema + handler. Capabilities add their families here.
export const routes: Record<string, Route> = {
  hello: route(HelloIn, handleHello),
  ping: route(PingIn, handlePing),
  keepalive: route(PingIn, handlePing),
  listen: route(ListenIn, handleListen),
  abort: route(AbortIn, handleAbort),
  mcp: route(McpIn, handleMcp),
  iot: route(IotIn, handleIot),
  goodbye: route(GoodbyeIn, handleGoodbye),
  mode: route(ModeIn, handleMode),
  peer: route(PeerIn, handlePeer),
  workflow: route(WorkflowIn, handleWorkflow),
  meeting: route(MeetingIn, handleMeeting),
};
