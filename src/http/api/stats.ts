import { Hono } from "hono";
import { countMeetingsSince } from "../../meeting/archive.ts";
import type { AppEnv } from "../context.ts";
import { fleetOr503 } from "../fleet.ts";

// /api/stats (PROTOCOL §11): fleet-wide counts from the registry (one batch of indexed reads) and
// the meeting archive's index; nothing asks a device's object.

const DAY_MS = 24 * 3_600_000;

export function statsRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const r = fleetOr503(c);
    if ("error" in r) return r.error;
    const now = Date.now();
    const [counts, voice, meetings] = await Promise.all([
      r.fleet.devices.counts(now),
      r.fleet.turns.lastHour(now),
      countMeetingsSince(c.env.ARCHIVE, now - DAY_MS),
    ]);
    return c.json({
      devices: { known: counts.known, online: counts.online },
      groups: counts.groups,
      inbox: { queued: counts.queued },
      meetings: { last24h: meetings },
      voice,
    });
  });
  return app;
}
