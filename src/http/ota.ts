import { Hono } from "hono";
import { issueDeviceToken } from "../auth/tokens.ts";
import { isValidId, normaliseId } from "../auth/identity.ts";
import { log } from "../log.ts";
import { deviceCaller } from "../objects/ports.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { apiError } from "./errors.ts";
import { recordSighting } from "./fleet.ts";
import { deviceTokenSecret, missingSecretHint, otaActivation } from "./local-dev.ts";
import { byAddress, byDevice, rateLimit } from "./rate-limit.ts";
import { bodyText, limitBody } from "./validate.ts";
import { boardOf, boardOffer } from "../firmware/offer.ts";

// OTA check (PROTOCOL §1.1): the firmware asks where to connect and with which token.
// The reply never contains `mqtt`, which the firmware would prefer over the WebSocket.

/** Compares dotted versions numerically ("1.10.0" > "1.9.3"); non-numeric parts compare as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d > 0 ? 1 : -1;
  }
  return 0;
}

function deviceVersion(body: unknown, userAgent: string | undefined): string {
  const app = (body as { application?: { version?: unknown } } | null)?.application;
  if (typeof app?.version === "string" && app.version.trim()) return app.version.trim();
  const fromUa = userAgent?.split("/")[1]?.trim();
  return fromUa || "0.0.0";
}

/** This server's public origin, for URLs handed to devices (behind https when the request was). */
function publicOrigin(c: AppContext): string {
  const ws = c.get("settings").PUBLIC_WS_URL;
  if (ws) return new URL(ws).origin.replace(/^ws/, "http");
  const url = new URL(c.req.url);
  const proto = c.req.header("x-forwarded-proto") ?? url.protocol.replace(":", "");
  return `${proto === "https" || proto === "wss" ? "https" : "http"}://${url.host}`;
}

export function websocketUrl(c: AppContext, alias: boolean): string {
  const configured = c.get("settings").PUBLIC_WS_URL;
  if (configured) return configured;
  const url = new URL(c.req.url);
  const proto = c.req.header("x-forwarded-proto") ?? url.protocol.replace(":", "");
  const scheme = proto === "https" || proto === "wss" ? "wss" : "ws";
  return `${scheme}://${url.host}/${alias ? "xiaozhi" : "supie"}/v1/`;
}

async function otaCheck(c: AppContext, alias: boolean) {
  const s = c.get("settings");
  const rawId = c.req.header("device-id");
  if (!rawId?.trim()) return apiError(c, 400, "INVALID_REQUEST", "missing Device-Id header");
  const deviceId = normaliseId(rawId);
  if (!isValidId(deviceId)) return apiError(c, 400, "INVALID_REQUEST", "invalid Device-Id header: 1-64 chars of [a-z0-9:._-]");
  const clientId = normaliseId(c.req.header("client-id")) || deviceId;
  if (!isValidId(clientId)) return apiError(c, 400, "INVALID_REQUEST", "invalid Client-Id header: 1-64 chars of [a-z0-9:._-]");
  // The firmware's system info varies by version and board; nothing in it may fail the check.
  const body: unknown = await bodyText(c)
    .then((text) => JSON.parse(text) as unknown)
    .catch(() => null);
  const current = deviceVersion(body, c.req.header("user-agent"));
  const served = (board: string, version: string) => `${publicOrigin(c)}/firmware/${board.toLowerCase()}/${version}.bin`;
  const offer =
    (await boardOffer(s.FIRMWARE_BY_BOARD, boardOf(body, c.req.header("user-agent")), deviceId, served)) ??
    (s.FIRMWARE_VERSION ? { version: s.FIRMWARE_VERSION, url: s.FIRMWARE_URL } : null);
  const newer = offer !== null && compareVersions(offer.version, current) > 0;

  let token = "";
  let activation: Record<string, unknown> | undefined;
  if (s.AUTH_MODE === "device-token" || s.AUTH_MODE === "mixed") {
    const secret = deviceTokenSecret(s, c.get("local"));
    if (!secret) {
      const hint = missingSecretHint("DEVICE_TOKEN_SECRET", new URL(c.req.url).host);
      log.error("ota.no_token_secret", { deviceId, message: "DEVICE_TOKEN_SECRET is not set; refusing to issue device tokens", hint });
      return apiError(c, 503, "SERVER_MISCONFIGURED", `DEVICE_TOKEN_SECRET is not set on this server; no device token can be issued (${hint})`);
    }
    let activated = true;
    if (otaActivation(s, c.get("local")) === "required") {
      const state = await deviceCaller(c.env)(deviceId, "activation.ota");
      if (!state.activated) {
        activated = false;
        activation = {
          code: state.code,
          message: `Activation code ${state.code}: ask your operator to activate this device`,
          challenge: state.challenge,
          timeout_ms: 30000,
        };
      }
    }
    if (activated) token = await issueDeviceToken(secret, deviceId, clientId, s.DEVICE_TOKEN_TTL_S);
  }

  recordSighting(c, deviceId, body);
  log.info("ota.check", { deviceId, clientId, version: current, offered: newer ? offer.version : null, activation: Boolean(activation) });
  return c.json({
    server_time: { timestamp: Date.now(), timezone_offset: s.TIMEZONE_OFFSET_MIN },
    firmware: { version: newer ? offer.version : current, url: newer ? offer.url : "" },
    ...(activation ? { activation } : {}),
    websocket: { url: websocketUrl(c, alias), token, version: 1 },
  });
}

async function activationPoll(c: AppContext) {
  const s = c.get("settings");
  if (otaActivation(s, c.get("local")) !== "required") return c.json({ status: "activated" }, 200);
  const deviceId = normaliseId(c.req.header("device-id"));
  if (!deviceId || !isValidId(deviceId)) return apiError(c, 400, "INVALID_REQUEST", "missing Device-Id header");
  const activated = await deviceCaller(c.env)(deviceId, "activation.activated");
  return activated ? c.json({ status: "activated" }, 200) : c.json({ status: "waiting" }, 202);
}

export function otaRoutes(alias: boolean) {
  const app = new Hono<AppEnv>();
  // Counted before anything else is done for them (PROTOCOL §1.1): polls per device, checks per address.
  app.post("/activate", rateLimit("activation", byDevice));
  app.post("/", rateLimit("ota", byAddress));
  app.use("*", limitBody());
  app.post("/activate", activationPoll);
  app.post("/", (c) => otaCheck(c, alias));
  app.get("/", (c) => c.text(`OTA endpoint is running; devices are sent websocket URL: ${websocketUrl(c, alias)}`));
  return app;
}
