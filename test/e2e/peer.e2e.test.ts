import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceClient, type Json } from "../../scripts/lib/device-client.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

const id = (group: string, n: number) => `${group}:${n.toString(16).padStart(2, "0")}:00:00`;

describe("offline inbox across a server restart", () => {
  it("delivers a message queued before the restart after the target's next hello", async () => {
    const dir = mkdtempSync(join(tmpdir(), "supie-inbox-"));
    try {
      const first = await startDevServer({ persistTo: dir });
      let receiptId = "";
      try {
        const sender = await DeviceClient.connect({ baseUrl: first.url, deviceId: id("11:22:33", 1) });
        const receipt = await sender.request({ type: "peer", id: "r1", to: [id("11:22:33", 2)], payload: { text: "see you" } });
        expect(receipt).toMatchObject({ event: "receipt", enqueued: [id("11:22:33", 2)] });
        receiptId = String(receipt.id);
        await sender.close();
      } finally {
        await first.stop();
      }
      const second = await startDevServer({ persistTo: dir });
      try {
        const target = await DeviceClient.connect({ baseUrl: second.url, deviceId: id("11:22:33", 2) });
        const msg = await target.next((m) => m.type === "peer");
        expect(msg).toMatchObject({ id: receiptId, redelivery: true, from: id("11:22:33", 1), payload: { text: "see you" } });
        expect(target.received[0]?.type).toBe("hello");
        await target.close();
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("exactly once under load", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("1,000 messages from 10 senders to 10 offline devices arrive exactly once after reconnect", async () => {
    const senders = await Promise.all(Array.from({ length: 10 }, (_, i) => DeviceClient.connect({ baseUrl: server.url, deviceId: id("44:55:66", i) })));
    const targets = Array.from({ length: 10 }, (_, i) => id("44:55:66", 100 + i));
    const expected = new Map<string, Set<string>>(targets.map((t) => [t, new Set()]));

    await Promise.all(
      senders.map(async (s) => {
        const receipts: Promise<Json>[] = [];
        for (let k = 0; k < 100; k++) {
          const ref = `${s.deviceId}#${k}`;
          receipts.push(s.next((m) => m.event === "receipt" && m.ref === ref, 60_000));
          s.send({ type: "peer", id: ref, to: [targets[k % 10]], payload: { k } });
        }
        for (const r of await Promise.all(receipts)) {
          expect(r.failed).toEqual([]);
          const t = String((r.enqueued as string[])[0]);
          expected.get(t)!.add(String(r.id));
        }
      }),
    );
    for (const t of targets) expect(expected.get(t)!.size).toBe(100);

    const clients = await Promise.all(targets.map((t) => DeviceClient.connect({ baseUrl: server.url, deviceId: t })));
    for (const c of clients) {
      const ids: string[] = [];
      while (ids.length < 100) ids.push(String((await c.next((m) => m.type === "peer" && m.event === "message", 30_000)).id));
      expect(new Set(ids).size).toBe(100);
      expect(new Set(ids)).toEqual(expected.get(c.deviceId));
      // Ask again: nothing is delivered twice.
      await c.close();
      const again = await DeviceClient.connect({ baseUrl: server.url, deviceId: c.deviceId });
      expect(await again.request({ type: "ping", x: 1 }, "pong")).toMatchObject({ type: "pong" });
      expect(again.received.filter((m) => m.type === "peer")).toEqual([]);
      await again.close();
    }
    // Every sender hears how many of its messages each target received.
    for (const s of senders) {
      let total = 0;
      while (total < 100) total += Number((await s.next((m) => m.event === "redelivered", 30_000)).count);
      expect(total).toBe(100);
      await s.close();
    }
  });
});
