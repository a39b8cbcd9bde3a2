import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../src/index.ts";
import { BASE, api, connectDevice, eventually, fetchWorker, uniqueId, type Json } from "./helpers.ts";

// The fleet registry (PROTOCOL §11) in workerd with a real local D1: OTA checks and connects fill
// it, the operator API lists it with filters and a cursor, online flags follow connects and
// disconnects (also across an eviction and a lease that ran out), groups and stats come from it.

const stubOf = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));

function ota(deviceId: string, opts: { body?: unknown; ua?: string; ip?: string } = {}) {
  return fetchWorker("/supie/ota/", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "device-id": deviceId,
      "user-agent": opts.ua ?? "esp-box/1.6.0",
      "cf-connecting-ip": opts.ip ?? "203.0.113.7",
    },
    body: JSON.stringify(opts.body ?? {}),
  });
}

/** An OTA check with LOG_LEVEL=warn: thousands of `ota.check` lines would only slow the test down. */
function otaQuiet(deviceId: string, ip: string) {
  const req = new Request(new URL("/supie/ota/", BASE), {
    method: "POST",
    headers: { "device-id": deviceId, "user-agent": "esp-box/1.6.0", "cf-connecting-ip": ip },
    body: "{}",
  });
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  return Promise.resolve(app.fetch(req, { ...env, LOG_LEVEL: "warn" } as Env, ctx)).then(async (res) => {
    await Promise.all(pending);
    return res;
  });
}

