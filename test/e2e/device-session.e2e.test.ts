import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceClient, TEST_PAGE_HELLO, otaCheck } from "../../scripts/lib/device-client.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

// The real Worker under `wrangler dev`, driven over real sockets as devices drive it.

let server: DevServer;

beforeAll(async () => {
  server = await startDevServer({ vars: { DEVICE_GROUPS: '{"AA:BB:CC:DD:EE:01":"lab"}' } });
});
afterAll(async () => {
  await server?.stop();
});

describe("stock firmware handshake", () => {
  it("OTA, then headers + firmware hello get a conforming hello", async () => {
    const ota = await otaCheck(server.url, "AA:BB:CC:DD:EE:01", { clientId: "7b94d69a-9808-4c59-9c9b-704333b38aff" });
    expect(ota.websocket.url).toBe(`ws://127.0.0.1:${server.port}/supie/v1/`);
    expect(ota.websocket.token).not.toBe("");
    expect(ota).not.toHaveProperty("mqtt");
    const dev = await DeviceClient.connect({
      baseUrl: server.url,
      deviceId: "AA:BB:CC:DD:EE:01",
      clientId: "7b94d69a-9808-4c59-9c9b-704333b38aff",
    });
    expect(dev.hello).toMatchObject({
      type: "hello",
      transport: "websocket",
      device_id: "aa:bb:cc:dd:ee:01",
      session_id: expect.any(String),
      audio_params: { format: "opus", sample_rate: 24000, channels: 1, frame_duration: 60 },
    });
    await dev.close();
  });

  it("the browser test page (query identity, bare hello, alias path) gets a conforming hello", async () => {
    const dev = await DeviceClient.connect({
      baseUrl: server.url,
      deviceId: "aa:bb:cc:dd:ee:02",
      clientId: "web_test_client",
      identity: "query",
      alias: true,
      hello: TEST_PAGE_HELLO,
    });
    expect(dev.hello).toMatchObject({ type: "hello", transport: "websocket", device_id: "aa:bb:cc:dd:ee:02" });
    await dev.close();
  });

  it("rejects a wrong token with 401 JSON", async () => {
    const err = (await DeviceClient.connect({
      baseUrl: server.url,
      deviceId: "aa:bb:cc:dd:ee:03",
      token: "nope",
      wsUrl: `ws://127.0.0.1:${server.port}/supie/v1/`,
    }).catch((e) => e)) as {
      status?: number;
      body?: string;
    };
    expect(err.status).toBe(401);
    expect(JSON.parse(err.body ?? "{}")).toMatchObject({ error: { code: "UNAUTHORIZED" } });
  });
});

describe("a session over real sockets", () => {
  it("survives bad frames, keeps its mode across reconnects and hands over duplicates", async () => {
    const id = "aa:bb:cc:dd:ee:10";
    const a = await DeviceClient.connect({ baseUrl: server.url, deviceId: id });
    a.sendRaw("{oops");
    expect(await a.next((m) => m.type === "error")).toMatchObject({ code: "INVALID_JSON" });
    a.sendRaw(Buffer.alloc(0));
    expect(await a.request({ type: "mode", state: "start", mode: "working" })).toMatchObject({ status: "ok", mode: "working" });
    expect(await a.next((m) => m.type === "listen")).toEqual({ type: "listen", state: "start", mode: "manual" });

    const b = await DeviceClient.connect({ baseUrl: server.url, deviceId: id });
    expect(await a.next((m) => m.type === "system")).toMatchObject({ event: "replaced" });
    expect((await a.closed).code).toBe(4009);
    expect(await b.request({ type: "mode", state: "start", mode: "working" })).toMatchObject({ idempotent: true });
    expect(await b.request({ type: "ping" }, "pong")).toMatchObject({ type: "pong" });
    await b.close();
  });

  it("keeps a device's mode across a restart of the server with persisted state", async () => {
    const id = "aa:bb:cc:dd:ee:20";
    const dir = mkdtempSync(join(tmpdir(), "supie-restart-"));
    try {
      const first = await startDevServer({ persistTo: dir });
      try {
        const a = await DeviceClient.connect({ baseUrl: first.url, deviceId: id });
        await a.request({ type: "mode", state: "start", mode: "coding" });
        await a.close();
      } finally {
        await first.stop();
      }
      const again = await startDevServer({ persistTo: dir });
      try {
        const b = await DeviceClient.connect({ baseUrl: again.url, deviceId: id });
        expect(await b.request({ type: "mode", state: "start", mode: "coding" })).toMatchObject({ idempotent: true });
        await b.close();
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
