import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import app from "../../src/index.ts";
import { rolloutBucket } from "../../src/firmware/offer.ts";
import { BASE, api, fetchWorker } from "./helpers.ts";

// Firmware per board (PROTOCOL §1.1): FIRMWARE_BY_BOARD over the global offer, a staged rollout
// stable by device id, images uploaded into R2 and served to devices without a token.

let checks = 0;
function ota(vars: Record<string, string>, deviceId: string, body: unknown, ua = "esp-box/1.6.0") {
  // Hundreds of checks: each from its own client address, as a fleet's are (120 a minute per address).
  checks++;
  const init = {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "device-id": deviceId,
      "client-id": "c1",
      "user-agent": ua,
      "cf-connecting-ip": `198.18.${checks >> 8}.${checks & 0xff}`,
    },
    body: JSON.stringify(body),
  };
  return app.fetch(
    new Request(new URL("/supie/ota/", BASE), init),
    { ...env, ...vars } as Env,
    {
      waitUntil: () => {},
      passThroughOnException: () => {},
      props: {},
    } as unknown as ExecutionContext,
  );
}

const device = (i: number) => `fw:00:00:00:${String(Math.floor(i / 100)).padStart(2, "0")}:${String(i % 100).padStart(2, "0")}`;
const body = (board: string) => ({ application: { version: "1.6.0" }, board: { type: board } });

describe("firmware per board", () => {
  it("offers the board's version to its rollout share, stable as the share grows; others get the global offer", async () => {
    const offered = async (rollout: number) => {
      const vars = {
        FIRMWARE_VERSION: "1.7.0",
        FIRMWARE_URL: "https://cdn.example.com/global-1.7.0.bin",
        FIRMWARE_BY_BOARD: JSON.stringify({ "bread-compact-wifi": { version: "2.0.0", rollout } }),
      };
      const got = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const r = (await (await ota(vars, device(i), body("bread-compact-wifi"))).json()) as any;
        if (r.firmware.version === "2.0.0") {
          expect(r.firmware.url).toBe(`${BASE}/firmware/bread-compact-wifi/2.0.0.bin`);
          got.add(i);
        } else expect(r.firmware).toEqual({ version: "1.7.0", url: "https://cdn.example.com/global-1.7.0.bin" });
      }
      return got;
    };
    const at30 = await offered(30);
    const at60 = await offered(60);
    expect(at30.size).toBeGreaterThan(35);
    expect(at30.size).toBeLessThan(85);
    for (const i of at30) expect(at60.has(i)).toBe(true);
    expect(at60.size).toBeGreaterThan(at30.size);
    expect((await offered(100)).size).toBe(200);
    for (const i of at30) expect(await rolloutBucket(device(i))).toBeLessThan(30);

    // Another board, or the board from the User-Agent when the body has none.
    const vars = { FIRMWARE_BY_BOARD: JSON.stringify({ "esp-box": { version: "1.9.0", url: "https://cdn.example.com/box.bin" } }) };
    expect(((await (await ota(vars, device(1), body("other-board"))).json()) as any).firmware).toEqual({ version: "1.6.0", url: "" });
    expect(((await (await ota(vars, device(1), { application: { version: "1.6.0" } })).json()) as any).firmware).toEqual({
      version: "1.9.0",
      url: "https://cdn.example.com/box.bin",
    });
    // Never an offer of an older or equal version.
    expect(((await (await ota(vars, device(1), { application: { version: "1.9.0" } })).json()) as any).firmware).toEqual({ version: "1.9.0", url: "" });
  });

  it("uploads an image over the 64 KiB body limit, refuses a second upload of the version, serves it without a token", async () => {
    const image = new Uint8Array(200 * 1024).map((_, i) => i % 251);
    const put = await api("/firmware/Bread-Compact-WiFi/2.0.0", { method: "PUT", body: image });
    expect(put.status).toBe(201);
    expect(await put.json()).toMatchObject({ bytes: image.byteLength, url: "/firmware/Bread-Compact-WiFi/2.0.0.bin" });
    expect((await api("/firmware/bread-compact-wifi/2.0.0", { method: "PUT", body: image })).status).toBe(409);
    const got = await fetchWorker("/firmware/bread-compact-wifi/2.0.0.bin");
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(image);
    expect((await fetchWorker("/firmware/bread-compact-wifi/9.9.9.bin")).status).toBe(404);
    expect((await fetchWorker("/firmware/..%2F..%2Fmeetings/x.bin")).status).toBe(404);
    expect((await fetchWorker("/api/firmware/a/b", { method: "PUT", body: "x" })).status).toBe(401);
    // Other API bodies keep their 64 KiB limit.
    expect((await api("/config", { method: "PUT", body: JSON.stringify({ values: { x: "y".repeat(70 * 1024) } }) })).status).toBe(413);
  });
});
