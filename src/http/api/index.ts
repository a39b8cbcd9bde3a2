import { Hono } from "hono";
import { timingSafeEqual } from "../../auth/compare.ts";
import type { AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { adminToken, missingSecretHint } from "../local-dev.ts";
import { byAddress, overLimit, tokenKey } from "../rate-limit.ts";
import { limitBody } from "../validate.ts";
import { firmwareUploads } from "../../firmware/routes.ts";
import { configRoutes } from "./config.ts";
import { activationRoutes } from "./activations.ts";
import { deviceRoutes } from "./devices.ts";
import { fleetDeviceRoutes } from "./fleet-devices.ts";
import { groupRoutes } from "./groups.ts";
import { meetingRoutes } from "./meetings.ts";
import { statsRoutes } from "./stats.ts";
import { toolRoutes } from "./tools.ts";

// Operator and integration API (PROTOCOL §11), behind `Authorization: Bearer <ADMIN_TOKEN>`: one
// sub-app per resource, mounted here behind the token check and the body limit.

export function apiRoutes() {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    const expected = adminToken(c.get("settings"), c.get("local"));
    const presented = /^bearer\s+(.+)$/i.exec((c.req.header("authorization") ?? "").trim())?.[1]?.trim() ?? "";
    const valid = expected !== "" && presented !== "" && timingSafeEqual(presented, expected);
    // Rate limit (PROTOCOL §1.1): per token; a bad or missing token counts against its address, so
    // guessing costs the guesser's address, never the operator's token.
    const over = await overLimit(c, "api", valid ? await tokenKey(presented) : byAddress(c));
    if (over) return over;
    if (!expected) {
      const hint = missingSecretHint("ADMIN_TOKEN", new URL(c.req.url).host);
      return apiError(c, 503, "ADMIN_DISABLED", `ADMIN_TOKEN is not set on this server; the API is closed (${hint})`);
    }
    if (!valid) return apiError(c, 401, "UNAUTHORIZED", "missing or wrong admin bearer token");
    await next();
  });
  // Firmware images have their own limit (FIRMWARE_MAX_BYTES), every other body 64 KiB.
  const limited = limitBody();
  app.use("*", (c, next) => (c.req.method === "PUT" && c.req.path.startsWith("/api/firmware/") ? next() : limited(c, next)));

  app.route("/devices", fleetDeviceRoutes());
  app.route("/devices", deviceRoutes());
  app.route("/devices", toolRoutes());
  app.route("/activations", activationRoutes());
  app.route("/stats", statsRoutes());
  app.route("/groups", groupRoutes());
  app.route("/meetings", meetingRoutes());
  app.route("/config", configRoutes());
  app.route("/firmware", firmwareUploads());
  return app;
}
