import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import app from "../../src/index.ts";
import { ADMIN, BASE, api, type Json } from "./helpers.ts";

// Every HTTP route with hostile path parameters, bodies (deep, huge, wrong type, wrong content type,
// not JSON) and methods: never a 5xx, always the one error shape of PROTOCOL §11, nothing logged at
// error level. New routes belong in ROUTES.

const ROUTES: Array<{ method: string; path: string }> = [
  { method: "GET", path: "/health" },
  { method: "POST", path: "/supie/ota/" },
  { method: "POST", path: "/xiaozhi/ota/" },
  { method: "POST", path: "/supie/ota/activate" },
  { method: "POST", path: "/xiaozhi/ota/activate" },
  { method: "GET", path: "/supie/ota/" },
  { method: "GET", path: "/xiaozhi/ota/" },
  { method: "GET", path: "/supie/v1/" },
  { method: "GET", path: "/xiaozhi/v1/" },
  { method: "GET", path: "/" },
  { method: "GET", path: "/console" },
  { method: "GET", path: "/console/:id" },
  { method: "GET", path: "/api/devices/:id" },
  { method: "DELETE", path: "/api/devices/:id/sessions" },
  { method: "POST", path: "/api/devices/:id/activate" },
  { method: "POST", path: "/api/devices/:id/messages" },
  { method: "GET", path: "/api/groups/:id/devices" },
  { method: "GET", path: "/api/groups/:id/tasks" },
  { method: "POST", path: "/api/groups/:id/tasks" },
  { method: "POST", path: "/api/groups/:id/tasks/import-meeting" },
  { method: "GET", path: "/api/meetings" },
  { method: "GET", path: "/api/meetings?device=:id&limit=:id" },
  { method: "GET", path: "/api/meetings/:id" },
  { method: "GET", path: "/api/meetings/:id/transcript" },
  { method: "GET", path: "/api/meetings/m-20260101-00000000ff/transcript?offset=:id&limit=:id" },
  { method: "POST", path: "/api/meetings/:id/webhook" },
  { method: "GET", path: "/api/config" },
  { method: "PUT", path: "/api/config" },
  { method: "GET", path: "/api/devices/:id/history" },
  { method: "DELETE", path: "/api/devices/:id/history" },
  { method: "PUT", path: "/api/firmware/:id/1.0.0" },
  { method: "PUT", path: "/api/firmware/board/:id" },
  { method: "GET", path: "/firmware/:id/1.0.0.bin" },
  { method: "GET", path: "/firmware/board/:id" },
  { method: "GET", path: "/api/devices" },
  { method: "GET", path: "/api/devices?cursor=:id" },
  { method: "GET", path: "/api/devices?q=:id&online=true" },
  { method: "GET", path: "/api/devices?group=:id&limit=2" },
  { method: "GET", path: "/api/devices?online=:id&limit=:id" },
  { method: "GET", path: "/api/devices/:id/profile" },
  { method: "PUT", path: "/api/devices/:id/profile" },
  { method: "GET", path: "/api/groups" },
  { method: "GET", path: "/api/stats" },
  { method: "GET", path: "/api/activations" },
  { method: "POST", path: "/api/activations" },
  { method: "GET", path: "/api/devices/:id/tools" },
  { method: "POST", path: "/api/devices/:id/tools/call" },
  { method: "GET", path: "/supie/vision/explain" },
  { method: "POST", path: "/supie/vision/explain" },
];

