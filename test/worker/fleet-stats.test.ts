import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { fleetOf } from "../../src/fleet/fleet.ts";
import { api, connectDevice, eventually, fetchWorker, uniqueId, type Json } from "./helpers.ts";

// GET /api/stats on a registry of its own (storage is per test file), so every count is exact.

const stats = async () => (await (await api("/stats")).json()) as Json;

function ota(deviceId: string) {
  return fetchWorker("/supie/ota/", { method: "POST", headers: { "device-id": deviceId, "user-agent": "esp-box/1.6.0" }, body: "{}" });
}

/** An index entry of the meeting archive, as archiving a meeting started at `startedAt` writes it. */
const meetingIndexKey = (startedAt: number, n: number) => `index/all/${String(9_999_999_999_999 - startedAt).padStart(13, "0")}-m-20260101-000000000${n}`;

describe("GET /api/stats", () => {
  it("starts empty", async () => {
    expect(await stats()).toEqual({
      devices: { known: 0, online: 0 },
      groups: 0,
      inbox: { queued: 0 },
      meetings: { last24h: 0 },
      voice: { turnsLastHour: 0, firstFrameP50Ms: null },
    });
  });

  it("counts known and online devices, groups, queued messages, recent meetings and voice turns", async () => {
    const g = "07:07:07";
    const [sender, target] = [uniqueId(g), uniqueId(g)];
    await ota(target);
    await ota(uniqueId("06:06:06"));
    const { sock } = await connectDevice(sender);
    for (let i = 0; i < 3; i++) expect(await sock.request({ type: "peer", to: [target], payload: { i } })).toMatchObject({ enqueued: [target] });
    const now = Date.now();
    for (const ms of [300, 100, 200, null]) await fleetOf(env.FLEET)!.turns.record(sender, now, ms);
    await fleetOf(env.FLEET)!.turns.record(sender, now - 2 * 3_600_000, 5);
    await env.ARCHIVE.put(meetingIndexKey(now - 1000, 1), "");
    await env.ARCHIVE.put(meetingIndexKey(now - 2 * 86_400_000, 2), "");
    const s = await eventually(stats, (x) => x.inbox.queued === 3 && x.devices.online === 1 && x.devices.known === 3);
    expect(s).toEqual({
      devices: { known: 3, online: 1 },
      groups: 2,
      inbox: { queued: 3 },
      meetings: { last24h: 1 },
      voice: { turnsLastHour: 4, firstFrameP50Ms: 200 },
    });
    sock.close();
    // The target connects: its inbox is delivered and the count drops to 0.
    const t = await connectDevice(target);
    expect(await eventually(stats, (x) => x.inbox.queued === 0 && x.devices.online === 1)).toMatchObject({ inbox: { queued: 0 }, devices: { online: 1 } });
    t.sock.close();
    expect(await eventually(stats, (x) => x.devices.online === 0)).toMatchObject({ devices: { known: 3, online: 0 } });
  });
});
