import { log } from "../log.ts";
import type { Settings } from "../config/settings.ts";

// `npm run dev` must work with no secret set. On a loopback host, and only there, missing secrets
// fall back to development values, loudly. A deployed Worker is never reached as localhost, so it
// never uses them: without DEVICE_TOKEN_SECRET it refuses to issue tokens, without ADMIN_TOKEN
// the API is closed.

export const DEV_DEVICE_TOKEN_SECRET = "supie-dev-only-device-token-secret-not-for-production";
export const DEV_ADMIN_TOKEN = "dev-admin-token";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname) || url.hostname.endsWith(".localhost");
}

let warned = false;
function warnOnce(what: string): void {
  if (warned) return;
  warned = true;
  log.warn("config.development_defaults", {
    message: `${what} not set: using DEVELOPMENT defaults because the request came to a loopback host. Never deploy like this.`,
  });
}

export function deviceTokenSecret(s: Settings, local: boolean): string {
  if (s.DEVICE_TOKEN_SECRET) return s.DEVICE_TOKEN_SECRET;
  if (!local) return "";
  warnOnce("DEVICE_TOKEN_SECRET / ADMIN_TOKEN");
  return DEV_DEVICE_TOKEN_SECRET;
}

/**
 * Whether unknown devices must be activated (PROTOCOL §1.1). Unset means required when deployed: a
 * token for any Device-Id that asks would be no authentication. On loopback it stays off, so a
 * developer's board or simulator connects at once.
 */
export function otaActivation(s: Settings, local: boolean): "off" | "required" {
  if (s.OTA_ACTIVATION !== "auto") return s.OTA_ACTIVATION;
  return local ? "off" : "required";
}

/**
 * What to do about a missing secret, for the 503 and its log line. The usual case in development:
 * a board on the LAN reaches `wrangler dev` at the machine's LAN address, which is not loopback, so
 * no development value applies there (docs/deploy.md, "Boards on the LAN").
 */
export function missingSecretHint(name: string, host: string): string {
  return `set it with \`wrangler secret put ${name}\`; under \`wrangler dev\` reached at ${host} (not a loopback address, so no development value applies) put ${name} in .dev.vars, see docs/deploy.md`;
}

export function adminToken(s: Settings, local: boolean): string {
  if (s.ADMIN_TOKEN) return s.ADMIN_TOKEN;
  if (!local) return "";
  warnOnce("DEVICE_TOKEN_SECRET / ADMIN_TOKEN");
  return DEV_ADMIN_TOKEN;
}
