import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, base64url, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { claimedIdentity } from "../../src/auth/identity.ts";
import { issueDeviceToken } from "../../src/auth/tokens.ts";
import { authenticate, clearIntrospectionCache, type AuthResult } from "../../src/auth/verify.ts";
import { parseSettings, type Settings } from "../../src/config/settings.ts";
import { expectNoConsole } from "../support/no-console.ts";

// PROTOCOL §2.2: authenticate() in every AUTH_MODE. JWKS and OAuth2 introspection are real HTTP
// servers on 127.0.0.1 started here; keys are real jose keys; nothing is stubbed but the console,
// which is only watched to prove that authentication never logs.

const DEVICE_SECRET = "unit-device-token-secret-4f9c";
const JWT_SECRET = "unit-external-jwt-secret-8d21";
const OAUTH_CLIENT = "supie-edge-client";
const OAUTH_SECRET = "unit-oauth-client-secret-77ab";
const STATIC_A = "unit-static-token-alpha-1234";
const STATIC_B = "unit-static-token-bravo-5678";
const SECRETS = [DEVICE_SECRET, JWT_SECRET, OAUTH_SECRET, STATIC_A, STATIC_B];

const DEV = "aa:bb:cc:dd:ee:01";
const DEV2 = "aa:bb:cc:dd:ee:02";
const ISSUER = "https://issuer.example";
const AUDIENCE = "supie-devices";
/** A fixed clock for everything time-sensitive: authenticate's nowMs option. */
const T0 = Date.UTC(2031, 0, 1, 12, 0, 0);
const T0_S = T0 / 1000;
const enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Local JWKS and introspection servers.

interface Keys {
  rs: { privateKey: CryptoKey; publicKey: CryptoKey };
  es: { privateKey: CryptoKey; publicKey: CryptoKey };
  ed: { privateKey: CryptoKey; publicKey: CryptoKey };
  rogue: { privateKey: CryptoKey; publicKey: CryptoKey };
}
let keys: Keys;
let jwks: { keys: JWK[] };
let server: Server;
let base = "";
let deadUrl = "";
const jwksHits = new Map<string, number>();
interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
let introRequests: SeenRequest[] = [];

type Answer = { status?: number; type?: string; body: string };
const json = (v: unknown): Answer => ({ body: JSON.stringify(v) });
/** What the introspection endpoint says about each opaque token; anything else is inactive. */
const ANSWERS: Record<string, Answer> = {
  "op-active-0001": json({ active: true, sub: DEV, client_id: "x", exp: T0_S + 3600 }),
  "op-device-claim": json({ active: true, sub: "user-42", device_id: "AA:BB:CC:DD:EE:01", exp: T0_S + 3600 }),
  "op-inactive-01": json({ active: false }),
  "op-active-string": json({ active: "true", sub: DEV }),
  "op-short-lived": json({ active: true, sub: DEV, exp: T0_S + 20 }),
  "op-no-exp-0001": json({ active: true, sub: DEV }),
  "op-expired-001": json({ active: true, sub: DEV, exp: T0_S - 1 }),
  "op-no-subject": json({ active: true, exp: T0_S + 3600 }),
  "op-error-500": { status: 500, body: '{"error":"server_error"}' },
  "op-html-answer": { type: "text/html", body: "<html><body>Login</body></html>" },
  "op-null-answer": json(null),
  "op-array-answer": json([{ active: true, sub: DEV }]),
};

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  keys = {
    rs: await generateKeyPair("RS256"),
    es: await generateKeyPair("ES256"),
    ed: await generateKeyPair("EdDSA"),
    rogue: await generateKeyPair("RS256"),
  };
  jwks = {
    keys: [
      { ...(await exportJWK(keys.rs.publicKey)), kid: "rs-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(keys.es.publicKey)), kid: "es-1", alg: "ES256", use: "sig" },
      { ...(await exportJWK(keys.ed.publicKey)), kid: "ed-1", alg: "EdDSA", use: "sig" },
    ],
  };
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      if (req.method === "GET" && path.startsWith("/jwks/")) {
        jwksHits.set(path, (jwksHits.get(path) ?? 0) + 1);
        if (path.includes("broken")) {
          res.writeHead(500, { "content-type": "text/plain" }).end("oops");
          return;
        }
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
        return;
      }
      if (req.method === "POST" && path.startsWith("/introspect")) {
        introRequests.push({ method: req.method, path, headers: req.headers, body });
        const token = new URLSearchParams(body).get("token") ?? "";
        const a = ANSWERS[token] ?? json({ active: false });
        res.writeHead(a.status ?? 200, { "content-type": a.type ?? "application/json" }).end(a.body);
        return;
      }
      res.writeHead(404).end();
    });
  });
  base = `http://127.0.0.1:${await listen(server)}`;
  // A port that was just free and is closed again: connections to it are refused.
  const dead = createServer();
  deadUrl = `http://127.0.0.1:${await listen(dead)}/introspect`;
  await new Promise((r) => dead.close(r));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

// ---------------------------------------------------------------------------------------------
// Helpers.

// authenticate() returns a reason; logging is the caller's business (src/http/socket.ts).
expectNoConsole();
beforeEach(() => {
  clearIntrospectionCache();
  introRequests = [];
});

const settings = (raw: Record<string, string>): Settings => parseSettings(raw).settings;

