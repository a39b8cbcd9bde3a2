import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../src/index.ts";
import { fleetOf } from "../../src/fleet/fleet.ts";
import type { DeviceSession } from "../../src/session/device-session.ts";
import { BASE, api, uniqueId, type Json } from "./helpers.ts";

// Activation by code alone (PROTOCOL §11): OTA checks under OTA_ACTIVATION=required show a code
// that the pending list names, POST /api/activations binds whichever device shows it, codes are
// unique among pending ones and live ACTIVATION_CODE_TTL_S.

const REQUIRED = { OTA_ACTIVATION: "required" };

/** The Worker with OTA_ACTIVATION=required, as `wrangler dev --var` would set it. */
function otaRequired(deviceId: string, path = "/supie/ota/") {
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const req = new Request(new URL(path, BASE), { method: "POST", headers: { "device-id": deviceId, "user-agent": "esp-box/1.6.0" }, body: "{}" });
  return Promise.resolve(app.fetch(req, { ...env, ...REQUIRED } as Env, ctx)).then(async (res) => {
    await Promise.all(pending);
    return res;
  });
}

const otaBody = async (id: string) => (await (await otaRequired(id)).json()) as Json;
const pendingList = async () => ((await (await api("/activations")).json()) as Json).items as Json[];
const activate = (code: unknown) => api("/activations", { method: "POST", body: JSON.stringify({ code }) });
const stubOf = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));

describe("activation by code", () => {
  it("lists the pending code, keeps it across OTA checks, binds by code alone, then forgets it", async () => {
    const id = uniqueId("ac:ac:ac");
    const first = await otaBody(id);
    expect(first.websocket.token).toBe("");
    const code = first.activation.code as string;
    expect(code).toMatch(/^\d{6}$/);
    expect((await otaBody(id)).activation.code).toBe(code);
    const before = Date.now();
    const listed = (await pendingList()).find((p) => p.deviceId === id);
    expect(listed).toEqual({ deviceId: id, code, expiresAt: expect.any(Number) });
    // ACTIVATION_CODE_TTL_S defaults to 600.
    expect(listed!.expiresAt).toBeGreaterThan(before + 590_000);
    expect(listed!.expiresAt).toBeLessThanOrEqual(before + 600_000);
    expect((await otaRequired(id, "/supie/ota/activate")).status).toBe(202);

    const res = await activate(code);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deviceId: id });
    expect((await pendingList()).some((p) => p.deviceId === id)).toBe(false);
    expect((await otaRequired(id, "/supie/ota/activate")).status).toBe(200);
    const after = await otaBody(id);
    expect(after.activation).toBeUndefined();
    expect(after.websocket.token).not.toBe("");
    // Used: a second bind with the same code finds nothing.
    const again = await activate(code);
    expect(again.status).toBe(404);
    expect(((await again.json()) as Json).error.code).toBe("NOT_FOUND");
  });

  it("answers 404 for a code no device shows and 400 for a body without one", async () => {
    const res = await activate("000000");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
    for (const body of [{}, { code: "" }, { code: ["1"] }, { code: "1".repeat(40) }]) {
      const bad = await api("/activations", { method: "POST", body: JSON.stringify(body) });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(((await bad.json()) as Json).error.code).toBe("SCHEMA_INVALID");
    }
  });

  it("gives a device a new code once its code expired; the expired one binds nothing", async () => {
    const id = uniqueId("ac:ac:ac");
    const old = (await otaBody(id)).activation.code as string;
    // Ten minutes later, for the device and for the registry.
    await runInDurableObject(stubOf(id), (o: { session: DeviceSession }) => {
      const a = o.session.store.get<Json>({ key: "activation" })!;
      o.session.store.set({ key: "activation" }, { ...a, expiresAt: Date.now() - 1 });
    });
    await env.FLEET.prepare("UPDATE activations SET expires_at = ? WHERE device_id = ?")
      .bind(Date.now() - 1, id)
      .run();
    expect((await activate(old)).status).toBe(404);
    expect((await api(`/devices/${id}/activate`, { method: "POST", body: JSON.stringify({ code: old }) })).status).toBe(409);
    const fresh = (await otaBody(id)).activation.code as string;
    expect((await pendingList()).filter((p) => p.deviceId === id).map((p) => p.code)).toEqual([fresh]);
    expect((await activate(fresh)).status).toBe(200);
  });

  it("keeps codes unique among pending ones: a code another device holds is refused until it expires", async () => {
    const codes = fleetOf(env.FLEET)!.codes;
    const [a, b] = [uniqueId("ac:ac:ac"), uniqueId("ac:ac:ac")];
    const now = Date.now();
    expect(await codes.claim(a, "424242", now + 60_000, now)).toBe(true);
    expect(await codes.claim(a, "424242", now + 90_000, now)).toBe(true);
    expect(await codes.claim(b, "424242", now + 60_000, now)).toBe(false);
    expect(await codes.holder("424242", now)).toBe(a);
    // Once a's code has expired, b may take it.
    expect(await codes.claim(b, "424242", now + 200_000, now + 100_000)).toBe(true);
    expect(await codes.holder("424242", now + 100_000)).toBe(b);
  });

  it("binds through POST /api/devices/:id/activate too, and the code leaves the pending list", async () => {
    const id = uniqueId("ac:ac:ac");
    const code = (await otaBody(id)).activation.code as string;
    expect((await api(`/devices/${id}/activate`, { method: "POST", body: JSON.stringify({ code }) })).status).toBe(200);
    expect((await pendingList()).some((p) => p.deviceId === id)).toBe(false);
    expect((await activate(code)).status).toBe(404);
  });
});
