import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PeerEnvelope, PeerReceipt } from "../../src/peer/messages.ts";
import { api, connectDevice, eventually, joined, uniqueId, type Json, type TestSocket } from "./helpers.ts";

// Devices aa:bb:cc:* share the group "aa:bb:cc" (first 8 characters of the id).

const deviceStub = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));

async function send(sock: TestSocket, msg: Json): Promise<Json> {
  const p = sock.next((m) => m.type === "peer" && (m.event === "receipt" || m.status === "error"));
  sock.send({ type: "peer", ...msg });
  return p;
}

describe("peer messages between online devices", () => {
  it("delivers with sender, name, category and a receipt", async () => {
    const a = await connectDevice(uniqueId());
    const bId = uniqueId();
    const b = await connectDevice(bId);
    const receipt = await send(a.sock, { id: "ref-1", to: [` ${bId.toUpperCase()} `, bId], category: " Chat ", payload: { text: "hi" } });
    expect(PeerReceipt.parse(receipt)).toMatchObject({ status: "ok", ref: "ref-1", delivered: [bId], enqueued: [], failed: [] });
    const got = await b.sock.next((m) => m.type === "peer");
    expect(PeerEnvelope.parse(got)).toMatchObject({
      event: "message",
      id: receipt.id,
      from: a.hello.device_id,
      fromName: a.hello.device_id,
      category: "chat",
      payload: { text: "hi" },
    });
    expect(got.redelivery).toBeUndefined();
    a.sock.close();
    b.sock.close();
  });

  it("reports invalid and unauthorized targets, and validates the frame", async () => {
    const a = await connectDevice(uniqueId());
    const r = await send(a.sock, { to: ["not a device!", "dd:dd:dd:00:00:01", "group:other"], payload: {} });
    expect(r.failed).toEqual(
      expect.arrayContaining([
        { id: "not a device!", code: "INVALID_TARGET" },
        { id: "dd:dd:dd:00:00:01", code: "UNAUTHORIZED" },
        { id: "group:other", code: "UNAUTHORIZED" },
      ]),
    );
    const bad = await a.sock.request({ type: "peer", payload: { x: 1 } }, "peer");
    expect(bad).toMatchObject({ status: "error", code: "SCHEMA_INVALID", message: "missing: to" });
    const bad2 = await a.sock.request({ type: "peer", to: ["x"], payload: "text" }, "peer");
    expect(bad2).toMatchObject({ code: "SCHEMA_INVALID", message: expect.stringContaining("payload") });
    a.sock.close();
  });
});

describe("offline inbox", () => {
  it("queues for an offline device, delivers after its hello oldest first, tells the sender", async () => {
    const a = await connectDevice(uniqueId());
    const cId = uniqueId();
    const r1 = await send(a.sock, { to: [cId], payload: { n: 1 } });
    const r2 = await send(a.sock, { to: [cId], payload: { n: 2 } });
    expect(r1.enqueued).toEqual([cId]);
    expect(r2.enqueued).toEqual([cId]);
    const info = (await (await api(`/devices/${cId}`)).json()) as Json;
    expect(info.inbox).toBe(2);

    const c = await connectDevice(cId);
    const first = await c.sock.next((m) => m.type === "peer");
    const second = await c.sock.next((m) => m.type === "peer");
    expect([first.payload.n, second.payload.n]).toEqual([1, 2]);
    expect(first).toMatchObject({ redelivery: true, id: r1.id });
    // The inbox comes right after the hello reply.
    expect(c.sock.received.indexOf(c.hello)).toBe(0);
    expect(await a.sock.next((m) => m.event === "redelivered")).toEqual({ type: "peer", event: "redelivered", to: cId, count: 2 });
    expect(((await (await api(`/devices/${cId}`)).json()) as Json).inbox).toBe(0);
    a.sock.close();
    c.sock.close();
  });

  it("keeps the redelivered count for an offline sender until its next hello", async () => {
    const aId = uniqueId();
    const a = await connectDevice(aId);
    const cId = uniqueId();
    await send(a.sock, { to: [cId], payload: { t: "x" } });
    a.sock.close();
    await a.sock.closed();
    const c = await connectDevice(cId);
    await c.sock.next((m) => m.type === "peer");
    await eventually(
      () =>
        runInDurableObject(
          deviceStub(aId),
          (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inbox WHERE kind = 'notice'").one().n,
        ),
      (n) => n === 1,
    );
    const again = await connectDevice(aId);
    expect(await again.sock.next((m) => m.event === "redelivered")).toMatchObject({ to: cId, count: 1 });
    again.sock.close();
    c.sock.close();
  });

  it("refuses beyond PEER_INBOX_MAX with QUEUE_FULL, dropping nothing silently", async () => {
    const a = await connectDevice(uniqueId());
    const cId = uniqueId();
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await send(a.sock, { to: [cId], payload: { i } });
      outcomes.push(r.enqueued.length ? "enqueued" : r.failed[0]?.code);
    }
    expect(outcomes).toEqual(["enqueued", "enqueued", "enqueued", "enqueued", "enqueued", "QUEUE_FULL", "QUEUE_FULL"]);
    const c = await connectDevice(cId);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await c.sock.next((m) => m.type === "peer")).payload.i);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    a.sock.close();
    c.sock.close();
  });

  it("drops messages past their TTL", async () => {
    const a = await connectDevice(uniqueId());
    const cId = uniqueId();
    await send(a.sock, { to: [cId], payload: { old: true } });
    await runInDurableObject(deviceStub(cId), (_i, state) => state.storage.sql.exec("UPDATE inbox SET expires_at = 1"));
    await send(a.sock, { to: [cId], payload: { old: false } });
    const c = await connectDevice(cId);
    expect((await c.sock.next((m) => m.type === "peer")).payload).toEqual({ old: false });
    expect(c.sock.received.filter((m) => m.type === "peer")).toHaveLength(1);
    a.sock.close();
    c.sock.close();
  });

  it("survives eviction of the target", async () => {
    const a = await connectDevice(uniqueId());
    const cId = uniqueId();
    await send(a.sock, { to: [cId], payload: { kept: 1 } });
    await evictDurableObject(deviceStub(cId));
    const c = await connectDevice(cId);
    expect((await c.sock.next((m) => m.type === "peer")).payload).toEqual({ kept: 1 });
    a.sock.close();
    c.sock.close();
  });

  it("sends messages during a handover to the new socket, exactly once", async () => {
    const a = await connectDevice(uniqueId());
    const bId = uniqueId();
    const old = await connectDevice(bId);
    const fresh = await connectDevice(bId);
    for (let i = 0; i < 5; i++) await send(a.sock, { to: [bId], payload: { i } });
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await fresh.sock.next((m) => m.type === "peer")).payload.i);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    await old.sock.closed();
    expect(old.sock.received.filter((m) => m.type === "peer")).toHaveLength(0);
    a.sock.close();
    fresh.sock.close();
  });
});

