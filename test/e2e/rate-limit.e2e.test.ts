import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { otaCheck, simulatedAddress } from "../../scripts/lib/device-client.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

// Rate limits (PROTOCOL §1.1) under `wrangler dev`: its rate-limit bindings count locally, and a
// `CF-Connecting-IP` sent by the client reaches the Worker unchanged (wrangler sets the header only
// when none is sent: then it is the client's own address, 127.0.0.1 here). That is what lets the
// tests, the simulator and the benchmark spread simulated devices over client addresses.

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer();
});
afterAll(async () => {
  await server?.stop();
});

/** Miniflare counts in fixed minutes of the wall clock: start a burst with time left in this one. */
async function freshMinute(needS = 20): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needS * 1000) await new Promise((r) => setTimeout(r, left + 50));
}

function ota(deviceId: string, ip?: string) {
  return fetch(`${server.url}/supie/ota/`, {
    method: "POST",
    headers: { "content-type": "application/json", "device-id": deviceId, ...(ip ? { "cf-connecting-ip": ip } : {}) },
    body: "{}",
  });
}

describe("rate limits under wrangler dev", () => {
  it("count OTA checks by the CF-Connecting-IP the client sends; without one, by 127.0.0.1", { timeout: 120_000 }, async () => {
    await freshMinute();
    const statuses: number[] = [];
    for (let i = 0; i < 120; i++) statuses.push((await ota(`e2:rl:00:00:00:${i.toString(16).padStart(2, "0")}`, "203.0.113.50")).status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const over = await ota("e2:rl:00:00:01:00", "203.0.113.50");
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("60");
    expect(await over.json()).toEqual({ error: { code: "RATE_LIMITED", message: expect.stringContaining("too many OTA checks") } });
    // Another address is another client.
    expect((await ota("e2:rl:00:00:01:01", "203.0.113.51")).status).toBe(200);

    // Without the header wrangler puts the client's own address: 127.0.0.1 spent, so is it.
    await freshMinute();
    const loopback: number[] = [];
    for (let i = 0; i < 120; i++) loopback.push((await ota(`e2:rl:00:00:02:${i.toString(16).padStart(2, "0")}`, "127.0.0.1")).status);
    expect(loopback.filter((s) => s !== 200)).toEqual([]);
    expect((await ota("e2:rl:00:00:03:00")).status).toBe(429);
    expect(server.output()).toContain('"event":"rate_limited"');
  });

  it("the simulator's devices each check from their own address", { timeout: 60_000 }, async () => {
    await freshMinute();
    const ids = Array.from({ length: 130 }, (_, i) => `e2:sim:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`);
    expect(new Set(ids.map(simulatedAddress)).size).toBe(130);
    for (const id of ids) expect((await otaCheck(server.url, id)).websocket.token).not.toBe("");
  });

  it("count API requests with a bad token against their address", { timeout: 120_000 }, async () => {
    await freshMinute();
    const get = (token: string, ip: string) => fetch(`${server.url}/api/config`, { headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": ip } });
    const statuses: number[] = [];
    for (let i = 0; i < 600; i++) statuses.push((await get(`guess-${i}`, "198.51.100.60")).status);
    expect(statuses.filter((s) => s !== 401)).toEqual([]);
    const over = await get("guess-again", "198.51.100.60");
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("60");
    // The operator's token from that address still works: it is counted by token.
    expect((await get("dev-admin-token", "198.51.100.60")).status).toBe(200);
  });
});
