import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { OperatorFailure } from "../../mcp/operator.ts";
import { deviceCaller } from "../../objects/ports.ts";
import type { AppContext, AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { idParam, jsonBody } from "../validate.ts";

// /api/devices/:id/tools — the device's MCP tools for an operator (PROTOCOL §13): its own listing
// with user-only tools marked (they are never offered to the LLM), and a call of any listed tool.

const CallBody = z.object({
  name: z.string({ error: "missing: name" }).min(1, { error: "missing: name" }).max(128),
  arguments: z.record(z.string(), z.unknown(), { error: "arguments must be an object" }).optional(),
});

const STATUS: Record<OperatorFailure["code"], ContentfulStatusCode> = {
  DEVICE_OFFLINE: 409,
  MCP_UNAVAILABLE: 409,
  TOOL_TIMEOUT: 504,
  MCP_ERROR: 502,
  NOT_FOUND: 404,
  SCHEMA_INVALID: 400,
};

const failed = (c: AppContext, f: OperatorFailure) => apiError(c, STATUS[f.code], f.code, f.message);

export function toolRoutes() {
  const app = new Hono<AppEnv>();
  const device = idParam("id", "device id");

  app.get("/:id/tools", device, async (c) => {
    const { id } = c.req.valid("param");
    const r = await deviceCaller(c.env)(id, "mcp.tools");
    if (!r.ok) return failed(c, r);
    return c.json({ deviceId: id, items: r.items });
  });

  app.post("/:id/tools/call", device, jsonBody(CallBody), async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const r = await deviceCaller(c.env)(id, "mcp.call", body.name, body.arguments ?? {});
    if (!r.ok) return failed(c, r);
    return c.json({ deviceId: id, name: r.name, isError: r.isError, text: r.text });
  });

  return app;
}