async function list(query = ""): Promise<{ items: Json[]; nextCursor: string | null }> {
  const res = await api(`/devices${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { items: Json[]; nextCursor: string | null };
}

/** The registry's row for one device, through the list's id-prefix search. */
async function row(id: string): Promise<Json | undefined> {
  return (await list(`?q=${encodeURIComponent(id)}`)).items.find((d) => d.deviceId === id);
}

const isOnline = (id: string, want: boolean) =>
  eventually(
    () => row(id),
    (r) => r?.online === want,
  );

describe("registry rows", () => {
  it("records an OTA check with board, firmware, alias and group, offline until it connects", async () => {
    const id = uniqueId("0f:0f:0f");
    const before = Date.now();
    expect((await ota(id, { body: { application: { version: "2.1.0" }, board: { type: "supie-badge-v2" } } })).status).toBe(200);
    const r = await eventually(() => row(id), Boolean);
    expect(r).toEqual({
      deviceId: id,
      alias: null,
      groupKey: id.slice(0, 8),
      online: false,
      lastSeen: expect.any(Number),
      mode: null,
      board: "supie-badge-v2",
      firmware: "2.1.0",
    });
    expect(r!.lastSeen).toBeGreaterThanOrEqual(before);
  });

  it("falls back to the User-Agent for board and firmware, and takes aliases and groups from the settings", async () => {
    await ota("AA:BB:CC:00:00:AA", { body: "not an object", ua: "lichuang-dev/1.9.2" });
    expect(await eventually(() => row("aa:bb:cc:00:00:aa"), Boolean)).toMatchObject({ alias: "Alice", board: "lichuang-dev", firmware: "1.9.2" });
    await ota("cc:cc:cc:00:00:01");
    expect(await eventually(() => row("cc:cc:cc:00:00:01"), Boolean)).toMatchObject({ groupKey: "team-x", alias: null });
  });

  it("follows connects, mode changes, handovers and disconnects within moments", async () => {
    const id = uniqueId("0e:0e:0e");
    const a = await connectDevice(id);
    const on = await isOnline(id, true);
    expect(on).toMatchObject({ online: true, mode: null, board: null, firmware: null });
    await a.sock.request({ type: "mode", state: "start", mode: "working" });
    expect(
      await eventually(
        () => row(id),
        (r) => r?.mode === "working",
      ),
    ).toMatchObject({ mode: "working", online: true });
    // A second socket takes over; the first closes 1.5 s later and the device stays online.
    const b = await connectDevice(id);
    await a.sock.closed();
    expect(await row(id)).toMatchObject({ online: true });
    const seen = (await row(id))!.lastSeen as number;
    b.sock.close();
    const off = await isOnline(id, false);
    expect(off).toMatchObject({ online: false, mode: "working" });
    expect(off!.lastSeen).toBeGreaterThanOrEqual(seen);
  });

  it("keeps a device online across an eviction (its hibernated socket stays open) and offline after it closes", async () => {
    const id = uniqueId("0d:0d:0d");
    const { sock } = await connectDevice(id);
    await isOnline(id, true);
    await evictDurableObject(stubOf(id));
    expect(await sock.request({ type: "ping" }, "pong")).toMatchObject({ type: "pong" });
    expect(await row(id)).toMatchObject({ online: true });
    sock.close();
    expect(await isOnline(id, false)).toMatchObject({ online: false });
  });

  it("ends an online row whose lease ran out (an object reset left it behind) and renews the lease while connected", async () => {
    const ghost = uniqueId("0c:0c:0c");
    await ota(ghost);
    await eventually(() => row(ghost), Boolean);
    await env.FLEET.prepare("UPDATE devices SET online = 1, lease_until = ? WHERE device_id = ?")
      .bind(Date.now() - 1, ghost)
      .run();
    expect(await row(ghost)).toMatchObject({ online: false });

    const id = uniqueId("0c:0c:0c");
    const { sock } = await connectDevice(id);
    await isOnline(id, true);
    const lease = async () =>
      (await env.FLEET.prepare("SELECT lease_until FROM devices WHERE device_id = ?").bind(id).first<{ lease_until: number }>())!.lease_until;
    const first = await lease();
    await env.FLEET.prepare("UPDATE devices SET lease_until = ? WHERE device_id = ?")
      .bind(Date.now() + 5, id)
      .run();
    // The renewal timer, brought forward: the alarm writes a fresh lease.
    await runInDurableObject(stubOf(id), (o: { session: { timers: { set(n: string, d: number): void } } }) => o.session.timers.set("fleet:lease", Date.now()));
    await runDurableObjectAlarm(stubOf(id));
    expect(await eventually(lease, (l) => l >= first)).toBeGreaterThanOrEqual(first);
    expect(await row(id)).toMatchObject({ online: true });
    sock.close();
  });

  it("shows lastSeen from the registry in GET /api/devices/:id", async () => {
    const id = uniqueId("0b:0b:0b");
    await ota(id);
    const r = await eventually(() => row(id), Boolean);
    expect(await (await api(`/devices/${id}`)).json()).toMatchObject({ deviceId: id, online: false, lastSeen: r!.lastSeen });
  });
});

describe("GET /api/devices", () => {
  it("filters by online, group and a case-insensitive id or alias prefix", async () => {
    const g = "0a:0a:0a";
    const [on, off] = [uniqueId(g), uniqueId(g)];
    await ota(off);
    const { sock } = await connectDevice(on);
    await isOnline(on, true);
    await eventually(() => row(off), Boolean);
    const ids = (items: Json[]) => items.map((d) => d.deviceId);
    expect(ids((await list(`?group=${g}&online=true`)).items)).toEqual([on]);
    expect(ids((await list(`?group=${g.toUpperCase()}&online=false`)).items)).toEqual([off]);
    expect(ids((await list(`?q=${on.slice(0, 11).toUpperCase()}&group=${g}`)).items)).toContain(on);
    await api(`/devices/${off}/profile`, { method: "PUT", body: JSON.stringify({ alias: "Kitchen Badge" }) });
    expect(
      ids(
        (
          await eventually(
            () => list("?q=kitchen"),
            (l) => l.items.length > 0,
          )
        ).items,
      ),
    ).toEqual([off]);
    expect((await list("?q=KITCHEN%20B")).items[0]).toMatchObject({ deviceId: off, alias: "Kitchen Badge" });
    expect((await list("?q=zz-nothing")).items).toEqual([]);
    sock.close();
  });

  it("answers bad query parameters with 400 INVALID_REQUEST", async () => {
    for (const q of [
      "?online=maybe",
      "?group=bad!key",
      "?cursor=%%%",
      "?cursor=bm90LWEtY3Vyc29y",
      "?limit=abc",
      "?limit=0",
      "?limit=501",
      `?q=${"x".repeat(65)}`,
    ]) {
      const res = await api(`/devices${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as Json).error.code, q).toBe("INVALID_REQUEST");
    }
  });

  it("pages through 10,000 devices without duplicates or gaps, while devices come and go", { timeout: 120_000 }, async () => {
    const n = 10_000;
    const ids = Array.from(
      { length: n },
      (_, i) => `f1:${(i >> 16).toString(16).padStart(2, "0")}:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`,
    );
    const t0 = Date.now();
    // As a fleet arrives: OTA checks from many client addresses (they are rate-limited per address).
    for (let i = 0; i < n; i += 50) {
      const res = await Promise.all(ids.slice(i, i + 50).map((id, k) => otaQuiet(id, `198.51.${(i + k) >> 8}.${(i + k) & 0xff}`)));
      expect(res.every((r) => r.status === 200)).toBe(true);
    }
    await eventually(
      async () => (await env.FLEET.prepare("SELECT COUNT(*) AS n FROM devices WHERE device_id LIKE 'f1:%'").first<{ n: number }>())!.n,
      (c) => c === n,
      2000,
    );
    // Many devices share a lastSeen: the id breaks the ties.
    await env.FLEET.prepare("UPDATE devices SET last_seen = ? + (rowid % 37) WHERE device_id LIKE 'f1:%'")
      .bind(t0 - 1000)
      .run();

    const walk = async (limit: number, during?: (page: number) => Promise<void>) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let page = 0;
      do {
        const body = await list(`?q=f1:&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(body).toHaveProperty("nextCursor");
        seen.push(...body.items.map((d) => d.deviceId as string));
        cursor = body.nextCursor;
        await during?.(page++);
      } while (cursor);
      return seen;
    };
    const all = await walk(500);
    expect(all).toHaveLength(n);
    expect(new Set(all).size).toBe(n);
    expect([...all].sort()).toEqual([...ids].sort());

    // Devices coming and going mid-walk (new ones, old ones seen again) move to the head of the
    // list: the walk in progress never sees an item twice and misses none that stayed put.
    const moved = new Set<string>();
    const seen = await walk(250, async (page) => {
      if (page % 5 !== 2) return;
      const fresh = `f1:ff:ff:${page.toString(16).padStart(2, "0")}`;
      await otaQuiet(fresh, "192.0.2.1");
      const back = ids[(page * 997) % n]!;
      moved.add(back);
      await otaQuiet(back, "192.0.2.1");
    });
    expect(new Set(seen).size).toBe(seen.length);
    const stayed = ids.filter((id) => !moved.has(id));
    const got = new Set(seen);
    expect(stayed.filter((id) => !got.has(id))).toEqual([]);
  });
});

describe("groups", () => {
  it("lists every group with member and online counts, default and configured groups alike", async () => {
    const g = "09:09:09";
    const [a, b] = [uniqueId(g), uniqueId(g)];
    await ota(b);
    await ota("cc:cc:cc:00:00:01");
    const { sock } = await connectDevice(a);
    await isOnline(a, true);
    await eventually(() => row(b), Boolean);
    const items = ((await (await api("/groups")).json()) as Json).items as Json[];
    expect(items.find((x) => x.key === g)).toEqual({ key: g, members: 2, online: 1 });
    expect(items.find((x) => x.key === "team-x")).toMatchObject({ key: "team-x", members: 1 });
    expect(items.map((x) => x.key)).toEqual([...items.map((x) => x.key)].sort());
    sock.close();
  });

  it("answers GET /api/groups/:key/devices from the registry, without asking the members' objects", async () => {
    // A row the registry holds for a device whose object never ran: only the registry can list it.
    const g = "08:08:08";
    const id = uniqueId(g);
    await ota(id);
    await eventually(() => row(id), Boolean);
    await env.FLEET.prepare("UPDATE devices SET online = 1, lease_until = ?, since = 42 WHERE device_id = ?")
      .bind(Date.now() + 60_000, id)
      .run();
    const body = (await (await api(`/groups/${g}/devices`)).json()) as Json;
    expect(body).toEqual({ groupKey: g, devices: [{ deviceId: id, name: id, since: 42 }], count: 1 });
  });
});
