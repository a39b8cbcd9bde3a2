import { claimedIdentity } from "../auth/identity.ts";
import { authenticate } from "../auth/verify.ts";
import { log } from "../log.ts";
import type { AppContext } from "./context.ts";
import { apiError } from "./errors.ts";
import { IDENTITY_HEADERS } from "./identity-headers.ts";
import { deviceTokenSecret } from "./local-dev.ts";

// WebSocket upgrade (PROTOCOL §2, §3): identify and authenticate here, in the Worker, so a rejected
// request never wakes a Durable Object; then hand the raw request to the device's object, which
// accepts it with the hibernation API.

export async function upgrade(c: AppContext) {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    return c.text("This is the device WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).", 426, {
      Upgrade: "websocket",
    });
  }
  const s = c.get("settings");
  const claim = claimedIdentity(new URL(c.req.url), c.req.raw.headers);
  const result = await authenticate(claim, s, { deviceTokenSecret: deviceTokenSecret(s, c.get("local")) });
  if (!result.ok) {
    log.warn("auth.rejected", { deviceId: claim.deviceId || null, mode: s.AUTH_MODE, reason: result.reason });
    return apiError(c, 401, "UNAUTHORIZED", result.reason);
  }
  if (result.method === "off") {
    log.warn("auth.off", {
      deviceId: result.deviceId,
      assigned: result.assignedId,
      message: "AUTH_MODE=off: accepting an unauthenticated device (local development only)",
    });
  }
  const headers = new Headers(c.req.raw.headers);
  for (const h of Object.values(IDENTITY_HEADERS)) headers.delete(h);
  headers.set(IDENTITY_HEADERS.device, result.deviceId);
  headers.set(IDENTITY_HEADERS.client, result.clientId);
  headers.set(IDENTITY_HEADERS.method, result.method);
  if (result.assignedId) headers.set(IDENTITY_HEADERS.assigned, "1");
  if (claim.protocolVersion) headers.set(IDENTITY_HEADERS.protocol, String(claim.protocolVersion));
  const stub = c.env.DEVICE.get(c.env.DEVICE.idFromName(result.deviceId));
  return stub.fetch(new Request(c.req.raw.url, { headers }));
}
