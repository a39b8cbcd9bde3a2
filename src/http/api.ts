import { Hono } from "hono";
import { isValidId, normaliseId } from "../auth/identity.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { apiError } from "./errors.ts";
import { adminToken } from "./local-dev.ts";

// Operator and integration API (PROTOCOL §11), behind `Authorization: Bearer <ADMIN_TOKEN>`.

const encoder = new TextEncoder();
function sameSecret(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

function deviceParam(c: AppContext): string | null {
  const id = normaliseId(decodeURIComponent(c.req.param("id") ?? ""));
  return isValidId(id) ? id : null;
}

function deviceStub(c: AppContext, id: string) {
  return c.env.DEVICE.get(c.env.DEVICE.idFromName(id));
}

export function apiRoutes() {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    const expected = adminToken(c.get("settings"), c.get("local"));
    if (!expected) return apiError(c, 503, "ADMIN_DISABLED", "ADMIN_TOKEN is not set on this server; the API is closed");
    const header = c.req.header("authorization") ?? "";
    const m = /^bearer\s+(.+)$/i.exec(header.trim());
    if (!m || !sameSecret(m[1]!.trim(), expected)) return apiError(c, 401, "UNAUTHORIZED", "missing or wrong admin bearer token");
    await next();
  });

  app.get("/devices/:id", async (c) => {
    const id = deviceParam(c);
    if (!id) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    return c.json(await deviceStub(c, id).info(id));
  });

  app.delete("/devices/:id/sessions", async (c) => {
    const id = deviceParam(c);
    if (!id) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    const closed = await deviceStub(c, id).disconnect(id);
    return c.json({ deviceId: id, closed });
  });

  app.post("/devices/:id/activate", async (c) => {
    const id = deviceParam(c);
    if (!id) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    const body = (await c.req.json().catch(() => null)) as { code?: unknown } | null;
    const code = typeof body?.code === "string" || typeof body?.code === "number" ? String(body.code) : "";
    if (!code) return apiError(c, 400, "SCHEMA_INVALID", "missing: code");
    const result = await deviceStub(c, id).activate(id, code);
    if (!result.ok) return apiError(c, 409, "ACTIVATION_FAILED", result.reason ?? "activation failed");
    return c.json({ deviceId: id, activated: true });
  });

  return app;
}
