import { env } from "cloudflare:workers";
import { listDurableObjectIds } from "cloudflare:test";
import { jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import app from "../../src/index.ts";
import { issueXiaozhiToken } from "../../src/auth/tokens.ts";
import { ADMIN, BASE, SECRET, api, connectDevice, fetchWorker, tokenFor, uniqueId, upgradeResponse } from "./helpers.ts";

/** Calls the Worker with settings overridden, as `wrangler dev --var` would. */
function withVars(vars: Record<string, string>, path: string, init?: RequestInit) {
  return app.fetch(
    new Request(new URL(path, BASE), init),
    { ...env, ...vars } as Env,
    {
      waitUntil: () => {},
      passThroughOnException: () => {},
      props: {},
    } as unknown as ExecutionContext,
  );
}

function otaRequest(deviceId: string | null, body: unknown = { application: { version: "1.6.0" } }, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { "content-type": "application/json", "client-id": "c1d2-uuid", "user-agent": "esp-box/1.6.0", ...extra };
  if (deviceId !== null) headers["device-id"] = deviceId;
  return { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) };
}

describe("health", () => {
  it("reports status and package version", async () => {
    const res = await fetchWorker("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });
});

describe("OTA", () => {
  it("answers the firmware check with a device token bound to Device-Id and Client-Id", async () => {
    const res = await fetchWorker("/supie/ota/", otaRequest("AA:BB:CC:00:00:01"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as any;
    expect(Object.keys(body).sort()).toEqual(["firmware", "server_time", "websocket"]);
    expect(body.server_time).toEqual({ timestamp: expect.any(Number), timezone_offset: 480 });
    expect(body.firmware).toEqual({ version: "1.6.0", url: "" });
    expect(body.websocket).toMatchObject({ url: "wss://edge.example.com/supie/v1/", version: 1 });
    const { payload } = await jwtVerify(body.websocket.token, new TextEncoder().encode(SECRET));
    expect(payload).toMatchObject({ sub: "aa:bb:cc:00:00:01", cid: "c1d2-uuid" });
  });

  it("answers the alias path with the alias WebSocket path, trailing slash optional", async () => {
    const body = (await (await fetchWorker("/xiaozhi/ota", otaRequest("aa:bb:cc:00:00:02"))).json()) as any;
    expect(body.websocket.url).toBe("wss://edge.example.com/xiaozhi/v1/");
  });

  it("never fails on odd system info and never includes mqtt", async () => {
    for (const b of ["not json", { minimum_free_heap_size: "8000", application: { version: 3 } }, [], null]) {
      const res = await fetchWorker("/supie/ota/", otaRequest("aa:bb:cc:00:00:03", b));
      expect(res.status).toBe(200);
      expect(await res.json()).not.toHaveProperty("mqtt");
    }
  });

  it("offers a newer firmware when FIRMWARE_VERSION is newer than the device", async () => {
    const vars = { FIRMWARE_VERSION: "1.10.0", FIRMWARE_URL: "https://fw.example.com/1.10.0.bin" };
    const newer = (await (await withVars(vars, "/supie/ota/", otaRequest("aa:bb:cc:00:00:04"))).json()) as any;
    expect(newer.firmware).toEqual({ version: "1.10.0", url: "https://fw.example.com/1.10.0.bin" });
    const same = (await (await withVars(vars, "/supie/ota/", otaRequest("aa:bb:cc:00:00:04", { application: { version: "1.10.0" } }))).json()) as any;
    expect(same.firmware).toEqual({ version: "1.10.0", url: "" });
  });

  it("uses PUBLIC_WS_URL when set and gives an empty token with AUTH_MODE=off", async () => {
    const res = await withVars({ PUBLIC_WS_URL: "wss://ws.example.net/supie/v1/", AUTH_MODE: "off" }, "/supie/ota/", otaRequest("aa:bb:cc:00:00:05"));
    expect(((await res.json()) as any).websocket).toEqual({ url: "wss://ws.example.net/supie/v1/", token: "", version: 1 });
  });

  it("rejects a missing Device-Id with 400 INVALID_REQUEST", async () => {
    const res = await fetchWorker("/supie/ota/", otaRequest(null));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "INVALID_REQUEST", message: "missing Device-Id header" } });
  });

  it("refuses to issue tokens when deployed without DEVICE_TOKEN_SECRET", async () => {
    const res = await withVars({ DEVICE_TOKEN_SECRET: "" }, "/supie/ota/", otaRequest("aa:bb:cc:00:00:06"));
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.message).toContain("DEVICE_TOKEN_SECRET");
  });

  it("answers GET with the running text and OPTIONS with CORS", async () => {
    const get = await fetchWorker("/xiaozhi/ota/");
    expect(get.status).toBe(200);
    expect(get.headers.get("content-type")).toContain("text/plain");
    expect(await get.text()).toBe("OTA endpoint is running; devices are sent websocket URL: wss://edge.example.com/xiaozhi/v1/");
    for (const path of ["/supie/ota/", "/xiaozhi/ota/", "/api/devices/x"]) {
      const opt = await fetchWorker(path, {
        method: "OPTIONS",
        headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "device-id" },
      });
      expect(opt.status).toBeLessThan(300);
      expect(opt.headers.get("access-control-allow-origin")).toBe("*");
      expect(opt.headers.get("access-control-allow-methods")).toBe("GET,POST,PUT,DELETE,OPTIONS");
      expect(opt.headers.get("access-control-allow-headers")?.toLowerCase()).toBe(
        "device-id,client-id,content-type,authorization,activation-version,protocol-version",
      );
    }
  });
});

