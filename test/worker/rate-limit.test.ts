import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import app from "../../src/index.ts";
import { BASE, fetchWorker, type Json } from "./helpers.ts";

// Rate limits (PROTOCOL §1.1) through the real Workers Rate Limiting bindings of wrangler.toml
// (miniflare's local implementation): 120 OTA checks a minute per client address, 600 API
// requests per token (a bad token counts against its address), 60 activation polls per device.
//
// Every test uses addresses, device ids and admin tokens of its own, so it neither depends on nor
// disturbs another test, whatever the order or whether files share the limiter's state (they do not
// today: each test file gets its own miniflare, counters included; checked 2026-12). Miniflare
// counts in fixed one-minute windows of the wall clock: a run that straddles a minute boundary is
// counted in two windows, so `inOneWindow` runs it again with fresh keys (it takes seconds, so the
// second run fits).

let seq = 0;
const run = Math.floor(Math.random() * 200) + 1;
/** A client address no other test uses. */
const address = () => `10.${run}.${++seq >> 8}.${seq & 0xff}`;
const uid = (prefix: string) => `${prefix}:${run.toString(16).padStart(2, "0")}:${(++seq).toString(16).padStart(4, "0")}`;

async function inOneWindow<T>(attempt: (tag: string) => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    const w = Math.floor(Date.now() / 60_000);
    const out = await attempt(`r${i}`);
    if (Math.floor(Date.now() / 60_000) === w || i >= 2) return out;
  }
}

/** The Worker with an environment of the test's own (another admin token, a binding removed). */
async function call(e: Record<string, unknown>, path: string, init: RequestInit = {}): Promise<Response> {
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const res = await app.fetch(new Request(new URL(path, BASE), init), e as unknown as Env, ctx);
  await Promise.all(pending);
  return res;
}

const otaInit = (deviceId: string, ip?: string): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", "device-id": deviceId, ...(ip ? { "cf-connecting-ip": ip } : {}) },
  body: JSON.stringify({ application: { version: "1.6.0" } }),
});

