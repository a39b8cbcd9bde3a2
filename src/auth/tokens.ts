import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { timingSafeEqual } from "./compare.ts";

// Device tokens (PROTOCOL §2.2, AUTH_MODE=device-token): our own HS256 JWTs issued by OTA, and the
// HMAC format of xiaozhi-server, accepted so devices provisioned by such a server keep working.

const ISSUER = "supie-edge";

// Importing an HMAC key costs more than using it: one CryptoKey per secret (JWTs and xiaozhi tokens).
const hmacKeys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let k = hmacKeys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    hmacKeys.set(secret, k);
  }
  return k;
}
const AUDIENCE = "supie-device";
const encoder = new TextEncoder();

export type TokenCheck = { ok: true } | { ok: false; reason: string };

export async function issueDeviceToken(secret: string, deviceId: string, clientId: string, ttlSeconds: number, nowMs = Date.now()): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ cid: clientId })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(deviceId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(await hmacKey(secret));
}

export function looksLikeJwt(token: string): boolean {
  return token.split(".").length === 3;
}

/** Explains a jose failure without quoting the token. */
export function joseReason(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim "${err.claim}" rejected (${err.reason})`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature invalid";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key in the JWKS matches the token";
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return "malformed token";
  if (err instanceof joseErrors.JOSEError) return `token rejected (${err.code})`;
  return "token could not be verified";
}

export async function verifyDeviceJwt(secret: string, token: string, deviceId: string, clientId: string, nowMs?: number): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, await hmacKey(secret), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ["sub", "exp"],
      ...(nowMs !== undefined ? { currentDate: new Date(nowMs) } : {}),
    });
    if (payload.sub !== deviceId) return { ok: false, reason: "token belongs to another device" };
    if (typeof payload.cid === "string" && payload.cid !== clientId) {
      return { ok: false, reason: "token belongs to another client id" };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: joseReason(err) };
  }
}

function base64url(bytes: ArrayBuffer): string {
  let bin = "";
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function hmac(secret: string, text: string): Promise<ArrayBuffer> {
  return crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(text));
}

/** xiaozhi-server format: base64url(HMAC-SHA256(secret, "<client>|<device>|<ts>")).<ts>, ts in seconds. */
export async function issueXiaozhiToken(secret: string, deviceId: string, clientId: string, tsSeconds: number) {
  return `${base64url(await hmac(secret, `${clientId}|${deviceId}|${tsSeconds}`))}.${tsSeconds}`;
}

export function looksLikeXiaozhiToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{20,}={0,2}\.\d{1,13}$/.test(token);
}

export async function verifyXiaozhiToken(
  secret: string,
  token: string,
  deviceId: string,
  clientId: string,
  ttlSeconds: number,
  nowMs = Date.now(),
): Promise<TokenCheck> {
  const dot = token.lastIndexOf(".");
  const sig = token.slice(0, dot).replace(/=+$/, "");
  const ts = Number(token.slice(dot + 1));
  if (!Number.isSafeInteger(ts)) return { ok: false, reason: "malformed token" };
  const now = Math.floor(nowMs / 1000);
  if (ts > now + 300) return { ok: false, reason: "token not yet valid" };
  if (now - ts > ttlSeconds) return { ok: false, reason: "token expired" };
  const expected = base64url(await hmac(secret, `${clientId}|${deviceId}|${ts}`));
  if (!timingSafeEqual(sig, expected)) return { ok: false, reason: "token signature invalid" };
  return { ok: true };
}
