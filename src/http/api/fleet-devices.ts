import { Hono } from "hono";
import { validator } from "hono/validator";
import { z } from "zod";
import { isValidId, normaliseId } from "../../auth/identity.ts";
import { decodeCursor } from "../../fleet/cursor.ts";
import { deviceCaller } from "../../objects/ports.ts";
import { ProfilePatch } from "../../profile/profile.ts";
import { describeIssues } from "../../protocol/errors.ts";
import type { AppContext, AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { fleetOr503 } from "../fleet.ts";
import { idParam, jsonBody } from "../validate.ts";

// /api/devices (PROTOCOL §11): the fleet list from the registry, never from the devices' objects,
// and each device's profile, kept by its own object.

const one = (v: unknown) => (Array.isArray(v) ? v[0] : v);

const ListQuery = z.object({
  online: z.preprocess(one, z.enum(["true", "false"], { error: "online must be true or false" }).optional()),
  group: z.preprocess(
    one,
    z
      .string()
      .transform((v) => normaliseId(v))
      .refine(isValidId, { error: "group must be a group key: 1-64 chars of [a-z0-9:._-]" })
      .optional(),
  ),
  q: z.preprocess(one, z.string().trim().max(64, { error: "q: at most 64 characters" }).optional()),
  limit: z.preprocess(one, z.coerce.number({ error: "limit must be a number" }).int({ error: "limit must be an integer" }).min(1).max(500).default(50)),
  cursor: z.preprocess(
    one,
    z
      .string()
      .transform((v, ctx) => {
        const c = decodeCursor(v);
        if (!c) ctx.addIssue({ code: "custom", message: "invalid cursor: pass nextCursor from the previous page as it is" });
        return c ?? z.NEVER;
      })
      .optional(),
  ),
});

const listQuery = validator("query", (_q, c) => {
  const parsed = ListQuery.safeParse(c.req.query(), { reportInput: true });
  if (!parsed.success) return apiError(c as AppContext, 400, "INVALID_REQUEST", describeIssues(parsed.error.issues));
  return parsed.data;
});

export function fleetDeviceRoutes() {
  const app = new Hono<AppEnv>();
  const device = idParam("id", "device id");

  app.get("/", listQuery, async (c) => {
    const r = fleetOr503(c);
    if ("error" in r) return r.error;
    const { online, group, q, limit, cursor } = c.req.valid("query");
    const filter = { ...(online ? { online: online === "true" } : {}), ...(group ? { group } : {}), ...(q ? { q } : {}) };
    return c.json(await r.fleet.devices.list(filter, cursor ?? null, limit, Date.now()));
  });

  app.get("/:id/profile", device, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await deviceCaller(c.env)(id, "profile.get"));
  });

  // Merges: named fields are set, null removes one, the rest stay (used from the next turn on).
  app.put("/:id/profile", device, jsonBody(ProfilePatch), async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await deviceCaller(c.env)(id, "profile.put", c.req.valid("json")));
  });

  return app;
}
