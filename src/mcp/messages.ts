import { z } from "zod";
import type { ToolSchema } from "../tools/tool.ts";

// JSON-RPC 2.0 and MCP shapes inside `{"type":"mcp","payload":{...}}` frames (PROTOCOL §13,
// ../shared/MCP.md). Device answers are read leniently: a tool with an odd schema is offered with
// what can be used of it, a tool without a name is skipped, and nothing a device sends may throw.

export const MCP_PROTOCOL_VERSION = "2024-11-05";
/** Pages of `tools/list` read at setup, at most. */
export const MAX_LIST_PAGES = 8;

/** A response to one of our requests: `id` is a number (ours are), `result` or `error`. */
export const RpcResponse = z.looseObject({
  jsonrpc: z.literal("2.0"),
  id: z.number(),
  result: z.unknown().optional(),
  error: z.looseObject({ message: z.unknown().optional(), code: z.unknown().optional() }).optional(),
});
export type RpcResponse = z.infer<typeof RpcResponse>;

/** The outcome of one request as callers see it. */
export type RpcReply = { ok: true; result: unknown } | { ok: false; message: string };

export function replyOf(r: RpcResponse): RpcReply {
  if (r.error !== undefined) {
    const m = r.error.message;
    return { ok: false, message: typeof m === "string" && m ? m.slice(0, 500) : "the device reported an error" };
  }
  return { ok: true, result: r.result };
}

const Property = z.looseObject({
  type: z.string().optional().catch(undefined),
  description: z.string().max(2000).optional().catch(undefined),
  minimum: z.number().optional().catch(undefined),
  maximum: z.number().optional().catch(undefined),
  enum: z.array(z.unknown()).max(100).optional().catch(undefined),
});

const InputSchema = z
  .looseObject({
    properties: z.record(z.string().max(128), z.unknown()).optional().catch(undefined),
    required: z.array(z.string()).optional().catch(undefined),
  })
  .catch({});

/** A tool as stored and offered: the parts the LLM and the argument check use. */
export interface DeviceToolSpec {
  name: string;
  description: string;
  inputSchema: ToolSchema;
  /** Listed for users only (`annotations.audience` without "assistant"): never offered to the LLM. */
  userOnly?: true;
}

const Tool = z.looseObject({
  name: z.string().min(1).max(128),
  description: z.string().optional().catch(undefined),
  inputSchema: InputSchema.optional(),
  annotations: z
    .looseObject({ audience: z.array(z.unknown()).optional().catch(undefined) })
    .optional()
    .catch(undefined),
});

export const ToolsListResult = z.looseObject({
  tools: z.array(z.unknown()).max(1000),
  nextCursor: z.string().max(256).optional().catch(undefined),
});

/** One listed tool, normalised; null when it has no usable name. */
export function toolSpec(raw: unknown): DeviceToolSpec | null {
  const t = Tool.safeParse(raw);
  if (!t.success) return null;
  // Keys come from the device; a property named `__proto__` would set the prototype, so it is left out.
  // (Null-prototype objects would not survive RPC's structured clone.)
  const properties: ToolSchema["properties"] = {};
  for (const [k, v] of Object.entries(t.data.inputSchema?.properties ?? {})) {
    if (k === "__proto__") continue;
    const p = Property.safeParse(v);
    if (p.success) properties[k] = p.data;
  }
  const required = (t.data.inputSchema?.required ?? []).filter((k) => Object.hasOwn(properties, k));
  const audience = t.data.annotations?.audience;
  const userOnly = Array.isArray(audience) && audience.includes("user") && !audience.includes("assistant");
  return {
    name: t.data.name,
    description: (t.data.description ?? "").slice(0, 2000),
    inputSchema: { type: "object", properties, ...(required.length ? { required } : {}) },
    ...(userOnly ? { userOnly: true as const } : {}),
  };
}

export const CallResult = z.looseObject({
  content: z.array(z.looseObject({ type: z.string().optional(), text: z.unknown().optional() })).catch([]),
  isError: z.boolean().optional().catch(undefined),
});

/** The text of a tools/call result and whether the tool said it failed. */
export function callText(result: unknown): { text: string; isError: boolean } {
  const r = CallResult.safeParse(result);
  if (!r.success) return { text: typeof result === "string" ? result : JSON.stringify(result ?? null), isError: false };
  const text = r.data.content
    .filter((c) => c.type === "text" && typeof c.text === "string")
    .map((c) => c.text as string)
    .join("\n");
  return { text, isError: r.data.isError === true };
}