interface Req {
  device?: string;
  client?: string;
  token?: string;
  /** Where the token travels: Authorization header (default), query authorization, query token. */
  via?: "header" | "query-bearer" | "query-bearer-plus" | "query-bare" | "query-token";
  /** Where the ids travel: headers (default) or query. */
  ids?: "header" | "query";
}
interface Opts {
  secret?: string;
  nowMs?: number;
}

/** Builds the upgrade request the way a device sends it and authenticates it. */
async function auth(s: Settings, r: Req, o: Opts = {}): Promise<AuthResult> {
  const url = new URL("ws://127.0.0.1:8787/supie/v1/");
  const headers = new Headers();
  const put = (name: string, value: string) => (r.ids === "query" ? url.searchParams.set(name, value) : headers.set(name, value));
  if (r.device !== undefined) put("device-id", r.device);
  if (r.client !== undefined) put("client-id", r.client);
  if (r.token !== undefined) {
    const via = r.via ?? "header";
    if (via === "header") headers.set("authorization", `Bearer ${r.token}`);
    else if (via === "query-bearer") url.searchParams.set("authorization", `Bearer ${r.token}`);
    else if (via === "query-bearer-plus") url.search += `${url.search ? "&" : ""}authorization=Bearer%2B${encodeURIComponent(r.token)}`;
    else if (via === "query-bare") url.searchParams.set("authorization", r.token);
    else url.searchParams.set("token", r.token);
  }
  const claim = claimedIdentity(url, headers);
  const result = await authenticate(claim, s, {
    deviceTokenSecret: o.secret ?? "",
    ...(o.nowMs !== undefined ? { nowMs: o.nowMs } : {}),
  });
  if (!result.ok) {
    // The reason goes back to the client in the 401 body: never the token, never a secret.
    for (const secret of SECRETS) expect(result.reason).not.toContain(secret);
    if (r.token) {
      expect(result.reason).not.toContain(r.token);
      for (const part of r.token.split(".")) if (part.length >= 6) expect(result.reason).not.toContain(part);
    }
  }
  return result;
}

function expectOk(r: AuthResult, method: string, deviceId = DEV) {
  expect(r, JSON.stringify(r)).toMatchObject({ ok: true, method, deviceId });
}
function expectRejected(r: AuthResult, reason: string | RegExp) {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  if (r.ok) return;
  if (typeof reason === "string") expect(r.reason).toBe(reason);
  else expect(r.reason).toMatch(reason);
}

function ourJwt(device = DEV, client = device, ttl = 3600, nowMs = Date.now(), secret = DEVICE_SECRET) {
  return issueDeviceToken(secret, device, client, ttl, nowMs);
}
function xiaozhi(device: string, client: string, ts: number, secret = DEVICE_SECRET, padded = false) {
  const sig = createHmac("sha256", secret).update(`${client}|${device}|${ts}`).digest("base64url");
  return `${sig}${padded ? "=" : ""}.${ts}`;
}
/** An HMAC-signed JWT with exactly these claims. */
function hsJwt(claims: Record<string, unknown>, secret = JWT_SECRET, alg = "HS256") {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(enc.encode(secret));
}
/** An asymmetric JWT from one of the JWKS keys (or the rogue key, which is not in the JWKS). */
function pkJwt(which: "rs" | "es" | "ed" | "rogue", claims: Record<string, unknown>, kid?: string) {
  const alg = which === "es" ? "ES256" : which === "ed" ? "EdDSA" : "RS256";
  const k = kid ?? { rs: "rs-1", es: "es-1", ed: "ed-1", rogue: "rogue-1" }[which];
  return new SignJWT(claims).setProtectedHeader({ alg, kid: k, typ: "JWT" }).sign(keys[which].privateKey);
}
/** alg "none": header and payload, empty signature, made by hand. */
function unsigned(claims: Record<string, unknown>) {
  return `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify(claims))}.`;
}
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
const external = (extra: Record<string, unknown> = {}) => ({
  sub: DEV,
  iss: ISSUER,
  aud: AUDIENCE,
  iat: Math.floor(Date.now() / 1000),
  exp: inAnHour(),
  ...extra,
});

// ---------------------------------------------------------------------------------------------

describe("device id checks", () => {
  const s = settings({ AUTH_MODE: "device-token" });

  it("rejects a missing device id in every mode but off", async () => {
    for (const mode of ["device-token", "jwt", "introspection", "mixed"]) {
      const r = await auth(settings({ AUTH_MODE: mode, AUTH_TOKENS: STATIC_A }), { token: STATIC_A }, { secret: DEVICE_SECRET });
      expectRejected(r, /missing device id/);
    }
  });

  it("rejects an invalid device id", async () => {
    for (const device of ["dev 1", "dev/1", "x".repeat(65), "dev|1"]) {
      expectRejected(await auth(s, { device, token: "x" }, { secret: DEVICE_SECRET }), /invalid device id/);
    }
  });

  it("rejects an invalid client id, which would otherwise travel on in a header", async () => {
    const token = await ourJwt(DEV, DEV);
    expectRejected(await auth(s, { device: DEV, client: "客户端", token, ids: "query" }, { secret: DEVICE_SECRET }), /invalid client id/);
    expectRejected(await auth(s, { device: DEV, client: "a b", token }, { secret: DEVICE_SECRET }), /invalid client id/);
    expectRejected(await auth(s, { device: DEV, client: "c".repeat(65), token }, { secret: DEVICE_SECRET }), /invalid client id/);
    expectRejected(await auth(settings({ AUTH_MODE: "off" }), { client: "a|b" }), /invalid client id/);
  });
});

