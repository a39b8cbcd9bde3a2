import { Hono } from "hono";
import { z } from "zod";
import { RUNTIME_SETTINGS, runtimeConfig } from "../../config/runtime.ts";
import { SECRET_SETTINGS } from "../../config/settings.ts";
import { dropLlmClients } from "../../llm/client.ts";
import type { AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { jsonBody } from "../validate.ts";

// /api/config — runtime settings (PROTOCOL §11): effective values, overrides, which secrets are set.

const SHAPE = 'body must be {"values":{"NAME":"value" | null}}';
const ConfigBody = z.object({ values: z.record(z.string(), z.unknown(), { error: SHAPE }) }, { error: SHAPE });

export function configRoutes() {
  const app = new Hono<AppEnv>();

  app.get("/", (c) => {
    const config = runtimeConfig(c.env, c.env.CONFIG, dropLlmClients);
    const s = c.get("settings");
    const { version, updatedAt, values } = config.overrides;
    return c.json({
      version,
      updatedAt,
      overrides: values,
      settings: Object.fromEntries(RUNTIME_SETTINGS.map((n) => [n, s[n]])),
      secrets: Object.fromEntries([...SECRET_SETTINGS].map((n) => [n, Boolean((s[n] as unknown as string | string[]).length)])),
    });
  });

  app.put("/", jsonBody(ConfigBody), async (c) => {
    const config = runtimeConfig(c.env, c.env.CONFIG, dropLlmClients);
    const result = await config.update(c.req.valid("json").values, Date.now());
    if (!result.ok) return apiError(c, 400, "SCHEMA_INVALID", result.message);
    return c.json({ version: result.doc.version, updatedAt: result.doc.updatedAt, overrides: result.doc.values });
  });

  return app;
}
