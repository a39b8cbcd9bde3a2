import { SignJWT } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { DeviceClient, otaCheck } from "../../scripts/lib/device-client.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

// Authentication modes switched with `wrangler dev --var`, as operators and outside checks do.

const servers: DevServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** The server's log stream reaches us a moment after the request: wait for an event to show. */
async function logged(s: DevServer, event: string): Promise<string> {
  for (let i = 0; i < 100 && !s.output().includes(event); i++) await new Promise((r) => setTimeout(r, 50));
  return s.output();
}

async function serve(vars: Record<string, string>) {
  const s = await startDevServer({ vars });
  servers.push(s);
  return s;
}

function refused(p: Promise<unknown>) {
  return p.then(
    () => ({ status: 101, body: "" }),
    (e: { status?: number; body?: string }) => ({ status: e.status, body: e.body ?? "" }),
  );
}

describe("AUTH_MODE=off", () => {
  it("accepts anyone, assigning an id to a device that names none", async () => {
    const s = await serve({ AUTH_MODE: "off" });
    expect((await otaCheck(s.url, "aa:00:00:00:00:01")).websocket.token).toBe("");
    const anon = await DeviceClient.connect({ baseUrl: s.url, deviceId: "", token: "", wsUrl: `ws://127.0.0.1:${s.port}/supie/v1/` });
    expect(String(anon.hello!.device_id)).toMatch(/^auto-[0-9a-f]{8}$/);
    await anon.close();
    // The warning is logged at every connection.
    expect(await logged(s, "auth.off")).toContain("auth.off");
  });
});

describe("AUTH_MODE=jwt and static tokens", () => {
  it("accepts an external issuer's token for the right device only, and static tokens", async () => {
    const secret = "external-issuer-secret-0123456789";
    const s = await serve({
      AUTH_MODE: "jwt",
      JWT_SECRET: secret,
      JWT_ISSUER: "https://idp.example",
      JWT_AUDIENCE: "badges",
      AUTH_TOKENS: "static-one,static-two",
    });
    const key = new TextEncoder().encode(secret);
    const token = await new SignJWT({ device_id: "AA:00:00:00:00:02" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://idp.example")
      .setAudience("badges")
      .setExpirationTime("10m")
      .sign(key);
    const wsUrl = `ws://127.0.0.1:${s.port}/supie/v1/`;
    const ok = await DeviceClient.connect({ baseUrl: s.url, deviceId: "aa:00:00:00:00:02", token, wsUrl });
    expect(ok.hello!.device_id).toBe("aa:00:00:00:00:02");
    await ok.close();
    const other = await refused(DeviceClient.connect({ baseUrl: s.url, deviceId: "aa:00:00:00:00:03", token, wsUrl }));
    expect(other.status).toBe(401);
    expect(JSON.parse(other.body)).toEqual({ error: { code: "UNAUTHORIZED", message: "token belongs to another device" } });
    const wrongAud = await new SignJWT({ sub: "aa:00:00:00:00:04" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://idp.example")
      .setAudience("other")
      .setExpirationTime("10m")
      .sign(key);
    expect((await refused(DeviceClient.connect({ baseUrl: s.url, deviceId: "aa:00:00:00:00:04", token: wrongAud, wsUrl }))).status).toBe(401);
    const st = await DeviceClient.connect({ baseUrl: s.url, deviceId: "aa:00:00:00:00:05", token: "static-two", wsUrl });
    await st.close();
    // Nothing secret reaches the logs.
    const out = await logged(s, "auth.rejected");
    expect(out).toContain("auth.rejected");
    for (const secretText of [secret, token, wrongAud, "static-two"]) expect(out).not.toContain(secretText);
  });
});

describe("AUTH_ALLOWED_DEVICES", () => {
  it("lets listed devices in without a token", async () => {
    const s = await serve({ AUTH_ALLOWED_DEVICES: "AA:00:00:00:00:06" });
    const wsUrl = `ws://127.0.0.1:${s.port}/supie/v1/`;
    const d = await DeviceClient.connect({ baseUrl: s.url, deviceId: "aa:00:00:00:00:06", token: "", wsUrl });
    await d.close();
    expect((await refused(DeviceClient.connect({ baseUrl: s.url, deviceId: "aa:00:00:00:00:07", token: "", wsUrl }))).status).toBe(401);
  });
});