describe("groups, presence and broadcast", () => {
  it("lists online members and follows connects, handovers and disconnects", async () => {
    const id = uniqueId("ee:ee:ee");
    const list = async () => ((await (await api("/groups/ee:ee:ee/devices")).json()) as Json).devices.map((d: Json) => d.deviceId);
    const a = await connectDevice(id);
    expect(await eventually(list, (l) => l.includes(id))).toContain(id);
    const b = await connectDevice(id);
    await a.sock.closed();
    expect(await list()).toContain(id);
    b.sock.close();
    expect(await eventually(list, (l) => !l.includes(id))).not.toContain(id);
  });

  it("broadcasts to the sender's group (queueing for offline members) at most once per interval", async () => {
    const ids = [uniqueId("bb:bb:bb"), uniqueId("bb:bb:bb"), uniqueId("bb:bb:bb")];
    const [a, b] = [await connectDevice(ids[0]!), await connectDevice(ids[1]!)];
    const c = await connectDevice(ids[2]!);
    c.sock.close();
    await c.sock.closed();
    await eventually(
      async () => ((await (await api("/groups/bb:bb:bb/devices")).json()) as Json).count,
      (n) => n === 2,
    );
    const r = await send(a.sock, { to: ["broadcast"], payload: { all: true } });
    expect(r.delivered).toEqual([ids[1]]);
    expect(r.enqueued).toEqual([ids[2]]);
    expect((await b.sock.next((m) => m.type === "peer")).payload).toEqual({ all: true });
    const limited = await send(a.sock, { to: ["broadcast"], payload: { again: true } });
    expect(limited).toMatchObject({ type: "peer", status: "error", code: "RATE_LIMITED", retryAfterMs: expect.any(Number) });
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    a.sock.close();
    b.sock.close();
  });
});

describe("ids that name Object.prototype's members (PROTOCOL §10)", () => {
  it("constructor, __proto__ and prototype join their group, send, receive and are described like any id", async () => {
    for (const id of ["constructor", "__proto__", "prototype"]) {
      const key = id.slice(0, 8);
      const peerId = `${key}:01`;
      const target = await connectDevice(id);
      expect(target.hello.device_id).toBe(id);
      const other = await connectDevice(peerId);
      await joined(key, [id, peerId]);
      const direct = await send(other.sock, { to: [id], payload: { n: 1 } });
      expect(direct, id).toMatchObject({ status: "ok", delivered: [id], enqueued: [], failed: [] });
      expect(await target.sock.next((m) => m.type === "peer" && m.event === "message"), id).toMatchObject({ from: peerId, payload: { n: 1 } });
      const group = await send(other.sock, { to: [`group:${key}`], payload: { n: 2 } });
      expect(group.delivered, id).toEqual([id]);
      expect((await target.sock.next((m) => m.type === "peer" && m.event === "message" && m.payload?.n === 2)).from).toBe(peerId);
      const back = await send(target.sock, { to: [peerId], payload: { n: 3 } });
      expect(back.delivered, id).toEqual([peerId]);
      expect(await other.sock.next((m) => m.type === "peer" && m.event === "message"), id).toMatchObject({ from: id, payload: { n: 3 } });
      const res = await api(`/devices/${id}`);
      expect(res.status, id).toBe(200);
      expect(await res.json(), id).toMatchObject({ deviceId: id, online: true, groupKey: key });
      const op = await api(`/devices/${id}/messages`, { method: "POST", body: JSON.stringify({ payload: { n: 4 } }) });
      expect(await op.json(), id).toMatchObject({ event: "receipt", delivered: [id] });
      target.sock.close();
      other.sock.close();
    }
  });
});

describe("operator API", () => {
  it("POST /api/devices/:id/messages answers with the receipt", async () => {
    const bId = uniqueId();
    const b = await connectDevice(bId);
    const res = await api(`/devices/${bId}/messages`, { method: "POST", body: JSON.stringify({ category: "Alert", payload: { text: "fire drill" } }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ event: "receipt", delivered: [bId] });
    expect(await b.sock.next((m) => m.type === "peer")).toMatchObject({ from: "operator", category: "alert" });
    const bad = await api(`/devices/${bId}/messages`, { method: "POST", body: JSON.stringify({ category: "x" }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "SCHEMA_INVALID", message: "missing: payload" } });
    b.sock.close();
  });
});