describe("activation (OTA_ACTIVATION=required)", () => {
  it("withholds the token until an operator activates the code", async () => {
    const vars = { OTA_ACTIVATION: "required" };
    const id = uniqueId("ac:ac:ac");
    const first = (await (await withVars(vars, "/supie/ota/", otaRequest(id))).json()) as any;
    expect(first.websocket.token).toBe("");
    expect(first.activation).toEqual({
      code: expect.stringMatching(/^\d{6}$/),
      message: expect.any(String),
      challenge: expect.any(String),
      timeout_ms: 30000,
    });
    const poll = await withVars(vars, "/supie/ota/activate", { method: "POST", headers: { "device-id": id }, body: "{}" });
    expect(poll.status).toBe(202);
    const again = (await (await withVars(vars, "/supie/ota/", otaRequest(id))).json()) as any;
    expect(again.activation.code).toBe(first.activation.code);

    const wrong = await api(`/devices/${id}/activate`, { method: "POST", body: JSON.stringify({ code: "000000x" }) });
    expect(wrong.status).toBe(409);
    const ok = await api(`/devices/${id}/activate`, { method: "POST", body: JSON.stringify({ code: first.activation.code }) });
    expect(ok.status).toBe(200);
    expect((await withVars(vars, "/supie/ota/activate", { method: "POST", headers: { "device-id": id }, body: "{}" })).status).toBe(200);
    const done = (await (await withVars(vars, "/supie/ota/", otaRequest(id))).json()) as any;
    expect(done.activation).toBeUndefined();
    expect(done.websocket.token.length).toBeGreaterThan(20);
  });

  it("unset means required when deployed and off on loopback (PROTOCOL §1.1)", async () => {
    const unset = { OTA_ACTIVATION: "" };
    const deployed = (await (await withVars(unset, "/supie/ota/", otaRequest(uniqueId("ad:ad:ad")))).json()) as any;
    expect(deployed.websocket.token).toBe("");
    expect(deployed.activation.code).toMatch(/^\d{6}$/);
    const local = await app.fetch(
      new Request("http://127.0.0.1:8787/supie/ota/", otaRequest(uniqueId("ad:ad:ad"))),
      { ...env, ...unset } as Env,
      {
        waitUntil: () => {},
        passThroughOnException: () => {},
        props: {},
      } as unknown as ExecutionContext,
    );
    const body = (await local.json()) as any;
    expect(body.activation).toBeUndefined();
    expect(body.websocket.token.length).toBeGreaterThan(20);
    const off = (await (await withVars({ OTA_ACTIVATION: "off" }, "/supie/ota/", otaRequest(uniqueId("ad:ad:ad")))).json()) as any;
    expect(off.activation).toBeUndefined();
  });

  it("answers the activation poll with 200 when activation is not required", async () => {
    expect((await fetchWorker("/supie/ota/activate", { method: "POST", headers: { "device-id": "aa:bb" }, body: "{}" })).status).toBe(200);
  });
});

