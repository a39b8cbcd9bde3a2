import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { inboxOf } from "../../src/peer/delivery.ts";
import { api, connectDevice, eventually, uniqueId, type Json, type TestSocket } from "./helpers.ts";

// After a deploy, a hibernated object's sockets stay open and its next event runs the new code
// (docs/deploy.md). Such a socket carries the version that accepted it in its attachment; the new
// version closes it with 1012 at its first quiet moment, and the device reconnects into a session
// of the new version. Here the "older version" is an attachment whose marker we rewrite, and the
// deploy is an eviction: the socket stays, the next event builds a new instance.

function stubOf(id: string) {
  return env.DEVICE.get(env.DEVICE.idFromName(id));
}

const build = () => (env as unknown as { CF_VERSION_METADATA: { id: string } }).CF_VERSION_METADATA.id;

/** Rewrites the version marker of the device's sockets, as an older deployed version wrote it. */
async function acceptedByOlderVersion(id: string): Promise<void> {
  await runInDurableObject(stubOf(id), (instance) => {
    for (const c of instance.session.sockets()) {
      c.state.build = "an-older-version";
      c.save();
    }
  });
}

async function builds(id: string): Promise<string[]> {
  return runInDurableObject(stubOf(id), (instance) =>
    instance.session
      .sockets()
      .filter((c) => c.open)
      .map((c) => c.state.build),
  );
}

/** Runs the object's alarm until the socket closes (or a few tries pass); the close it saw. */
async function alarmUntilClosed(id: string, sock: TestSocket) {
  return eventually(
    async () => {
      await runDurableObjectAlarm(stubOf(id));
      return sock.closeEvent;
    },
    (e) => e !== undefined,
    50,
  );
}

describe("sockets that outlive a deploy", () => {
  it("marks each socket with the deployed version that accepted it", async () => {
    expect(build()).toMatch(/^[0-9a-f-]{36}$/);
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    expect(await builds(id)).toEqual([build()]);
    sock.close();
  });

  it("closes a socket of an older version with 1012 at the new version's first event; the device reconnects into the new version", async () => {
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    await acceptedByOlderVersion(id);
    await evictDurableObject(stubOf(id));
    // The new instance's first event (the device's next frame, or a call from its group) plans the
    // close; the alarm that follows at once closes the quiet socket.
    if (!sock.closeEvent) sock.send({ type: "ping", seq: 1 });
    expect(await alarmUntilClosed(id, sock)).toEqual({ code: 1012, reason: "server restarting" });

    const again = await connectDevice(id);
    expect(await builds(id)).toEqual([build()]);
    await runDurableObjectAlarm(stubOf(id));
    expect(await again.sock.request({ type: "ping", seq: 2 }, "pong")).toMatchObject({ type: "pong" });
    expect(again.sock.closeEvent).toBeUndefined();
    again.sock.close();
  });

  it("waits until the device stops listening", async () => {
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    sock.send({ type: "listen", state: "start", mode: "manual" });
    await eventually(
      () => runInDurableObject(stubOf(id), (i) => i.session.sockets()[0]?.state.listen),
      (l) => l === "listening",
    );
    await acceptedByOlderVersion(id);
    await evictDurableObject(stubOf(id));
    expect(await sock.request({ type: "ping", seq: 1 }, "pong")).toMatchObject({ type: "pong" });
    await runDurableObjectAlarm(stubOf(id));
    expect(sock.closeEvent).toBeUndefined();
    expect(await sock.request({ type: "ping", seq: 2 }, "pong")).toMatchObject({ type: "pong" });

    sock.send({ type: "listen", state: "stop" });
    expect(await alarmUntilClosed(id, sock)).toEqual({ code: 1012, reason: "server restarting" });
  });

  it("leaves sockets of the running version alone across hibernation", async () => {
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    await evictDurableObject(stubOf(id));
    expect(await sock.request({ type: "ping", seq: 1 }, "pong")).toMatchObject({ type: "pong" });
    await runDurableObjectAlarm(stubOf(id));
    expect(await sock.request({ type: "ping", seq: 2 }, "pong")).toMatchObject({ type: "pong" });
    expect(sock.closeEvent).toBeUndefined();
    sock.close();
  });
});

describe("the offline inbox when a drain is cut short", () => {
  const peerMessages = (sock: TestSocket) => sock.received.filter((m) => m.type === "peer" && m.event === "message");

  it("delivers a drain again when its socket did not outlive it, same ids; once one did, never again", async () => {
    const id = uniqueId("cc:dd:ee");
    for (let n = 0; n < 3; n++) {
      const res = await api(`/devices/${id}/messages`, { method: "POST", body: JSON.stringify({ category: "chat", payload: { n } }) });
      expect(((await res.json()) as Json).enqueued).toEqual([id]);
    }
    const first = await connectDevice(id);
    const drained = await eventually(
      async () => peerMessages(first.sock),
      (m) => m.length === 3,
    );
    expect(drained.every((m) => m.redelivery === true)).toBe(true);
    // The socket is gone before the drain is confirmed, and not by a normal close (a deploy's reset
    // never reaches the object at all): the rows stay in flight.
    first.sock.close(4001);
    await first.sock.closed();
    expect(await runInDurableObject(stubOf(id), (i) => inboxOf(i.session).inFlight())).toBe(3);

    const second = await connectDevice(id);
    const again = await eventually(
      async () => peerMessages(second.sock),
      (m) => m.length === 3,
    );
    expect(again.map((m) => m.id)).toEqual(drained.map((m) => m.id));
    // This socket outlives its drain: the rows go, and the next connection gets nothing again.
    const left = await eventually(
      () => runInDurableObject(stubOf(id), (i) => inboxOf(i.session).inFlight()),
      (n) => n === 0,
    );
    expect(left).toBe(0);
    second.sock.close();
  });

  it("a normal close after the drain confirms it: the next connection gets nothing again", async () => {
    const id = uniqueId("cc:dd:ef");
    const res = await api(`/devices/${id}/messages`, { method: "POST", body: JSON.stringify({ category: "chat", payload: { n: 1 } }) });
    expect(((await res.json()) as Json).enqueued).toEqual([id]);
    const first = await connectDevice(id);
    await eventually(
      async () => peerMessages(first.sock),
      (m) => m.length === 1,
    );
    first.sock.close(1000);
    await first.sock.closed();
    expect(await runInDurableObject(stubOf(id), (i) => inboxOf(i.session).inFlight())).toBe(0);
    const second = await connectDevice(id);
    await second.sock.request({ type: "keepalive" }, "pong");
    expect(peerMessages(second.sock)).toEqual([]);
    second.sock.close();
    const third = await connectDevice(id);
    await third.sock.request({ type: "ping", seq: 1 }, "pong");
    expect(peerMessages(third.sock)).toEqual([]);
    third.sock.close();
  });
});