const bearer = (token: string, ip: string): RequestInit => ({ headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": ip } });

async function expectLimited(res: Response, message: RegExp): Promise<void> {
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe("60");
  expect(await res.json()).toEqual({ error: { code: "RATE_LIMITED", message: expect.stringMatching(message) } });
}

/** The `rate_limited` lines written so far, parsed. */
const limitedLines = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map((c) => String(c[0])).flatMap((l) => (l.includes('"rate_limited"') ? [JSON.parse(l) as Json] : []));

afterEach(() => vi.restoreAllMocks());

describe("OTA checks", () => {
  it("answer the 121st check from one address in a minute with 429 and Retry-After, while another address gets 200", { timeout: 60_000 }, async () => {
    const warn = vi.spyOn(console, "warn");
    const { statuses, last, other, ip } = await inOneWindow(async (tag) => {
      const ip = address();
      const statuses: number[] = [];
      // Both OTA paths count against the address; the device ids vary, as behind one NAT.
      for (let i = 0; i < 120; i++) {
        const path = i % 2 ? "/xiaozhi/ota/" : "/supie/ota/";
        const res = await fetchWorker(path, otaInit(`rl:ot:${tag}:${i.toString(16).padStart(2, "0")}`, ip));
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      const last = await fetchWorker("/supie/ota/", otaInit(`rl:ot:${tag}:ff`, ip));
      const other = await fetchWorker("/supie/ota/", otaInit(`rl:ot:${tag}:fe`, address()));
      return { statuses, last, other, ip };
    });
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await expectLimited(last, /too many OTA checks from this address; retry after 60 s/);
    expect(other.status).toBe(200);
    expect(((await other.json()) as Json).websocket.token).not.toBe("");

    // More refusals, one line: at most one `rate_limited` line per key and minute.
    for (let i = 0; i < 5; i++) expect((await fetchWorker("/supie/ota/", otaInit("rl:ot:again", ip))).status).toBe(429);
    const lines = limitedLines(warn).filter((l) => l.key === ip);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "warn", event: "rate_limited", limit: "ota", by: "address", key: ip, path: "/supie/ota/", retryAfterS: 60 });
  });

  it("count a request by its CF-Connecting-IP: 127.0.0.1 without one, an IPv6 client by its /64", async () => {
    const keys: string[] = [];
    const recording = {
      limit: async ({ key }: { key: string }) => {
        keys.push(key);
        return { success: true };
      },
    };
    const e = { ...env, OTA_RATE_LIMIT: recording, API_RATE_LIMIT: recording, ACTIVATION_RATE_LIMIT: recording };
    const sent: Array<string | undefined> = [undefined, "127.0.0.1", " 198.51.100.7 ", "2001:DB8:1:2::1", "2001:db8:1:2:ffff::9", "::ffff:192.0.2.1"];
    for (const ip of sent) expect((await call(e, "/supie/ota/", otaInit(uid("rl:ky"), ip))).status).toBe(200);
    expect(keys).toEqual(["a:127.0.0.1", "a:127.0.0.1", "a:198.51.100.7", "a:2001:db8:1:2::/64", "a:2001:db8:1:2::/64", "a:192.0.2.1"]);
    // The API's key for a valid token is a hash of it; the activation poll's the normalised id.
    keys.length = 0;
    await call(e, "/api/config", bearer("test-admin-token", "192.0.2.9"));
    await call(e, "/api/config", bearer("nope", "192.0.2.9"));
    await call(e, "/supie/ota/activate", { method: "POST", headers: { "device-id": ' "RL:KY:00:01" ' } });
    await call(e, "/supie/ota/activate", { method: "POST", headers: { "device-id": "not valid!", "cf-connecting-ip": "192.0.2.10" } });
    expect(keys).toEqual([expect.stringMatching(/^t:[0-9a-f]{32}$/), "a:192.0.2.9", "d:rl:ky:00:01", "a:192.0.2.10"]);
  });
});

describe("the API", () => {
  it("answers a token's 601st request in a minute with 429; a bad token counts against its address, never the token", { timeout: 90_000 }, async () => {
    const warn = vi.spyOn(console, "warn");
    const out = await inOneWindow(async (tag) => {
      // An admin token of this test's own: the file's other tests keep theirs.
      const token = `rl-admin-${run}-${tag}-${++seq}`;
      const e = { ...env, ADMIN_TOKEN: token };
      const guesser = address();
      const bad: number[] = [];
      for (let i = 0; i < 600; i++) bad.push((await call(e, "/api/config", bearer(`wrong-${i}`, guesser))).status);
      const badOver = await call(e, "/api/config", bearer("wrong-again", guesser));
      // The guesser's address is spent; the operator's token, from that same address, is not.
      const good: number[] = [(await call(e, "/api/config", bearer(token, guesser))).status];
      for (let i = 1; i < 600; i++) good.push((await call(e, "/api/config", bearer(token, address()))).status);
      const goodOver = await call(e, "/api/config", bearer(token, address()));
      const otherAddress = await call(e, "/api/config", bearer("wrong", address()));
      return { token, bad, badOver, good, goodOver, otherAddress };
    });
    expect(out.bad.filter((s) => s !== 401)).toEqual([]);
    await expectLimited(out.badOver, /too many API requests without a valid token from this address/);
    expect(out.good.filter((s) => s !== 200)).toEqual([]);
    await expectLimited(out.goodOver, /too many API requests with this token/);
    expect(out.otherAddress.status).toBe(401);

    // The log says which limit and a short hash of the token, never the token.
    const lines = limitedLines(warn).filter((l) => l.limit === "api");
    expect(lines.map((l) => l.by).sort()).toEqual(["address", "token"]);
    expect(lines.find((l) => l.by === "token")!.key).toMatch(/^sha256:[0-9a-f]{8}$/);
    for (const call of warn.mock.calls) expect(String(call[0])).not.toContain(out.token);
  });
});

describe("activation polls", () => {
  it("are limited to 60 a minute per device id (normalised), whatever the address; other devices are not", { timeout: 60_000 }, async () => {
    const poll = (id: string) => fetchWorker("/supie/ota/activate", { method: "POST", headers: { "device-id": id, "cf-connecting-ip": address() } });
    const out = await inOneWindow(async () => {
      const id = uid("rl:ac");
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) statuses.push((await poll(i % 2 ? id : id.toUpperCase())).status);
      return { statuses, over: await poll(`"${id.toUpperCase()}"`), other: await poll(uid("rl:ac")) };
    });
    expect(out.statuses.filter((s) => s !== 200)).toEqual([]);
    await expectLimited(out.over, /too many activation polls for this device/);
    expect(out.other.status).toBe(200);
    // The poll limit is its own: the OTA check of the same device is not affected.
    expect((await fetchWorker("/supie/ota/", otaInit(uid("rl:ac"), address()))).status).toBe(200);
  });
});

describe("without the bindings", () => {
  it("serves every request (no limit) and warns once per missing binding", { timeout: 60_000 }, async () => {
    const warn = vi.spyOn(console, "warn");
    const { OTA_RATE_LIMIT: _o, API_RATE_LIMIT: _a, ACTIVATION_RATE_LIMIT: _p, ...rest } = env as unknown as Record<string, unknown>;
    const ip = address();
    const statuses: number[] = [];
    for (let i = 0; i < 130; i++) statuses.push((await call(rest, "/supie/ota/", otaInit(uid("rl:nb"), ip))).status);
    for (let i = 0; i < 3; i++) statuses.push((await call(rest, "/api/config", bearer("test-admin-token", ip))).status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const missing = warn.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("rate_limit.binding_missing"));
    expect(missing).toHaveLength(2);
    expect(missing.join()).toContain("OTA_RATE_LIMIT");
    expect(missing.join()).toContain("API_RATE_LIMIT");
  });

  it("lets requests through when a binding fails", async () => {
    const failing = { limit: () => Promise.reject(new Error("limiter unavailable")) };
    const e = { ...env, OTA_RATE_LIMIT: failing, API_RATE_LIMIT: failing };
    expect((await call(e, "/supie/ota/", otaInit(uid("rl:fl"), address()))).status).toBe(200);
    expect((await call(e, "/api/config", bearer("test-admin-token", address()))).status).toBe(200);
  });
});
