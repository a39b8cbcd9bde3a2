// What "local development" means, in one place below the HTTP layer: a loopback host, and the
// development device-token secret used there when DEVICE_TOKEN_SECRET is not set. The Worker uses
// it for device tokens (src/http/local-dev.ts) and a device's object for the vision token it hands
// the device's camera tool, so both sides sign and check with the same key.

export const DEV_DEVICE_TOKEN_SECRET = "supie-dev-only-device-token-secret-not-for-production";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.has(hostname) || hostname.endsWith(".localhost");
}

/** DEVICE_TOKEN_SECRET, else the development secret on a loopback host, else "" (none). */
export function tokenSecret(configured: string, loopback: boolean): string {
  if (configured) return configured;
  return loopback ? DEV_DEVICE_TOKEN_SECRET : "";
}
