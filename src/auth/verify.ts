import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import type { Settings } from "../config/settings.ts";
import { autoDeviceId, isValidId, normaliseId, type ClaimedIdentity } from "./identity.ts";
import { joseReason, looksLikeJwt, looksLikeXiaozhiToken, verifyDeviceJwt, verifyXiaozhiToken, type TokenCheck } from "./tokens.ts";
import { timingSafeEqual } from "./compare.ts";

// Authentication before the upgrade (PROTOCOL §2.2). Runs in the Worker, so a rejected device never
// wakes its Durable Object. Pure apart from fetch (JWKS, introspection), which is web-standard.

export type AuthMethod = "off" | "allowlist" | "static-token" | "device-token" | "xiaozhi-hmac" | "jwt" | "introspection";

export type AuthResult = { ok: true; deviceId: string; clientId: string; method: AuthMethod; assignedId: boolean } | { ok: false; reason: string };

export interface AuthOptions {
  /** DEVICE_TOKEN_SECRET, or the development secret on a local server; "" when none. */
  deviceTokenSecret: string;
  nowMs?: number;
}

const encoder = new TextEncoder();

export async function authenticate(claim: ClaimedIdentity, s: Settings, opts: AuthOptions): Promise<AuthResult> {
  // The client id travels on in a header and into HMAC input: hold it to the same rule as device ids.
  const badClient: AuthResult = { ok: false, reason: "invalid client id: 1-64 chars of [a-z0-9:._-]" };
  if (s.AUTH_MODE === "off") {
    if (claim.deviceId && !isValidId(claim.deviceId)) return { ok: false, reason: "invalid device id" };
    if (claim.clientId && !isValidId(claim.clientId)) return badClient;
    const assigned = !claim.deviceId;
    const deviceId = claim.deviceId || autoDeviceId();
    return { ok: true, deviceId, clientId: claim.clientId || deviceId, method: "off", assignedId: assigned };
  }
  if (!claim.deviceId) return { ok: false, reason: "missing device id (Device-Id header or device-id query)" };
  if (!isValidId(claim.deviceId)) return { ok: false, reason: "invalid device id: 1-64 chars of [a-z0-9:._-]" };
  if (claim.clientId && !isValidId(claim.clientId)) return badClient;
  const ok = (method: AuthMethod): AuthResult => ({
    ok: true,
    deviceId: claim.deviceId,
    clientId: claim.clientId,
    method,
    assignedId: false,
  });

  if (s.AUTH_ALLOWED_DEVICES.some((d) => normaliseId(d) === claim.deviceId)) return ok("allowlist");
  if (!claim.token) return { ok: false, reason: "missing token" };
  if (s.AUTH_TOKENS.length > 0 && s.AUTH_TOKENS.some((t) => timingSafeEqual(t, claim.token))) return ok("static-token");

  const methods: Array<() => Promise<{ check: TokenCheck; method: AuthMethod } | null>> = [];
  const wants = (m: "device-token" | "jwt" | "introspection") => s.AUTH_MODE === m || s.AUTH_MODE === "mixed";
  if (wants("device-token")) methods.push(() => checkDeviceToken(claim, s, opts));
  if (wants("jwt")) methods.push(() => checkExternalJwt(claim, s, opts.nowMs));
  if (wants("introspection")) methods.push(() => checkIntrospection(claim, s, opts.nowMs ?? Date.now()));

  const reasons: string[] = [];
  for (const run of methods) {
    const r = await run();
    if (!r) continue; // method not configured (only skipped in mixed mode)
    if (r.check.ok) return ok(r.method);
    reasons.push(r.check.reason);
  }
  if (reasons.length === 0) return { ok: false, reason: `AUTH_MODE=${s.AUTH_MODE} has no verifier configured` };
  return { ok: false, reason: [...new Set(reasons)].join("; ") };
}

async function checkDeviceToken(claim: ClaimedIdentity, s: Settings, opts: AuthOptions) {
  if (!opts.deviceTokenSecret) {
    if (s.AUTH_MODE === "mixed") return null;
    return { method: "device-token" as const, check: { ok: false as const, reason: "DEVICE_TOKEN_SECRET is not set" } };
  }
  if (looksLikeJwt(claim.token)) {
    const check = await verifyDeviceJwt(opts.deviceTokenSecret, claim.token, claim.deviceId, claim.clientId, opts.nowMs);
    return { method: "device-token" as const, check };
  }
  if (looksLikeXiaozhiToken(claim.token)) {
    const check = await verifyXiaozhiToken(opts.deviceTokenSecret, claim.token, claim.deviceId, claim.clientId, s.DEVICE_TOKEN_TTL_S, opts.nowMs);
    return { method: "xiaozhi-hmac" as const, check };
  }
  return { method: "device-token" as const, check: { ok: false as const, reason: "malformed token" } };
}

// One JWKS fetcher per URL per isolate: jose caches the keys and rate-limits refreshes itself.
const jwksByUrl = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function jwks(url: string) {
  let set = jwksByUrl.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 5000 });
    jwksByUrl.set(url, set);
  }
  return set;
}

