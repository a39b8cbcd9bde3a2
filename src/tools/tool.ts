import type { HandlerCtx } from "../session/capability.ts";

// A tool the chat LLM may call in a voice turn (PROTOCOL §13): one of the device's MCP tools or a
// server tool. The turn sees only this shape; where a tool runs (over the device's socket, through
// another object's RPC) is the business of whoever offers it.

/** The JSON Schema subset tools declare for their arguments (what the firmware emits, and ours). */
export interface ToolSchema {
  type: "object";
  properties: Record<string, PropertySchema>;
  required?: string[];
}

export interface PropertySchema {
  type?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  default?: unknown;
  [k: string]: unknown;
}

export type ToolErrorCode =
  | "TOOL_ERROR"
  | "RPC_ERROR"
  | "TIMEOUT"
  | "BAD_ARGUMENTS"
  | "UNKNOWN_TOOL"
  | "DEVICE_OFFLINE"
  | "TOO_MANY_CALLS"
  | "ABORTED"
  | "FAILED";

export type ToolResult =
  | {
      ok: true;
      /** What the LLM reads. */
      text: string;
      /** end_conversation: say this, then end the conversation (no further LLM round). */
      end?: { goodbye: string };
    }
  | { ok: false; code: ToolErrorCode; message: string };

export interface TurnTool {
  /** The tool's own name (a device tool's dotted MCP name); the LLM sees a mapped one. */
  readonly name: string;
  readonly kind: "device" | "server";
  readonly description: string;
  readonly parameters: ToolSchema;
  /** Runs the call; `args` have passed the schema check. Rejects only when `signal` aborts. */
  run(args: Record<string, unknown>, signal: AbortSignal): Promise<ToolResult>;
}

/** The tools one provider offers for a turn on this socket (none is an empty list). */
export type ToolSource = (ctx: HandlerCtx) => readonly TurnTool[] | Promise<readonly TurnTool[]>;

export function toolError(code: ToolErrorCode, message: string): ToolResult {
  return { ok: false, code, message };
}
