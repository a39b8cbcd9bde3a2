import { createHmac } from "node:crypto";
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import {
  issueDeviceToken,
  issueXiaozhiToken,
  joseReason,
  looksLikeJwt,
  looksLikeXiaozhiToken,
  verifyDeviceJwt,
  verifyXiaozhiToken,
  type TokenCheck,
} from "../../src/auth/tokens.ts";
import { expectNoConsole } from "../support/no-console.ts";

// PROTOCOL §2.2, AUTH_MODE=device-token: our HS256 JWTs and xiaozhi-server HMAC tokens.

const SECRET = "unit-device-token-secret";
const OTHER_SECRET = "some-other-secret";
const DEV = "aa:bb:cc:dd:ee:01";
const CLIENT = "7b94d69a-9808-4c59-9c9b-704333b38aff";
const NOW = Date.UTC(2031, 0, 1, 12, 0, 0);
const NOW_S = NOW / 1000;
const enc = new TextEncoder();

/** A rejection whose reason quotes neither the token nor a secret. */
function expectRejected(check: TokenCheck, token: string, reason: string | RegExp) {
  expect(check.ok).toBe(false);
  if (check.ok) return;
  if (typeof reason === "string") expect(check.reason).toBe(reason);
  else expect(check.reason).toMatch(reason);
  expect(check.reason).not.toContain(token);
  for (const part of token.split(".")) if (part.length >= 8) expect(check.reason).not.toContain(part);
  expect(check.reason).not.toContain(SECRET);
  expect(check.reason).not.toContain(OTHER_SECRET);
}

/** An HS256 JWT with arbitrary claims, signed the way our OTA signs. */
function sign(claims: Record<string, unknown>, secret = SECRET, alg = "HS256") {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(enc.encode(secret));
}

const ours = (extra: Record<string, unknown> = {}) => ({
  sub: DEV,
  cid: CLIENT,
  iss: "supie-edge",
  aud: "supie-device",
  iat: Math.floor(Date.now() / 1000),
  exp: Math.floor(Date.now() / 1000) + 3600,
  ...extra,
});

/** xiaozhi-server's own computation (Python: urlsafe_b64encode(hmac.digest()).rstrip("=")), here in node:crypto. */
function xiaozhi(secret: string, client: string, device: string, ts: number, padded = false) {
  const sig = createHmac("sha256", secret).update(`${client}|${device}|${ts}`).digest("base64url");
  return `${sig}${padded ? "=" : ""}.${ts}`;
}

// Authentication never logs: the caller decides what to write.
expectNoConsole();

describe("issueDeviceToken", () => {
  it("issues an HS256 JWT with sub, cid, iss, aud, iat and exp = iat + ttl", async () => {
    const t = await issueDeviceToken(SECRET, DEV, CLIENT, 3600, NOW + 999);
    expect(looksLikeJwt(t)).toBe(true);
    expect(decodeProtectedHeader(t)).toEqual({ alg: "HS256", typ: "JWT" });
    expect(decodeJwt(t)).toEqual({
      sub: DEV,
      cid: CLIENT,
      iss: "supie-edge",
      aud: "supie-device",
      iat: NOW_S,
      exp: NOW_S + 3600,
    });
  });
});