describe("AUTH_MODE=off", () => {
  const s = settings({ AUTH_MODE: "off", AUTH_TOKENS: STATIC_A });

  it("assigns auto-<8 hex> when no device id is sent", async () => {
    const r = await auth(s, {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.deviceId).toMatch(/^auto-[0-9a-f]{8}$/);
    expect(r).toMatchObject({ method: "off", assignedId: true, clientId: r.deviceId });
    const again = await auth(s, {});
    expect(again).toMatchObject({ ok: true, method: "off", assignedId: true, deviceId: expect.stringMatching(/^auto-[0-9a-f]{8}$/) });
    expect(again.ok && again.deviceId).not.toBe(r.deviceId);
  });

  it("keeps a client id sent without a device id", async () => {
    const r = await auth(s, { client: "Web-Client" });
    expect(r).toMatchObject({ ok: true, method: "off", assignedId: true, clientId: "web-client" });
  });

  it("accepts a named device without a token, normalising its id", async () => {
    const r = await auth(s, { device: ' "AA:BB:CC:DD:EE:01" ' });
    expect(r).toEqual({ ok: true, deviceId: DEV, clientId: DEV, method: "off", assignedId: false });
  });

  it("accepts any token, static or not, as plain off", async () => {
    expectOk(await auth(s, { device: DEV, token: STATIC_A }), "off");
    expectOk(await auth(s, { device: DEV, token: "garbage" }), "off");
  });

  it("still rejects an invalid device id", async () => {
    expectRejected(await auth(s, { device: "not valid!" }), /invalid device id/);
  });
});

describe("AUTH_MODE=device-token", () => {
  const s = settings({ AUTH_MODE: "device-token" });
  const o = { secret: DEVICE_SECRET };

  it("is the default mode", () => {
    expect(settings({}).AUTH_MODE).toBe("device-token");
  });

  it("accepts our JWT from the header, query authorization (all spellings) and query token", async () => {
    const token = await ourJwt();
    for (const via of ["header", "query-bearer", "query-bearer-plus", "query-bare", "query-token"] as const) {
      const r = await auth(s, { device: DEV, token, via, ids: via === "header" ? "header" : "query" }, o);
      expect(r, via).toEqual({ ok: true, deviceId: DEV, clientId: DEV, method: "device-token", assignedId: false });
    }
  });

  it("matches ids case-insensitively and binds the client id", async () => {
    const token = await ourJwt(DEV, "7b94d69a-9808-4c59-9c9b-704333b38aff");
    const r = await auth(s, { device: DEV.toUpperCase(), client: "7B94D69A-9808-4C59-9C9B-704333B38AFF", token }, o);
    expect(r).toMatchObject({ ok: true, deviceId: DEV, clientId: "7b94d69a-9808-4c59-9c9b-704333b38aff" });
    expectRejected(await auth(s, { device: DEV, client: "another-client", token }, o), "token belongs to another client id");
    // Without Client-Id the client id is the device id, which is not the token's.
    expectRejected(await auth(s, { device: DEV, token }, o), "token belongs to another client id");
  });

  it("accepts the xiaozhi HMAC format, with and without base64 padding", async () => {
    const client = "7b94d69a-9808-4c59-9c9b-704333b38aff";
    for (const padded of [false, true]) {
      const token = xiaozhi(DEV, client, T0_S, DEVICE_SECRET, padded);
      expectOk(await auth(s, { device: DEV, client, token }, { ...o, nowMs: T0 + 1000 }), "xiaozhi-hmac");
      expectOk(await auth(s, { device: DEV, client, token, via: "query-token", ids: "query" }, { ...o, nowMs: T0 }), "xiaozhi-hmac");
    }
  });

  it("honours DEVICE_TOKEN_TTL_S for xiaozhi tokens", async () => {
    const short = settings({ AUTH_MODE: "device-token", DEVICE_TOKEN_TTL_S: "3600" });
    const token = xiaozhi(DEV, DEV, T0_S);
    expectOk(await auth(short, { device: DEV, token }, { ...o, nowMs: T0 + 3600_000 }), "xiaozhi-hmac");
    expectRejected(await auth(short, { device: DEV, token }, { ...o, nowMs: T0 + 3601_000 }), "token expired");
    // The default is 30 days.
    expectOk(await auth(s, { device: DEV, token }, { ...o, nowMs: T0 + 29 * 86400_000 }), "xiaozhi-hmac");
    expectRejected(await auth(s, { device: DEV, token }, { ...o, nowMs: T0 + 31 * 86400_000 }), "token expired");
  });

  it("checks JWT time at nowMs like every other method", async () => {
    const token = await ourJwt(DEV, DEV, 3600, T0);
    expectOk(await auth(s, { device: DEV, token }, { ...o, nowMs: T0 + 60_000 }), "device-token");
    expectRejected(await auth(s, { device: DEV, token }, { ...o, nowMs: T0 + 3600_000 }), "token expired");
  });

  it('rejects alg "none"', async () => {
    const token = unsigned({ sub: DEV, cid: DEV, iss: "supie-edge", aud: "supie-device", exp: inAnHour() });
    expectRejected(await auth(s, { device: DEV, token }, o), "token algorithm not allowed");
  });

  it("rejects an expired token", async () => {
    const token = await ourJwt(DEV, DEV, 60, Date.now() - 7200_000);
    expectRejected(await auth(s, { device: DEV, token }, o), "token expired");
  });

  it("rejects a token that is not yet valid", async () => {
    const nbf = Math.floor(Date.now() / 1000) + 600;
    const token = await hsJwt({ sub: DEV, cid: DEV, iss: "supie-edge", aud: "supie-device", nbf, exp: nbf + 3600 }, DEVICE_SECRET);
    expectRejected(await auth(s, { device: DEV, token }, o), /"nbf"/);
    const future = xiaozhi(DEV, DEV, T0_S + 3600);
    expectRejected(await auth(s, { device: DEV, token: future }, { ...o, nowMs: T0 }), "token not yet valid");
  });

  it("rejects a wrong audience or issuer", async () => {
    const good = { sub: DEV, cid: DEV, iss: "supie-edge", aud: "supie-device", exp: inAnHour() };
    const aud = await hsJwt({ ...good, aud: "someone-else" }, DEVICE_SECRET);
    expectRejected(await auth(s, { device: DEV, token: aud }, o), /"aud"/);
    const iss = await hsJwt({ ...good, iss: "someone-else" }, DEVICE_SECRET);
    expectRejected(await auth(s, { device: DEV, token: iss }, o), /"iss"/);
  });

  it("rejects another device's token", async () => {
    expectRejected(await auth(s, { device: DEV2, token: await ourJwt(DEV) }, o), "token belongs to another device");
    const hmac = xiaozhi(DEV, DEV, T0_S);
    expectRejected(await auth(s, { device: DEV2, client: DEV, token: hmac }, { ...o, nowMs: T0 }), "token signature invalid");
  });

  it("rejects another client id's xiaozhi token", async () => {
    const token = xiaozhi(DEV, "client-a", T0_S);
    expectRejected(await auth(s, { device: DEV, client: "client-b", token }, { ...o, nowMs: T0 }), "token signature invalid");
  });

  it("rejects a wrong secret", async () => {
    const jwt = await ourJwt(DEV, DEV, 3600, Date.now(), "not-the-device-secret");
    expectRejected(await auth(s, { device: DEV, token: jwt }, o), "token signature invalid");
    const hmac = xiaozhi(DEV, DEV, T0_S, "not-the-device-secret");
    expectRejected(await auth(s, { device: DEV, token: hmac }, { ...o, nowMs: T0 }), "token signature invalid");
  });

  it("rejects malformed tokens", async () => {
    for (const token of ["hello", "a.b.c", "a.b", "....", "x".repeat(43) + ".12a", "eyJhbGciOiJIUzI1NiJ9.e30"]) {
      expectRejected(await auth(s, { device: DEV, token }, o), "malformed token");
    }
  });

  it("rejects a missing token", async () => {
    expectRejected(await auth(s, { device: DEV }, o), "missing token");
  });

  it("says so when DEVICE_TOKEN_SECRET is not set", async () => {
    expectRejected(await auth(s, { device: DEV, token: await ourJwt() }), "DEVICE_TOKEN_SECRET is not set");
  });
});

describe("AUTH_MODE=jwt with JWT_SECRET", () => {
  const s = settings({ AUTH_MODE: "jwt", JWT_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });

  it("accepts an HS256 token for the device", async () => {
    const token = await hsJwt(external());
    expect(await auth(s, { device: DEV, token })).toEqual({ ok: true, deviceId: DEV, clientId: DEV, method: "jwt", assignedId: false });
    expectOk(await auth(s, { device: DEV, token, via: "query-token", ids: "query" }), "jwt");
  });

  it("enforces JWT_ISSUER and JWT_AUDIENCE", async () => {
    expectRejected(await auth(s, { device: DEV, token: await hsJwt(external({ iss: "https://evil.example" })) }), /"iss"/);
    expectRejected(await auth(s, { device: DEV, token: await hsJwt(external({ iss: undefined })) }), /"iss"/);
    expectRejected(await auth(s, { device: DEV, token: await hsJwt(external({ aud: "other" })) }), /"aud"/);
    expectRejected(await auth(s, { device: DEV, token: await hsJwt(external({ aud: undefined })) }), /"aud"/);
    expectOk(await auth(s, { device: DEV, token: await hsJwt(external({ aud: ["other", AUDIENCE] })) }), "jwt");
  });

  it("accepts any issuer and audience when none is configured", async () => {
    const open = settings({ AUTH_MODE: "jwt", JWT_SECRET });
    expectOk(await auth(open, { device: DEV, token: await hsJwt(external({ iss: "anyone", aud: "anything" })) }), "jwt");
  });

  it("prefers the device_id claim over sub", async () => {
    const token = await hsJwt(external({ sub: "user-7", device_id: "AA:BB:CC:DD:EE:01" }));
    expectOk(await auth(s, { device: DEV, token }), "jwt");
    expectRejected(await auth(s, { device: "user-7", token }), "token belongs to another device");
    const other = await hsJwt(external({ sub: DEV, device_id: DEV2 }));
    expectRejected(await auth(s, { device: DEV, token: other }), "token belongs to another device");
    // A device_id that is not a string does not count.
    expectOk(await auth(s, { device: DEV, token: await hsJwt(external({ device_id: 42 })) }), "jwt");
  });

  it("rejects another device's token, an expired one, one not yet valid and a wrong secret", async () => {
    expectRejected(await auth(s, { device: DEV2, token: await hsJwt(external()) }), "token belongs to another device");
    const past = Math.floor(Date.now() / 1000) - 7200;
    expectRejected(await auth(s, { device: DEV, token: await hsJwt(external({ iat: past, exp: past + 60 })) }), "token expired");
    expectRejected(await auth(s, { device: DEV, token: await hsJwt(external({ nbf: inAnHour() })) }), /"nbf"/);
    expectRejected(await auth(s, { device: DEV, token: await hsJwt(external(), "wrong-secret") }), "token signature invalid");
  });

  it("checks time at nowMs", async () => {
    const token = await hsJwt(external({ iat: T0_S, exp: T0_S + 600 }));
    expectOk(await auth(s, { device: DEV, token }, { nowMs: T0 + 1000 }), "jwt");
    expectRejected(await auth(s, { device: DEV, token }, { nowMs: T0 + 600_000 }), "token expired");
  });

  it("enforces JWT_ALGORITHMS", async () => {
    const hs384 = await hsJwt(external(), JWT_SECRET, "HS384");
    expectRejected(await auth(s, { device: DEV, token: hs384 }), "token algorithm not allowed");
    const only384 = settings({ AUTH_MODE: "jwt", JWT_SECRET, JWT_ALGORITHMS: "HS384" });
    expectOk(await auth(only384, { device: DEV, token: hs384 }), "jwt");
    expectRejected(await auth(only384, { device: DEV, token: await hsJwt(external()) }), "token algorithm not allowed");
  });

  it('rejects alg "none", even when JWT_ALGORITHMS lists it', async () => {
    const token = unsigned(external());
    expectRejected(await auth(s, { device: DEV, token }), "token algorithm not allowed");
    const lax = settings({ AUTH_MODE: "jwt", JWT_SECRET, JWT_ALGORITHMS: "none,NONE,HS256" });
    expectRejected(await auth(lax, { device: DEV, token }), "token algorithm not allowed");
  });

  it("rejects malformed tokens", async () => {
    for (const token of ["opaque-token", "a.b.c", `${base64url.encode("not json")}.e30.sig`]) {
      expectRejected(await auth(s, { device: DEV, token }), "malformed token");
    }
  });

  it("says so when neither JWT_SECRET nor JWT_JWKS_URL is set", async () => {
    const none = settings({ AUTH_MODE: "jwt" });
    expectRejected(await auth(none, { device: DEV, token: await hsJwt(external()) }), "JWT_SECRET or JWT_JWKS_URL is not set");
  });
});

describe("AUTH_MODE=jwt with JWT_JWKS_URL", () => {
  const jwksSettings = (path: string, extra: Record<string, string> = {}) =>
    settings({ AUTH_MODE: "jwt", JWT_JWKS_URL: `${base}/jwks/${path}`, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, ...extra });

  it("accepts RS256, ES256 and EdDSA tokens and fetches the JWKS once for many verifications", async () => {
    const s = jwksSettings("cached.json");
    const tokens = await Promise.all((["rs", "es", "ed"] as const).flatMap((k) => [1, 2, 3].map((i) => pkJwt(k, external({ jti: `${k}-${i}` })))));
    for (let round = 0; round < 3; round++) {
      for (const token of tokens) expectOk(await auth(s, { device: DEV, token }), "jwt");
    }
    // Concurrent verifications share the one cached set too.
    const again = await Promise.all(tokens.map((token) => auth(s, { device: DEV, token })));
    for (const r of again) expectOk(r, "jwt");
    expect(jwksHits.get("/jwks/cached.json")).toBe(1);
  });

  it("keeps one JWKS per URL", async () => {
    const token = await pkJwt("rs", external());
    expectOk(await auth(jwksSettings("first.json"), { device: DEV, token }), "jwt");
    expectOk(await auth(jwksSettings("second.json"), { device: DEV, token }), "jwt");
    expectOk(await auth(jwksSettings("first.json"), { device: DEV, token }), "jwt");
    expect(jwksHits.get("/jwks/first.json")).toBe(1);
    expect(jwksHits.get("/jwks/second.json")).toBe(1);
  });

  it("enforces JWT_ISSUER, JWT_AUDIENCE and the device", async () => {
    const s = jwksSettings("claims.json");
    expectRejected(await auth(s, { device: DEV, token: await pkJwt("es", external({ iss: "https://evil.example" })) }), /"iss"/);
    expectRejected(await auth(s, { device: DEV, token: await pkJwt("ed", external({ aud: "other" })) }), /"aud"/);
    expectRejected(await auth(s, { device: DEV2, token: await pkJwt("rs", external()) }), "token belongs to another device");
    expectOk(await auth(s, { device: DEV, token: await pkJwt("rs", external({ sub: "user-1", device_id: DEV })) }), "jwt");
  });

  it("enforces JWT_ALGORITHMS before fetching keys", async () => {
    const s = jwksSettings("rs-only.json", { JWT_ALGORITHMS: "RS256" });
    expectRejected(await auth(s, { device: DEV, token: await pkJwt("es", external()) }), "token algorithm not allowed");
    expectRejected(await auth(s, { device: DEV, token: await pkJwt("ed", external()) }), "token algorithm not allowed");
    expect(jwksHits.get("/jwks/rs-only.json")).toBeUndefined();
    expectOk(await auth(s, { device: DEV, token: await pkJwt("rs", external()) }), "jwt");
  });

  it("rejects a key that is not in the JWKS and a signature by another key", async () => {
    const s = jwksSettings("foreign.json");
    expectRejected(await auth(s, { device: DEV, token: await pkJwt("rogue", external()) }), "no key in the JWKS matches the token");
    expectRejected(await auth(s, { device: DEV, token: await pkJwt("rogue", external(), "rs-1") }), "token signature invalid");
  });

  it("rejects HS256 when only a JWKS is configured (no algorithm confusion)", async () => {
    const s = jwksSettings("confusion.json");
    const rsJwk = jwks.keys[0]!;
    const token = await hsJwt(external(), JSON.stringify(rsJwk));
    expectRejected(await auth(s, { device: DEV, token }), "token algorithm not allowed");
  });

  it("rejects when the JWKS cannot be fetched", async () => {
    const token = await pkJwt("rs", external());
    expectRejected(await auth(jwksSettings("broken.json"), { device: DEV, token }), /token/);
    const dead = settings({ AUTH_MODE: "jwt", JWT_JWKS_URL: deadUrl.replace("/introspect", "/jwks.json") });
    expectRejected(await auth(dead, { device: DEV, token }), /token/);
  });

  it("uses JWT_SECRET for HS* and the JWKS for the rest when both are set", async () => {
    const s = jwksSettings("both.json", { JWT_SECRET });
    expectOk(await auth(s, { device: DEV, token: await hsJwt(external()) }), "jwt");
    expectOk(await auth(s, { device: DEV, token: await pkJwt("es", external()) }), "jwt");
  });
});

describe("AUTH_MODE=introspection", () => {
  const s = () =>
    settings({
      AUTH_MODE: "introspection",
      OAUTH_INTROSPECTION_URL: `${base}/introspect`,
      OAUTH_CLIENT_ID: OAUTH_CLIENT,
      OAUTH_CLIENT_SECRET: OAUTH_SECRET,
    });
  const at = (ms: number) => ({ nowMs: ms });

  it("accepts an active token for the device and sends RFC 7662 requests with HTTP Basic client credentials", async () => {
    const r = await auth(s(), { device: DEV, token: "op-active-0001" }, at(T0));
    expect(r).toEqual({ ok: true, deviceId: DEV, clientId: DEV, method: "introspection", assignedId: false });
    expect(introRequests).toHaveLength(1);
    const req = introRequests[0]!;
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(req.headers.accept).toBe("application/json");
    expect(req.headers.authorization).toBe("Basic " + Buffer.from(`${OAUTH_CLIENT}:${OAUTH_SECRET}`).toString("base64"));
    const form = new URLSearchParams(req.body);
    expect(form.get("token")).toBe("op-active-0001");
    expect(form.get("token_type_hint")).toBe("access_token");
  });

  it("sends non-ASCII client credentials as UTF-8", async () => {
    const intl = settings({
      AUTH_MODE: "introspection",
      OAUTH_INTROSPECTION_URL: `${base}/introspect`,
      OAUTH_CLIENT_ID: "clïent",
      OAUTH_CLIENT_SECRET: "sécret-密钥",
    });
    expectOk(await auth(intl, { device: DEV, token: "op-active-0001" }, at(T0)), "introspection");
    const basic = introRequests[0]!.headers.authorization!.replace(/^Basic /, "");
    expect(Buffer.from(basic, "base64").toString("utf8")).toBe("clïent:sécret-密钥");
  });

  it("sends no Authorization without OAUTH_CLIENT_ID", async () => {
    const anon = settings({ AUTH_MODE: "introspection", OAUTH_INTROSPECTION_URL: `${base}/introspect` });
    expectOk(await auth(anon, { device: DEV, token: "op-active-0001" }, at(T0)), "introspection");
    expect(introRequests[0]!.headers.authorization).toBeUndefined();
  });

  it("matches device_id before sub", async () => {
    expectOk(await auth(s(), { device: DEV, token: "op-device-claim" }, at(T0)), "introspection");
    clearIntrospectionCache();
    expectRejected(await auth(s(), { device: "user-42", token: "op-device-claim" }, at(T0)), "token belongs to another device");
  });

  it("rejects inactive tokens, another device's and one without a subject", async () => {
    expectRejected(await auth(s(), { device: DEV, token: "op-inactive-01" }, at(T0)), "token is not active");
    expectRejected(await auth(s(), { device: DEV, token: "op-active-string" }, at(T0)), "token is not active");
    expectRejected(await auth(s(), { device: DEV, token: "op-expired-001" }, at(T0)), "token is not active");
    expectRejected(await auth(s(), { device: DEV2, token: "op-active-0001" }, at(T0)), "token belongs to another device");
    expectRejected(await auth(s(), { device: DEV, token: "op-no-subject" }, at(T0)), "token belongs to another device");
  });

  it("gives clear reasons when the endpoint fails, and does not cache failures", async () => {
    expectRejected(await auth(s(), { device: DEV, token: "op-error-500" }, at(T0)), "introspection endpoint answered 500");
    expectRejected(await auth(s(), { device: DEV, token: "op-error-500" }, at(T0)), "introspection endpoint answered 500");
    expectRejected(await auth(s(), { device: DEV, token: "op-html-answer" }, at(T0)), "introspection answer is not JSON");
    expectRejected(await auth(s(), { device: DEV, token: "op-null-answer" }, at(T0)), "introspection answer is not a JSON object");
    expectRejected(await auth(s(), { device: DEV, token: "op-array-answer" }, at(T0)), "introspection answer is not a JSON object");
    expect(introRequests.map((r) => new URLSearchParams(r.body).get("token"))).toEqual([
      "op-error-500",
      "op-error-500",
      "op-html-answer",
      "op-null-answer",
      "op-array-answer",
    ]);
    const dead = settings({ AUTH_MODE: "introspection", OAUTH_INTROSPECTION_URL: deadUrl, OAUTH_CLIENT_ID: OAUTH_CLIENT, OAUTH_CLIENT_SECRET: OAUTH_SECRET });
    expectRejected(await auth(dead, { device: DEV, token: "op-active-0001" }, at(T0)), "introspection endpoint unreachable");
  });

  it("caches an active answer for at most 60 s", async () => {
    for (const dt of [0, 1000, 30_000, 59_999]) {
      expectOk(await auth(s(), { device: DEV, token: "op-active-0001" }, at(T0 + dt)), "introspection");
    }
    expect(introRequests).toHaveLength(1);
    expectOk(await auth(s(), { device: DEV, token: "op-active-0001" }, at(T0 + 60_000)), "introspection");
    expect(introRequests).toHaveLength(2);
    expectOk(await auth(s(), { device: DEV, token: "op-active-0001" }, at(T0 + 60_001)), "introspection");
    expect(introRequests).toHaveLength(2);
  });

  it("caches an answer without exp for at most 60 s", async () => {
    expectOk(await auth(s(), { device: DEV, token: "op-no-exp-0001" }, at(T0)), "introspection");
    expectOk(await auth(s(), { device: DEV, token: "op-no-exp-0001" }, at(T0 + 59_000)), "introspection");
    expect(introRequests).toHaveLength(1);
    expectOk(await auth(s(), { device: DEV, token: "op-no-exp-0001" }, at(T0 + 61_000)), "introspection");
    expect(introRequests).toHaveLength(2);
  });

  it("caches an answer only up to its exp", async () => {
    expectOk(await auth(s(), { device: DEV, token: "op-short-lived" }, at(T0)), "introspection");
    expectOk(await auth(s(), { device: DEV, token: "op-short-lived" }, at(T0 + 19_999)), "introspection");
    expect(introRequests).toHaveLength(1);
    expectRejected(await auth(s(), { device: DEV, token: "op-short-lived" }, at(T0 + 20_000)), "token is not active");
    expect(introRequests).toHaveLength(2);
  });

  it("shares the cached answer between devices, per token and endpoint", async () => {
    expectOk(await auth(s(), { device: DEV, token: "op-active-0001" }, at(T0)), "introspection");
    expectRejected(await auth(s(), { device: DEV2, token: "op-active-0001" }, at(T0 + 1)), "token belongs to another device");
    expect(introRequests).toHaveLength(1);
    const other = settings({ AUTH_MODE: "introspection", OAUTH_INTROSPECTION_URL: `${base}/introspect/other` });
    expectOk(await auth(other, { device: DEV, token: "op-active-0001" }, at(T0 + 2)), "introspection");
    expect(introRequests.map((r) => r.path)).toEqual(["/introspect", "/introspect/other"]);
    clearIntrospectionCache();
    expectOk(await auth(s(), { device: DEV, token: "op-active-0001" }, at(T0 + 3)), "introspection");
    expect(introRequests).toHaveLength(3);
  });

  it("keeps an inactive answer briefly", async () => {
    expectRejected(await auth(s(), { device: DEV, token: "op-inactive-01" }, at(T0)), "token is not active");
    expectRejected(await auth(s(), { device: DEV, token: "op-inactive-01" }, at(T0 + 5000)), "token is not active");
    expect(introRequests).toHaveLength(1);
    expectRejected(await auth(s(), { device: DEV, token: "op-inactive-01" }, at(T0 + 60_000)), "token is not active");
    expect(introRequests).toHaveLength(2);
  });

  it("says so when OAUTH_INTROSPECTION_URL is not set", async () => {
    expectRejected(await auth(settings({ AUTH_MODE: "introspection" }), { device: DEV, token: "op-active-0001" }), "OAUTH_INTROSPECTION_URL is not set");
  });
});

describe("AUTH_MODE=mixed", () => {
  const full = () =>
    settings({
      AUTH_MODE: "mixed",
      JWT_SECRET,
      JWT_JWKS_URL: `${base}/jwks/mixed.json`,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      OAUTH_INTROSPECTION_URL: `${base}/introspect`,
    });
  const o = { secret: DEVICE_SECRET, nowMs: T0 };

  it("accepts each configured method", async () => {
    expectOk(await auth(full(), { device: DEV, token: await ourJwt(DEV, DEV, 3600, T0) }, o), "device-token");
    expectOk(await auth(full(), { device: DEV, token: xiaozhi(DEV, DEV, T0_S) }, o), "xiaozhi-hmac");
    const ext = external({ iat: T0_S, exp: T0_S + 3600 });
    expectOk(await auth(full(), { device: DEV, token: await hsJwt(ext) }, o), "jwt");
    expectOk(await auth(full(), { device: DEV, token: await pkJwt("ed", ext) }, o), "jwt");
    expect(introRequests).toHaveLength(0);
    expectOk(await auth(full(), { device: DEV, token: "op-active-0001" }, o), "introspection");
    expect(introRequests).toHaveLength(1);
  });

  it("tries device-token, then jwt, then introspection", async () => {
    // Device tokens first, even when the external issuer shares the secret.
    const shared = settings({ AUTH_MODE: "mixed", JWT_SECRET: DEVICE_SECRET, OAUTH_INTROSPECTION_URL: `${base}/introspect` });
    expectOk(await auth(shared, { device: DEV, token: await ourJwt(DEV, DEV, 3600, T0) }, o), "device-token");
    // A token every verifier refuses collects their reasons in order.
    const rogue = await pkJwt("rogue", external({ iat: T0_S, exp: T0_S + 3600 }));
    expectRejected(
      await auth(full(), { device: DEV, token: rogue }, o),
      "token algorithm not allowed; no key in the JWKS matches the token; token is not active",
    );
    expect(introRequests).toHaveLength(1);
    // Identical reasons are given once.
    expectRejected(await auth(full(), { device: DEV, token: "op-inactive-01" }, o), "malformed token; token is not active");
  });

  it("skips methods that are not configured", async () => {
    const deviceOnly = settings({ AUTH_MODE: "mixed" });
    expectOk(await auth(deviceOnly, { device: DEV, token: await ourJwt() }, { secret: DEVICE_SECRET }), "device-token");
    expectRejected(await auth(deviceOnly, { device: DEV, token: "op-active-0001" }, { secret: DEVICE_SECRET }), "malformed token");
    const introOnly = settings({ AUTH_MODE: "mixed", OAUTH_INTROSPECTION_URL: `${base}/introspect` });
    expectOk(await auth(introOnly, { device: DEV, token: "op-active-0001" }, { nowMs: T0 }), "introspection");
    expectRejected(await auth(settings({ AUTH_MODE: "mixed" }), { device: DEV, token: "op-active-0001" }), "AUTH_MODE=mixed has no verifier configured");
  });
});

describe("AUTH_ALLOWED_DEVICES", () => {
  const modes = ["device-token", "jwt", "introspection", "mixed"];

  it("bypasses the token check for listed devices in every mode", async () => {
    for (const AUTH_MODE of modes) {
      const s = settings({
        AUTH_MODE,
        AUTH_ALLOWED_DEVICES: ` "AA:BB:CC:DD:EE:01" , test-bench`,
        OAUTH_INTROSPECTION_URL: `${base}/introspect`,
        JWT_SECRET,
      });
      expect(await auth(s, { device: DEV }, { secret: DEVICE_SECRET })).toEqual({
        ok: true,
        deviceId: DEV,
        clientId: DEV,
        method: "allowlist",
        assignedId: false,
      });
      expectOk(await auth(s, { device: "TEST-BENCH", token: "whatever-is-sent" }, { secret: DEVICE_SECRET }), "allowlist", "test-bench");
      expectRejected(await auth(s, { device: DEV2 }, { secret: DEVICE_SECRET }), "missing token");
    }
    expect(introRequests).toHaveLength(0);
  });
});

describe("AUTH_TOKENS", () => {
  it("is accepted in every mode but off, configured or not", async () => {
    for (const AUTH_MODE of ["device-token", "jwt", "introspection", "mixed"]) {
      const s = settings({ AUTH_MODE, AUTH_TOKENS: `${STATIC_A}, ${STATIC_B}` });
      expectOk(await auth(s, { device: DEV, token: STATIC_A }), "static-token");
      expectOk(await auth(s, { device: DEV2, token: STATIC_B, via: "query-token", ids: "query" }), "static-token", DEV2);
      expectRejected(await auth(s, { device: DEV, token: STATIC_A + "x" }), /./);
      expectRejected(await auth(s, { device: DEV, token: STATIC_A.slice(0, -1) }), /./);
    }
    expectOk(await auth(settings({ AUTH_MODE: "off", AUTH_TOKENS: STATIC_A }), { device: DEV, token: STATIC_A }), "off");
  });

  it("is checked before any remote verifier", async () => {
    const s = settings({ AUTH_MODE: "introspection", AUTH_TOKENS: STATIC_A, OAUTH_INTROSPECTION_URL: `${base}/introspect` });
    expectOk(await auth(s, { device: DEV, token: STATIC_A }), "static-token");
    expect(introRequests).toHaveLength(0);
  });

  it("leaves other tokens to the mode's verifier", async () => {
    const s = settings({ AUTH_MODE: "device-token", AUTH_TOKENS: STATIC_A });
    expectOk(await auth(s, { device: DEV, token: await ourJwt() }, { secret: DEVICE_SECRET }), "device-token");
    expectRejected(await auth(s, { device: DEV, token: "not-static" }, { secret: DEVICE_SECRET }), "malformed token");
  });
});
