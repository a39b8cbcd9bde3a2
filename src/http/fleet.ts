import { configuredAlias, groupOf } from "../config/settings.ts";
import { boardOf } from "../firmware/offer.ts";
import type { Fleet } from "../fleet/fleet.ts";
import { log } from "../log.ts";
import { fleetFrom } from "../objects/ports.ts";
import type { AppContext } from "./context.ts";
import { apiError } from "./errors.ts";

// The fleet registry as the HTTP layer uses it: OTA checks record the device, the operator API
// reads it. A deployment without the FLEET binding still serves devices; its fleet endpoints say why
// they cannot answer.

/** The registry, or the 503 that says it is not bound. */
export function fleetOr503(c: AppContext): { fleet: Fleet } | { error: Response } {
  const fleet = fleetFrom(c.env);
  if (fleet) return { fleet };
  return { error: apiError(c, 503, "FLEET_DISABLED", "no fleet registry: bind a D1 database as FLEET (see the README)") };
}

/** Work that outlives the response (the registry write must not delay the device's answer). */
export function afterResponse(c: AppContext, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context (a direct app.fetch in a test): the work still runs.
  }
}

const short = (v: string) => v.trim().slice(0, 64) || null;

/** The firmware's version: `application.version`, else the User-Agent's; null when neither says. */
export function firmwareOf(body: unknown, userAgent: string | undefined): string | null {
  const v = (body as { application?: { version?: unknown } } | null)?.application?.version;
  if (typeof v === "string" && v.trim()) return short(v);
  const fromUa = userAgent?.split("/")[1];
  return fromUa ? short(fromUa) : null;
}

/** An OTA check: the device enters (or refreshes) its registry row, after the reply. */
export function recordSighting(c: AppContext, deviceId: string, body: unknown): void {
  const fleet = fleetFrom(c.env);
  if (!fleet) return;
  const s = c.get("settings");
  const ua = c.req.header("user-agent");
  const sighting = {
    deviceId,
    alias: configuredAlias(s, deviceId),
    groupKey: groupOf(s, deviceId),
    board: short(boardOf(body, ua)),
    firmware: firmwareOf(body, ua),
    at: Date.now(),
  };
  afterResponse(
    c,
    fleet.devices.sighted(sighting).catch((err: unknown) => log.warn("fleet.sighting_failed", { deviceId, error: err })),
  );
}