describe("verifyDeviceJwt", () => {
  it("accepts our token for its device and client id", async () => {
    const t = await issueDeviceToken(SECRET, DEV, CLIENT, 3600);
    expect(await verifyDeviceJwt(SECRET, t, DEV, CLIENT)).toEqual({ ok: true });
  });

  it("checks time at nowMs when given", async () => {
    const t = await issueDeviceToken(SECRET, DEV, CLIENT, 3600, NOW);
    expect(await verifyDeviceJwt(SECRET, t, DEV, CLIENT, NOW + 3599_000)).toEqual({ ok: true });
    expectRejected(await verifyDeviceJwt(SECRET, t, DEV, CLIENT, NOW + 3600_000), t, "token expired");
  });

  it("rejects another device's token and another client id", async () => {
    const t = await issueDeviceToken(SECRET, DEV, CLIENT, 3600);
    expectRejected(await verifyDeviceJwt(SECRET, t, "aa:bb:cc:dd:ee:02", CLIENT), t, "token belongs to another device");
    expectRejected(await verifyDeviceJwt(SECRET, t, DEV, "other-client"), t, "token belongs to another client id");
  });

  it("rejects a wrong secret", async () => {
    const t = await issueDeviceToken(OTHER_SECRET, DEV, CLIENT, 3600);
    expectRejected(await verifyDeviceJwt(SECRET, t, DEV, CLIENT), t, "token signature invalid");
  });

  it("rejects an expired token", async () => {
    const t = await issueDeviceToken(SECRET, DEV, CLIENT, 60, Date.now() - 3600_000);
    expectRejected(await verifyDeviceJwt(SECRET, t, DEV, CLIENT), t, "token expired");
  });

  it("rejects a token that is not yet valid (nbf in the future)", async () => {
    const t = await sign(ours({ nbf: Math.floor(Date.now() / 1000) + 600 }));
    expectRejected(await verifyDeviceJwt(SECRET, t, DEV, CLIENT), t, /nbf/);
  });

  it("rejects a wrong issuer or audience", async () => {
    const iss = await sign(ours({ iss: "someone-else" }));
    expectRejected(await verifyDeviceJwt(SECRET, iss, DEV, CLIENT), iss, /"iss"/);
    const aud = await sign(ours({ aud: "another-audience" }));
    expectRejected(await verifyDeviceJwt(SECRET, aud, DEV, CLIENT), aud, /"aud"/);
  });

  it("requires sub and exp", async () => {
    const noExp = await sign(ours({ exp: undefined }));
    expectRejected(await verifyDeviceJwt(SECRET, noExp, DEV, CLIENT), noExp, /"exp"/);
    const noSub = await sign(ours({ sub: undefined }));
    expectRejected(await verifyDeviceJwt(SECRET, noSub, DEV, CLIENT), noSub, /"sub"/);
  });

  it('rejects alg "none" (an unsigned token crafted by hand)', async () => {
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
    const payload = base64url.encode(JSON.stringify(ours()));
    const t = `${header}.${payload}.`;
    expect(looksLikeJwt(t)).toBe(true);
    expectRejected(await verifyDeviceJwt(SECRET, t, DEV, CLIENT), t, "token algorithm not allowed");
  });

  it("rejects another HMAC algorithm even with the right secret", async () => {
    const t = await sign(ours(), SECRET, "HS512");
    expectRejected(await verifyDeviceJwt(SECRET, t, DEV, CLIENT), t, "token algorithm not allowed");
  });

  it("rejects a tampered payload", async () => {
    const t = await issueDeviceToken(SECRET, DEV, CLIENT, 3600);
    const [h, , s] = t.split(".");
    const forged = `${h}.${base64url.encode(JSON.stringify(ours({ sub: "aa:bb:cc:dd:ee:02" })))}.${s}`;
    expectRejected(await verifyDeviceJwt(SECRET, forged, "aa:bb:cc:dd:ee:02", CLIENT), forged, "token signature invalid");
  });

  it("rejects malformed tokens", async () => {
    const h = base64url.encode(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const p = base64url.encode("not json");
    const signedGarbage = `${h}.${p}.${createHmac("sha256", SECRET).update(`${h}.${p}`).digest("base64url")}`;
    const cases: Array<[string, string]> = [
      ["a.b.c", "malformed token"],
      ["..", "malformed token"],
      ["not-a-token-at-all", "malformed token"],
      [`${base64url.encode("{}")}.e30.`, "malformed token"], // no alg
      [signedGarbage, "malformed token"], // good signature over a payload that is not JSON
      [`${h}.${p}.c2ln`, "token signature invalid"], // signatures are checked before the payload is read
    ];
    for (const [t, reason] of cases) expectRejected(await verifyDeviceJwt(SECRET, t, DEV, CLIENT), t, reason);
  });
});

describe("xiaozhi HMAC tokens", () => {
  it("issueXiaozhiToken matches xiaozhi-server's computation", async () => {
    expect(await issueXiaozhiToken(SECRET, DEV, CLIENT, NOW_S)).toBe(xiaozhi(SECRET, CLIENT, DEV, NOW_S));
  });

  it("recognises the format, with or without padding", () => {
    const t = xiaozhi(SECRET, CLIENT, DEV, NOW_S);
    expect(looksLikeXiaozhiToken(t)).toBe(true);
    expect(looksLikeXiaozhiToken(xiaozhi(SECRET, CLIENT, DEV, NOW_S, true))).toBe(true);
    expect(looksLikeXiaozhiToken(t.replace(".", ".x"))).toBe(false);
    expect(looksLikeXiaozhiToken("short.123")).toBe(false);
    expect(looksLikeXiaozhiToken(t + ".1")).toBe(false);
    expect(looksLikeJwt(t)).toBe(false);
  });

  it("accepts a token made by xiaozhi-server, with or without base64 padding", async () => {
    const ttl = 30 * 24 * 3600;
    expect(await verifyXiaozhiToken(SECRET, xiaozhi(SECRET, CLIENT, DEV, NOW_S), DEV, CLIENT, ttl, NOW)).toEqual({ ok: true });
    expect(await verifyXiaozhiToken(SECRET, xiaozhi(SECRET, CLIENT, DEV, NOW_S, true), DEV, CLIENT, ttl, NOW)).toEqual({ ok: true });
    const padded = xiaozhi(SECRET, CLIENT, DEV, NOW_S, true);
    expect(padded).toMatch(/=\.\d+$/);
  });

  it("is valid for ttl seconds after ts, and up to 300 s before it (clock skew)", async () => {
    const t = xiaozhi(SECRET, CLIENT, DEV, NOW_S);
    expect((await verifyXiaozhiToken(SECRET, t, DEV, CLIENT, 3600, NOW + 3600_000)).ok).toBe(true);
    expectRejected(await verifyXiaozhiToken(SECRET, t, DEV, CLIENT, 3600, NOW + 3601_000), t, "token expired");
    expect((await verifyXiaozhiToken(SECRET, t, DEV, CLIENT, 3600, NOW - 300_000)).ok).toBe(true);
    expectRejected(await verifyXiaozhiToken(SECRET, t, DEV, CLIENT, 3600, NOW - 301_000), t, "token not yet valid");
  });

  it("rejects a ts far in the future", async () => {
    const t = xiaozhi(SECRET, CLIENT, DEV, NOW_S + 365 * 24 * 3600);
    expectRejected(await verifyXiaozhiToken(SECRET, t, DEV, CLIENT, 3600, NOW), t, "token not yet valid");
  });

  it("rejects a wrong secret, another device, another client id and a changed ts", async () => {
    const ttl = 3600;
    const wrong = xiaozhi(OTHER_SECRET, CLIENT, DEV, NOW_S);
    expectRejected(await verifyXiaozhiToken(SECRET, wrong, DEV, CLIENT, ttl, NOW), wrong, "token signature invalid");
    const t = xiaozhi(SECRET, CLIENT, DEV, NOW_S);
    expectRejected(await verifyXiaozhiToken(SECRET, t, "aa:bb:cc:dd:ee:02", CLIENT, ttl, NOW), t, "token signature invalid");
    expectRejected(await verifyXiaozhiToken(SECRET, t, DEV, "other-client", ttl, NOW), t, "token signature invalid");
    const moved = t.replace(/\.\d+$/, `.${NOW_S + 1}`);
    expectRejected(await verifyXiaozhiToken(SECRET, moved, DEV, CLIENT, ttl, NOW), moved, "token signature invalid");
  });

  it("rejects a signature in standard base64 or with extra padding", async () => {
    const sig = createHmac("sha256", SECRET).update(`${CLIENT}|${DEV}|${NOW_S}`).digest("base64");
    const std = `${sig}.${NOW_S}`;
    expect(sig).toMatch(/[+/]/); // this input's signature differs between base64 and base64url
    expect(looksLikeXiaozhiToken(std)).toBe(false);
    expectRejected(await verifyXiaozhiToken(SECRET, std, DEV, CLIENT, 3600, NOW), std, "token signature invalid");
    const truncated = xiaozhi(SECRET, CLIENT, DEV, NOW_S).slice(1);
    expectRejected(await verifyXiaozhiToken(SECRET, truncated, DEV, CLIENT, 3600, NOW), truncated, "token signature invalid");
  });
});

describe("joseReason", () => {
  it("explains a non-jose failure without details", () => {
    expect(joseReason(new Error("secret stuff"))).toBe("token could not be verified");
    expect(joseReason("x")).toBe("token could not be verified");
  });
});