describe("WebSocket upgrade", () => {
  it("answers a plain GET with 426 and one line of text", async () => {
    for (const path of ["/supie/v1/", "/xiaozhi/v1", "/supie/v1"]) {
      const res = await fetchWorker(path);
      expect(res.status).toBe(426);
      const text = await res.text();
      expect(text.split("\n").filter(Boolean)).toHaveLength(1);
    }
  });

  it("rejects bad credentials with 401 JSON and never wakes a Durable Object", async () => {
    const before = (await listDurableObjectIds(env.DEVICE)).length;
    const other = await tokenFor("aa:bb:cc:99:99:99");
    const cases: Array<[string | null, string | null]> = [
      ["aa:bb:cc:10:00:01", null],
      ["aa:bb:cc:10:00:02", "garbage"],
      ["aa:bb:cc:10:00:03", other],
      ["aa:bb:cc:10:00:04", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhYTpiYjpjYzoxMDowMDowNCJ9."],
      [null, other],
      ["bad id with spaces", other],
    ];
    for (const [id, token] of cases) {
      const res = await upgradeResponse(id, { token });
      expect(res.status).toBe(401);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe("UNAUTHORIZED");
      expect(body.error.message).not.toContain(SECRET);
      if (token && token.length > 10) expect(body.error.message).not.toContain(token);
    }
    expect((await listDurableObjectIds(env.DEVICE)).length).toBe(before);
  });

  it("accepts xiaozhi-server HMAC tokens", async () => {
    const id = "aa:bb:cc:20:00:01";
    const token = await issueXiaozhiToken(SECRET, id, "client-x", Math.floor(Date.now() / 1000));
    const { sock, hello } = await connectDevice(id, { token, clientId: "client-x" });
    expect(hello.device_id).toBe(id);
    sock.close();
  });
});

describe("operator API", () => {
  it("requires the admin bearer token", async () => {
    expect((await fetchWorker("/api/devices/aa:bb:cc:dd:ee:ff")).status).toBe(401);
    const wrong = await fetchWorker("/api/devices/aa:bb:cc:dd:ee:ff", { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { code: "UNAUTHORIZED", message: expect.any(String) } });
    const closed = await withVars({ ADMIN_TOKEN: "" }, "/api/devices/aa:bb", { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(closed.status).toBe(503);
  });

  it("reports a device and disconnects its sessions with 1000 (PROTOCOL §11)", async () => {
    const id = uniqueId();
    const offline = (await (await api(`/devices/${id}`)).json()) as any;
    expect(offline).toEqual({ deviceId: id, online: false, lastSeen: null, mode: null, groupKey: id.slice(0, 8), inbox: 0 });
    const { sock } = await connectDevice(id);
    await sock.request({ type: "mode", state: "start", mode: "coding" });
    const online = (await (await api(`/devices/${encodeURIComponent(id.toUpperCase())}`)).json()) as any;
    expect(online).toMatchObject({ deviceId: id, online: true, mode: "coding", lastSeen: expect.any(Number) });
    const del = await api(`/devices/${id}/sessions`, { method: "DELETE" });
    expect(await del.json()).toEqual({ deviceId: id, closed: 1 });
    expect((await sock.closed()).code).toBe(1000);
    const after = (await (await api(`/devices/${id}`)).json()) as any;
    expect(after).toMatchObject({ online: false, lastSeen: expect.any(Number) });
  });

  it("answers unknown routes and bad ids with JSON errors", async () => {
    const nf = await api("/nothing-here");
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as any).error.code).toBe("NOT_FOUND");
    const bad = await api("/devices/%20bad%20id%20");
    expect(bad.status).toBe(400);
  });
});