const HOSTILE_PARAMS = [
  "%E0%A4%A",
  "%",
  "%253A",
  "__proto__",
  "constructor",
  "prototype",
  "x".repeat(5000),
  "..%2F..%2Fetc",
  "%00",
  "aa:bb:cc:dd:ee:ff",
  "%F0%9F%98%80",
  "m-20260101-00000000ff",
];
const deep = (n: number) => `{"payload":${'{"a":'.repeat(n)}1${"}".repeat(n)},"tasks":${"[".repeat(n)}${"]".repeat(n)}}`;
const BODIES: Array<{ name: string; body: string | Uint8Array; type?: string }> = [
  { name: "deep", body: deep(3000), type: "application/json" },
  { name: "huge", body: new Uint8Array(5 * 1024 * 1024).fill(0x20), type: "application/json" },
  { name: "array", body: "[]", type: "application/json" },
  { name: "string", body: '"x"', type: "application/json" },
  { name: "null", body: "null", type: "application/json" },
  { name: "not json", body: "{nope", type: "application/json" },
  { name: "text/plain json", body: '{"code":"123456"}', type: "text/plain" },
  { name: "form", body: "a=1&b=2", type: "application/x-www-form-urlencoded" },
  { name: "multipart", body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n', type: "multipart/form-data; boundary=x" },
  { name: "proto keys", body: '{"__proto__":{"admin":true},"constructor":{"prototype":{}},"values":{"__proto__":"x"}}', type: "application/json" },
];

// Rate limits (PROTOCOL §1.1): the sweeps below send over a thousand admin requests in well under a
// minute, more than the API's 600 a minute per token, and there is one admin token. So they run
// with the API limit passing everything (it is tested in rate-limit.test.ts); the OTA and
// activation limits stay real, and each request comes from its own client address, as a fleet's do.
const unlimited = { limit: async () => ({ success: true }) };
const sweepEnv = { ...env, API_RATE_LIMIT: unlimited } as unknown as Env;
let sent = 0;

async function hit(method: string, path: string, body?: string | Uint8Array, type?: string, extra: Record<string, string> = {}): Promise<Response> {
  sent++;
  const headers = new Headers({
    authorization: `Bearer ${ADMIN}`,
    "device-id": "aa:bb:cc:00:00:77",
    "cf-connecting-ip": `198.18.${(sent >> 8) & 0xff}.${sent & 0xff}`,
    ...extra,
  });
  if (type) headers.set("content-type", type);
  const init: RequestInit = { method, headers };
  if (body !== undefined && method !== "GET" && method !== "HEAD") init.body = body;
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const res = await app.fetch(new Request(`${BASE}${path}`, init), sweepEnv, ctx);
  await Promise.all(pending);
  return res;
}

async function checkShape(res: Response, what: string): Promise<void> {
  expect(res.status, what).toBeLessThan(500);
  const text = new TextDecoder().decode(await res.arrayBuffer());
  // HEAD answers carry the headers of the GET they mirror, without a body.
  if (res.status >= 400 && res.headers.get("content-type")?.includes("json") && text) {
    expect(JSON.parse(text) as Json, what).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  }
}

describe("hostile HTTP", () => {
  const errors: unknown[][] = [];
  beforeEach(() => {
    errors.length = 0;
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void errors.push(args));
  });
  afterEach(() => vi.restoreAllMocks());

  it("never answers 5xx to hostile path parameters on any route", { timeout: 60_000 }, async () => {
    for (const r of ROUTES.filter((r) => r.path.includes(":id"))) {
      for (const p of HOSTILE_PARAMS) {
        const path = r.path.replaceAll(":id", p);
        await checkShape(await hit(r.method, path, r.method === "GET" ? undefined : "{}", "application/json"), `${r.method} ${path.slice(0, 80)}`);
      }
    }
    expect(errors).toEqual([]);
  });

  it("never answers 5xx to hostile bodies or methods", { timeout: 60_000 }, async () => {
    for (const r of ROUTES) {
      const path = r.path.replaceAll(":id", "aa:bb:cc:00:00:77");
      for (const b of BODIES) await checkShape(await hit(r.method, path, b.body, b.type), `${r.method} ${path} ${b.name}`);
      for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
        await checkShape(await hit(method, path, "{}", "application/json"), `${method} ${path}`);
    }
    expect(errors).toEqual([]);
  });

  it("never answers 5xx to generated paths and bodies", { timeout: 60_000 }, async () => {
    const segment = fc.oneof(fc.string({ maxLength: 30 }).map(encodeURIComponent), fc.constantFrom(...HOSTILE_PARAMS));
    const samples = fc.sample(fc.tuple(fc.constantFrom(...ROUTES), segment, fc.oneof(fc.json(), fc.string({ maxLength: 200 }))), { numRuns: 400, seed: 11 });
    for (const [r, seg, body] of samples) {
      const path = r.path.replaceAll(":id", seg);
      await checkShape(await hit(r.method, path, body, "application/json"), `${r.method} ${path.slice(0, 80)} ${body.slice(0, 40)}`);
    }
    expect(errors).toEqual([]);
  });

  it("says exactly what is wrong", async () => {
    const malformed = await api("/devices/%E0%A4%A");
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as Json).error.code).toBe("INVALID_REQUEST");
    // Decoded once: "%253A" is the id "%3A", which is not valid; it never becomes ":".
    expect((await api("/devices/aa%253Abb")).status).toBe(400);
    expect((await api("/devices/aa%3Abb")).status).toBe(200);
    for (const id of ["__proto__", "constructor", "prototype"]) {
      const res = await api(`/devices/${id}`);
      expect(await res.json()).toMatchObject({ deviceId: id, online: false, groupKey: id.slice(0, 8), inbox: 0 });
    }
    const huge = await hit("POST", "/api/devices/aa:bb:cc:00:00:78/messages", new Uint8Array(5 * 1024 * 1024).fill(0x20), "application/json");
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ error: { code: "PAYLOAD_TOO_LARGE", message: "request body exceeds 65536 bytes" } });
    const ota = await hit("POST", "/supie/ota/", new Uint8Array(70 * 1024).fill(0x20), "application/json");
    expect(ota.status).toBe(413);
    // A chunked body announces no length: it is counted as it streams in, and refused past 64 KiB.
    for (const path of ["/api/devices/aa:bb:cc:00:00:78/messages", "/api/config", "/supie/ota/"]) {
      let chunks = 80;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (chunks-- > 0) ctl.enqueue(new Uint8Array(64 * 1024).fill(0x20));
          else ctl.close();
        },
      });
      const init = { method: path === "/api/config" ? "PUT" : "POST", body: stream, duplex: "half" } as RequestInit;
      const headers = new Headers({
        authorization: `Bearer ${ADMIN}`,
        "device-id": "aa:bb:cc:00:00:79",
        "content-type": "application/json",
        "cf-connecting-ip": "198.19.0.1",
      });
      const req = new Request(`${BASE}${path}`, { ...init, headers });
      expect(req.headers.has("content-length"), path).toBe(false);
      const res = await app.fetch(req, sweepEnv, { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext);
      expect(res.status, path).toBe(413);
      expect(((await res.json()) as Json).error.code, path).toBe("PAYLOAD_TOO_LARGE");
    }
    const tooDeep = await hit("POST", "/api/devices/aa:bb:cc:00:00:78/messages", deep(3000), "application/json");
    expect(await tooDeep.json()).toEqual({ error: { code: "SCHEMA_INVALID", message: "payload too deep" } });
    const longMeeting = await api(`/meetings/${"m".repeat(5000)}/transcript`);
    expect(longMeeting.status).toBe(400);
    expect((await hit("PATCH", "/api/config", "{}", "application/json")).status).toBe(404);
  });
});
