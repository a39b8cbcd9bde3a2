import { Hono } from "hono";
import { z } from "zod";
import { isValidId, normaliseId } from "../../auth/identity.ts";
import { deviceCaller, deviceStub, fleetFrom, peerPort, workflowPort } from "../../objects/ports.ts";
import { relayTask } from "../../peer/relay.ts";
import { OPERATOR, newEnvelope, sendPeer } from "../../peer/send.ts";
import { taskToWorkflow } from "../../peer/task-to-workflow.ts";
import type { AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { idParam, jsonBody } from "../validate.ts";

// /api/devices/:id — one device: its state, messages to it, activation, disconnect (PROTOCOL §11).

const ActivateBody = z.object({
  code: z
    .union([z.string(), z.number()], { error: "missing: code" })
    .transform((v) => String(v).trim())
    .pipe(z.string().min(1, { error: "missing: code" })),
});

const MessageBody = z.object({
  category: z.string().max(64).optional(),
  payload: z.record(z.string(), z.unknown(), { error: "payload must be an object" }),
  from: z.string().max(64).optional(),
});

export function deviceRoutes() {
  const app = new Hono<AppEnv>();
  const device = idParam("id", "device id");

  app.get("/:id", device, async (c) => {
    const { id } = c.req.valid("param");
    const fleet = fleetFrom(c.env);
    // lastSeen as the list has it (last OTA check, connect or disconnect) once the registry knows the device.
    const [info, row] = await Promise.all([deviceStub(c.env, id).info(), fleet ? fleet.devices.device(id, Date.now()).catch(() => null) : null]);
    return c.json(row ? { ...(info as Record<string, unknown>), lastSeen: row.lastSeen } : info);
  });

  app.delete("/:id/sessions", device, async (c) => {
    const { id } = c.req.valid("param");
    const closed = await deviceStub(c.env, id).disconnect();
    return c.json({ deviceId: id, closed });
  });

  // The device's chat history (PROTOCOL §11, §5.1), oldest first; DELETE forgets it.
  app.get("/:id/history", device, async (c) => {
    const { id } = c.req.valid("param");
    return c.json({ items: await deviceCaller(c.env)(id, "voice.history") });
  });

  app.delete("/:id/history", device, async (c) => {
    const { id } = c.req.valid("param");
    return c.json({ deviceId: id, cleared: await deviceCaller(c.env)(id, "voice.clearHistory") });
  });

  app.post("/:id/activate", device, jsonBody(ActivateBody), async (c) => {
    const { id } = c.req.valid("param");
    const result = await deviceCaller(c.env)(id, "activation.activate", c.req.valid("json").code);
    if (!result.ok) return apiError(c, 409, "ACTIVATION_FAILED", result.reason ?? "activation failed");
    return c.json({ deviceId: id, activated: true });
  });

  app.post("/:id/messages", device, jsonBody(MessageBody), async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const from = body.from ? normaliseId(body.from) : OPERATOR;
    if (from !== OPERATOR && !isValidId(from)) return apiError(c, 400, "SCHEMA_INVALID", "invalid: from (not a device id)");
    const s = c.get("settings");
    const startedAt = Date.now();
    const req = { from, to: [id], category: body.category, payload: body.payload, trusted: true };
    const envelope = await relayTask(newEnvelope(req, s, startedAt), s);
    const result = await sendPeer(req, envelope, s, peerPort(c.env), startedAt, Date.now);
    if (!result.ok) return apiError(c, 429, "RATE_LIMITED", `retry after ${result.retryAfterMs} ms`);
    await taskToWorkflow(envelope, result.receipt, s, workflowPort(c.env));
    return c.json(result.receipt);
  });

  return app;
}
