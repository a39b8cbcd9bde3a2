import type { MiddlewareHandler } from "hono";
import { log } from "../log.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { apiError } from "./errors.ts";
import { RejectionLog, addressKey, deviceKey, type LimitKey } from "./rate-limit-keys.ts";

export { addressKey, deviceKey, tokenKey, type LimitKey } from "./rate-limit-keys.ts";

// Rate limits (PROTOCOL §1.1) with the Workers Rate Limiting bindings of wrangler.toml: OTA checks
// per client address, `/api/*` per token (a bad or missing token counts against its address),
// activation polls per device id. Over a limit: `429 RATE_LIMITED` with `Retry-After`.
//
// The bindings count per Cloudflare location and only answer yes or no: they say neither the limit
// nor when the window ends. `Retry-After` is therefore 60 s, the longest period a binding can have
// (10 or 60 s): a client that waits that long is counted afresh whatever the configured period.
// A missing binding (an older wrangler.toml) means no limit, with one warning per isolate; a
// binding that throws lets the request through. A limiter never turns a request into a 500.

/** The binding as used here: `RateLimit` of @cloudflare/workers-types, structurally. */
export interface Limiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export type LimitName = "ota" | "api" | "activation";

/** Binding names in wrangler.toml (`[[ratelimits]] name = ...`). */
export const LIMIT_BINDINGS: Record<LimitName, string> = {
  ota: "OTA_RATE_LIMIT",
  api: "API_RATE_LIMIT",
  activation: "ACTIVATION_RATE_LIMIT",
};

export const RETRY_AFTER_S = 60;

const rejections = new RejectionLog();
const failures = new RejectionLog(60_000, 10, 100);
const warnedMissing = new Set<string>();

function report(limit: LimitName, k: LimitKey, path: string): void {
  const n = rejections.note(`${limit}|${k.key}`, Date.now());
  if (n.line) log.warn("rate_limited", { limit, by: k.by, key: k.shown, path, retryAfterS: RETRY_AFTER_S, unlogged: n.unlogged });
  else if (n.overflow) {
    log.warn("rate_limited", {
      limit: "*",
      key: "*",
      message: `over ${rejections.maxLines} keys limited this minute in this isolate: no more rate_limited lines until the next minute`,
    });
  }
}

const MESSAGES: Record<LimitName, (k: LimitKey) => string> = {
  ota: () => "too many OTA checks from this address",
  api: (k) => (k.by === "token" ? "too many API requests with this token" : "too many API requests without a valid token from this address"),
  activation: (k) => (k.by === "device" ? "too many activation polls for this device" : "too many activation polls from this address"),
};

/**
 * Counts the request under `limit`; the 429 to answer when it is over, else null (also when the
 * binding is missing or fails: no limit is better than no service).
 */
export async function overLimit(c: AppContext, limit: LimitName, k: LimitKey): Promise<Response | null> {
  const name = LIMIT_BINDINGS[limit];
  const binding = (c.env as unknown as Record<string, Limiter | undefined>)[name];
  if (typeof binding?.limit !== "function") {
    if (!warnedMissing.has(name)) {
      warnedMissing.add(name);
      log.warn("rate_limit.binding_missing", { binding: name, message: `no ${name} binding in wrangler.toml: ${limit} requests are not rate-limited` });
    }
    return null;
  }
  let success: boolean;
  try {
    ({ success } = await binding.limit({ key: k.key }));
  } catch (err) {
    if (failures.note(name, Date.now()).line) log.warn("rate_limit.failed", { binding: name, error: err, message: "the request was let through" });
    return null;
  }
  if (success) return null;
  report(limit, k, new URL(c.req.url).pathname);
  c.header("Retry-After", String(RETRY_AFTER_S));
  return apiError(c, 429, "RATE_LIMITED", `${MESSAGES[limit](k)}; retry after ${RETRY_AFTER_S} s`);
}

/** Middleware: the request counted under `limit` by the key `keyOf` derives from it. */
export function rateLimit(limit: LimitName, keyOf: (c: AppContext) => LimitKey | Promise<LimitKey>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const over = await overLimit(c, limit, await keyOf(c));
    if (over) return over;
    await next();
  };
}

/** `CF-Connecting-IP` of the request, as a key. */
export const byAddress = (c: AppContext): LimitKey => addressKey(c.req.header("cf-connecting-ip"));

/** The `Device-Id` header, as a key (the address when it has none that is valid). */
export const byDevice = (c: AppContext): LimitKey => deviceKey(c.req.header("device-id"), c.req.header("cf-connecting-ip"));
