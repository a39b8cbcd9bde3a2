import { Hono } from "hono";
import { z } from "zod";
import { deviceCaller } from "../../objects/ports.ts";
import type { AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { fleetOr503 } from "../fleet.ts";
import { intQuery, jsonBody } from "../validate.ts";

// /api/activations (PROTOCOL §11): pending codes, and binding a device by its code alone. The
// registry finds the device showing the code; the device's own object checks and records it.

const CodeBody = z.object({
  code: z
    .union([z.string(), z.number()], { error: "missing: code" })
    .transform((v) => String(v).trim())
    .pipe(z.string().min(1, { error: "missing: code" }).max(32, { error: "invalid: code (at most 32 characters)" })),
});

export function activationRoutes() {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const r = fleetOr503(c);
    if ("error" in r) return r.error;
    const limit = intQuery(c.req.query("limit"), 500, 1, 1000);
    return c.json({ items: await r.fleet.codes.pending(Date.now(), limit) });
  });

  app.post("/", jsonBody(CodeBody), async (c) => {
    const r = fleetOr503(c);
    if ("error" in r) return r.error;
    const { code } = c.req.valid("json");
    const deviceId = await r.fleet.codes.holder(code, Date.now());
    const notFound = () => apiError(c, 404, "NOT_FOUND", "no pending activation code matches (used, expired or never shown)");
    if (!deviceId) return notFound();
    // The object has the last word: the code may have expired or been replaced a moment ago.
    const result = await deviceCaller(c.env)(deviceId, "activation.activate", code);
    if (!result.ok || result.already) return notFound();
    return c.json({ deviceId });
  });

  return app;
}