function claimedDevice(payload: JWTPayload): string {
  const v = typeof payload.device_id === "string" ? payload.device_id : payload.sub;
  return normaliseId(typeof v === "string" ? v : "");
}

async function checkExternalJwt(claim: ClaimedIdentity, s: Settings, nowMs: number | undefined) {
  if (!s.JWT_SECRET && !s.JWT_JWKS_URL) {
    if (s.AUTH_MODE === "mixed") return null;
    return { method: "jwt" as const, check: { ok: false as const, reason: "JWT_SECRET or JWT_JWKS_URL is not set" } };
  }
  const fail = (reason: string) => ({ method: "jwt" as const, check: { ok: false as const, reason } });
  if (!looksLikeJwt(claim.token)) return fail("malformed token");
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(claim.token).alg;
  } catch {
    return fail("malformed token");
  }
  const allowed = s.JWT_ALGORITHMS.filter((a) => a.toLowerCase() !== "none");
  if (!alg || !allowed.includes(alg)) return fail("token algorithm not allowed");
  const symmetric = alg.startsWith("HS");
  const options = {
    algorithms: allowed.filter((a) => a.startsWith("HS") === symmetric),
    ...(s.JWT_ISSUER ? { issuer: s.JWT_ISSUER } : {}),
    ...(s.JWT_AUDIENCE ? { audience: s.JWT_AUDIENCE } : {}),
    ...(nowMs !== undefined ? { currentDate: new Date(nowMs) } : {}),
  };
  try {
    let payload: JWTPayload;
    if (symmetric) {
      if (!s.JWT_SECRET) return fail("token algorithm not allowed");
      payload = (await jwtVerify(claim.token, encoder.encode(s.JWT_SECRET), options)).payload;
    } else {
      if (!s.JWT_JWKS_URL) return fail("token algorithm not allowed");
      payload = (await jwtVerify(claim.token, jwks(s.JWT_JWKS_URL), options)).payload;
    }
    if (claimedDevice(payload) !== claim.deviceId) return fail("token belongs to another device");
    return { method: "jwt" as const, check: { ok: true as const } };
  } catch (err) {
    return fail(joseReason(err));
  }
}

interface CachedIntrospection {
  active: boolean;
  device: string;
  until: number;
}
const introspectionCache = new Map<string, CachedIntrospection>();
const INTROSPECTION_CACHE_MAX = 5000;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function checkIntrospection(claim: ClaimedIdentity, s: Settings, now: number) {
  if (!s.OAUTH_INTROSPECTION_URL) {
    if (s.AUTH_MODE === "mixed") return null;
    return {
      method: "introspection" as const,
      check: { ok: false as const, reason: "OAUTH_INTROSPECTION_URL is not set" },
    };
  }
  const fail = (reason: string) => ({ method: "introspection" as const, check: { ok: false as const, reason } });
  const key = await sha256(`${s.OAUTH_INTROSPECTION_URL}\n${claim.token}`);
  let entry = introspectionCache.get(key);
  if (!entry || entry.until <= now) {
    const fetched = await introspect(claim.token, s, now);
    if ("error" in fetched) return fail(fetched.error);
    entry = fetched;
    if (introspectionCache.size >= INTROSPECTION_CACHE_MAX) {
      // Map keeps insertion order: dropping the first entry drops the oldest.
      const oldest = introspectionCache.keys().next().value;
      if (oldest !== undefined) introspectionCache.delete(oldest);
    }
    introspectionCache.set(key, entry);
  }
  if (!entry.active) return fail("token is not active");
  if (entry.device !== claim.deviceId) return fail("token belongs to another device");
  return { method: "introspection" as const, check: { ok: true as const } };
}

async function introspect(token: string, s: Settings, now: number): Promise<CachedIntrospection | { error: string }> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (s.OAUTH_CLIENT_ID) {
    // btoa() takes Latin-1 only and throws on anything else: encode the credentials as UTF-8 first.
    const bytes = encoder.encode(`${s.OAUTH_CLIENT_ID}:${s.OAUTH_CLIENT_SECRET}`);
    headers.authorization = "Basic " + btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  }
  let res: Response;
  try {
    res = await fetch(s.OAUTH_INTROSPECTION_URL, {
      method: "POST",
      headers,
      body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    return { error: "introspection endpoint unreachable" };
  }
  if (!res.ok) return { error: `introspection endpoint answered ${res.status}` };
  let body: Record<string, unknown>;
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    return { error: "introspection answer is not JSON" };
  }
  // `null`, a number or an array is valid JSON but no introspection answer (and `null.active` throws).
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { error: "introspection answer is not a JSON object" };
  }
  const active = body.active === true;
  const device = normaliseId(typeof body.device_id === "string" ? body.device_id : typeof body.sub === "string" ? body.sub : "");
  const exp = typeof body.exp === "number" ? body.exp * 1000 : Infinity;
  // Inactive answers are kept briefly so a misbehaving device cannot hammer the issuer.
  const maxAge = active ? 60_000 : 10_000;
  return { active: active && exp > now, device, until: Math.min(now + maxAge, exp) };
}

/** For tests: forget cached introspection answers. */
export function clearIntrospectionCache(): void {
  introspectionCache.clear();
}
