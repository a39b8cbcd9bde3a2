import { SignJWT, jwtVerify } from "jose";
import { joseReason, type TokenCheck } from "./tokens.ts";

// The vision token of PROTOCOL §13: handed to a device in the MCP `initialize` so its camera tool can
// post a photo to /supie/vision/explain. An HS256 JWT signed with the device-token secret, `sub` =
// the device, `scope:"vision"`, its own audience: a device token is not a vision token and a
// vision token opens no WebSocket.

const ISSUER = "supie-edge";
const AUDIENCE = "supie-vision";
const encoder = new TextEncoder();

export async function issueVisionToken(secret: string, deviceId: string, ttlSeconds: number, nowMs = Date.now()): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ scope: "vision" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(deviceId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(encoder.encode(secret));
}

export async function verifyVisionToken(secret: string, token: string, deviceId: string, nowMs?: number): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, encoder.encode(secret), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ["sub", "exp"],
      ...(nowMs !== undefined ? { currentDate: new Date(nowMs) } : {}),
    });
    if (payload.scope !== "vision") return { ok: false, reason: "not a vision token" };
    if (payload.sub !== deviceId) return { ok: false, reason: "token belongs to another device" };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: joseReason(err) };
  }
}
