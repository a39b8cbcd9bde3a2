import { env } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { WorkflowSnapshot } from "../../src/workflow/messages.ts";
import { api, connectDevice, joined, uniqueId, type Json, type TestSocket } from "./helpers.ts";

// Each test uses its own group prefix so task lists do not mix: the group is the id's first 8 chars.
let groupN = 0;
function group(): string {
  groupN++;
  return `${(0x10 + groupN).toString(16)}:${(0x20 + groupN).toString(16)}:77`;
}

const isSnapshot = (m: Json) => m.type === "workflow" && m.event === "update" && Array.isArray(m.tasks);

async function wf(sock: TestSocket, msg: Json): Promise<Json> {
  const p = sock.next((m) => m.type === "workflow" && (m.status === "ok" || m.status === "error") && m.event !== "command");
  sock.send({ type: "workflow", ...msg });
  return p;
}

/** Waits until every message sent so far has been processed, by a ping round trip. */
async function barrier(sock: TestSocket) {
  await sock.request({ type: "ping", barrier: true }, "pong");
}

describe("task store", () => {
  it("creates tasks with ids, acks, and sends the snapshot; repeating changes nothing", async () => {
    const g = group();
    const a = await connectDevice(uniqueId(g));
    const b = await connectDevice(uniqueId(g));
    await joined(g, [b.hello.device_id]);
    expect(await wf(a.sock, { event: "update", tasks: [{ title: "Write report", priority: 2 }] })).toEqual({ type: "workflow", status: "ok", event: "update" });
    const snap = await a.sock.next(isSnapshot);
    expect(WorkflowSnapshot.parse(snap).groupKey).toBe(g);
    expect(snap.tasks).toEqual([
      {
        id: expect.stringMatching(/^t-/),
        title: "Write report",
        priority: 2,
        status: "open",
        owner: "",
        ownerName: "",
        groupKey: g,
        updatedAt: expect.any(Number),
      },
    ]);
    expect((await b.sock.next(isSnapshot)).tasks).toEqual(snap.tasks);

    const id = snap.tasks[0].id;
    expect(await wf(a.sock, { event: "update", tasks: [{ id, title: "Write report" }] })).toEqual({
      type: "workflow",
      status: "ok",
      event: "update",
      idempotent: true,
    });
    expect(await wf(a.sock, { event: "complete", id })).toEqual({ type: "workflow", status: "ok", event: "complete" });
    expect((await b.sock.next(isSnapshot)).tasks[0].status).toBe("done");
    expect(await wf(a.sock, { event: "complete", ids: [id] })).toMatchObject({ idempotent: true });
    await barrier(b.sock);
    // Only the one real change reached b after the creation.
    expect(b.sock.received.filter(isSnapshot)).toHaveLength(2);
    a.sock.close();
    b.sock.close();
  });

  it("validates with field-precise SCHEMA_INVALID", async () => {
    const a = await connectDevice(uniqueId(group()));
    const cases: Array<[Json, string | RegExp]> = [
      [{ event: "update", tasks: [{ title: "ok" }, { priority: 1 }] }, "missing: tasks[1].title"],
      [{ event: "update", tasks: [{ title: "x", priority: 5 }] }, "invalid: tasks[0].priority (must be integer 0-3)"],
      [{ event: "update", tasks: [{ title: "x", priority: 1.5 }] }, /tasks\[0\]\.priority/],
      [{ event: "update", tasks: [{ title: "x", status: "wip" }] }, /tasks\[0\]\.status/],
      [{ event: "update" }, "missing: tasks"],
      [{ event: "complete", ids: [] }, /ids/],
      [{ event: "delete", ids: [""] }, /ids\[0\]/],
      [{ event: "complete" }, /ids/],
      [{ event: "assign" }, "missing: id"],
      [{ event: "fly" }, /event/],
    ];
    for (const [msg, message] of cases) {
      const r = await wf(a.sock, msg);
      expect(r).toMatchObject({ type: "workflow", status: "error", code: "SCHEMA_INVALID" });
      if (typeof message === "string") expect(r.message).toBe(message);
      else expect(r.message).toMatch(message);
    }
    a.sock.close();
  });

  it("assigns to the sender by default, names owners by alias, deletes", async () => {
    const aliceId = "aa:bb:cc:00:00:aa"; // Alice in DEVICE_ALIASES
    const a = await connectDevice(aliceId);
    await wf(a.sock, { event: "update", groupKey: "alias-test", tasks: [{ id: "t-alias-1", title: "Call supplier" }] });
    expect(await wf(a.sock, { event: "assign", id: "t-alias-1", groupKey: "alias-test" })).toMatchObject({ status: "ok" });
    let snap = await a.sock.next((m) => isSnapshot(m) && m.tasks[0]?.owner === aliceId);
    expect(snap.tasks[0]).toMatchObject({ owner: aliceId, ownerName: "Alice" });
    await wf(a.sock, { event: "assign", id: "t-alias-1", owner: "AA:BB:CC:00:00:BB", groupKey: "alias-test" });
    snap = await a.sock.next((m) => isSnapshot(m) && m.tasks[0]?.owner === "aa:bb:cc:00:00:bb");
    expect(snap.tasks[0].ownerName).toBe("aa:bb:cc:00:00:bb");
    expect(await wf(a.sock, { event: "assign", id: "nope", groupKey: "alias-test" })).toMatchObject({ status: "error", code: "NOT_FOUND" });
    expect(await wf(a.sock, { event: "delete", ids: ["t-alias-1"], groupKey: "alias-test" })).toMatchObject({ status: "ok" });
    expect((await a.sock.next((m) => isSnapshot(m) && m.tasks.length === 0)).tasks).toEqual([]);
    a.sock.close();
  });

  it("puts tasks in task.groupKey > message groupKey > sender's group, and moves tasks between groups", async () => {
    const g = group();
    const a = await connectDevice(uniqueId(g));
    await wf(a.sock, {
      event: "update",
      tasks: [
        { id: "t-home", title: "Home task" },
        { title: "Elsewhere", groupKey: "ops" },
      ],
    });
    const snaps = [await a.sock.next(isSnapshot), await a.sock.next(isSnapshot)];
    expect(snaps.map((s) => s.groupKey).sort()).toEqual([g, "ops"].sort());
    await wf(a.sock, { event: "update", tasks: [{ id: "t-home", groupKey: "ops" }] });
    const after = [await a.sock.next(isSnapshot), await a.sock.next(isSnapshot)];
    const byGroup = Object.fromEntries(after.map((s) => [s.groupKey, s.tasks.map((t: Json) => t.title)]));
    expect(byGroup[g]).toEqual([]);
    expect(byGroup.ops).toEqual(expect.arrayContaining(["Elsewhere", "Home task"]));
    const opsTasks = ((await (await api("/groups/ops/tasks")).json()) as Json).tasks;
    expect(opsTasks.find((t: Json) => t.id === "t-home")).toMatchObject({ groupKey: "ops", title: "Home task" });
    a.sock.close();
  });

  it("keeps tasks across eviction of the group object", async () => {
    const g = group();
    const a = await connectDevice(uniqueId(g));
    await wf(a.sock, { event: "update", tasks: [{ title: "Survive" }] });
    await evictDurableObject(env.GROUP.get(env.GROUP.idFromName(g)));
    await wf(a.sock, { event: "list" });
    expect((await a.sock.next((m) => isSnapshot(m) && m.tasks.length === 1)).tasks[0].title).toBe("Survive");
    a.sock.close();
  });
});

describe("working mode snapshots", () => {
  it("sends the snapshot after the hello reply and on mode start, debounced within 1.5 s", async () => {
    const g = group();
    const id = uniqueId(g);
    const a = await connectDevice(id);
    await wf(a.sock, { event: "update", tasks: [{ title: "On the list" }] });
    await a.sock.next(isSnapshot);
    await a.sock.request({ type: "mode", state: "start", mode: "working" });
    await barrier(a.sock);
    // The update just sent a snapshot, so the mode-start one is skipped.
    expect(a.sock.received.filter(isSnapshot), JSON.stringify(a.sock.received)).toHaveLength(1);
    a.sock.close();
    await a.sock.closed();

    const again = await connectDevice(id);
    const snap = await again.sock.next(isSnapshot);
    expect(snap.tasks.map((t: Json) => t.title)).toEqual(["On the list"]);
    expect(again.sock.received.indexOf(again.hello)).toBe(0);
    await again.sock.request({ type: "mode", state: "end", mode: "working" });
    await again.sock.request({ type: "mode", state: "start", mode: "working" });
    await barrier(again.sock);
    expect(again.sock.received.filter(isSnapshot)).toHaveLength(1);
    again.sock.close();
  });

  it("20 devices updating one group at once lose nothing and end on the same snapshot", async () => {
    const g = group();
    const devices = await Promise.all(Array.from({ length: 20 }, () => connectDevice(uniqueId(g))));
    await joined(
      g,
      devices.map((d) => d.hello.device_id),
    );
    await Promise.all(devices.map((d, i) => wf(d.sock, { event: "update", tasks: [{ title: `Task ${i}` }] })));
    const finals = await Promise.all(
      devices.map(async (d) => {
        await d.sock.next((m) => isSnapshot(m) && m.tasks.length === 20, 10_000);
        await barrier(d.sock);
        const all = d.sock.received.filter(isSnapshot);
        return all[all.length - 1]!.tasks;
      }),
    );
    const titles = finals[0].map((t: Json) => t.title).sort();
    expect(titles).toEqual(Array.from({ length: 20 }, (_, i) => `Task ${i}`).sort());
    for (const f of finals) expect(f).toEqual(finals[0]);
    for (const d of devices) d.sock.close();
  });
});

describe("tasks API", () => {
  it("GET and POST /api/groups/:key/tasks", async () => {
    const g = group();
    const a = await connectDevice(uniqueId(g));
    await joined(g, [a.hello.device_id]);
    const res = await api(`/groups/${g}/tasks`, {
      method: "POST",
      body: JSON.stringify({ tasks: [{ title: "From the dashboard", owner: "AA:BB:CC:00:00:AA" }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ groupKey: g, changed: true, tasks: [{ title: "From the dashboard", owner: "aa:bb:cc:00:00:aa", ownerName: "Alice" }] });
    expect((await a.sock.next(isSnapshot)).tasks[0].title).toBe("From the dashboard");
    const list = (await (await api(`/groups/${g}/tasks`)).json()) as Json;
    expect(list.tasks).toHaveLength(1);
    const bad = await api(`/groups/${g}/tasks`, { method: "POST", body: JSON.stringify({ tasks: [{ priority: 9 }] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error.code).toBe("SCHEMA_INVALID");
    a.sock.close();
  });
});

describe("working-mode commands without the LLM", () => {
  it("claims, completes and refreshes by voice text, in Chinese and English, with ordinals", async () => {
    const g = group();
    const id = uniqueId(g);
    const a = await connectDevice(id);
    await a.sock.request({ type: "mode", state: "start", mode: "working" });
    await wf(a.sock, {
      event: "update",
      tasks: [
        { id: "t-v1", title: "Buy milk" },
        { id: "t-v2", title: "Fix login" },
      ],
    });
    const say = async (text: string) => {
      const reply = a.sock.next((m) => m.type === "workflow" && m.event === "command");
      const spoken = a.sock.next((m) => m.type === "tts" && m.state === "sentence_start");
      a.sock.send({ type: "listen", state: "detect", text });
      return { reply: await reply, spoken: await spoken };
    };
    const claim = await say("认领第2个");
    expect(claim.reply).toEqual({ type: "workflow", event: "command", intent: "assign", status: "ok", taskId: "t-v2" });
    expect(claim.spoken.text).toContain("Fix login");
    expect((await a.sock.next((m) => isSnapshot(m) && m.tasks[1]?.owner === id)).tasks[1].owner).toBe(id);

    const done = await say("mark task number 1 as done");
    expect(done.reply).toMatchObject({ intent: "complete", status: "ok", taskId: "t-v1" });
    expect((await a.sock.next((m) => isSnapshot(m) && m.tasks[0]?.status === "done")).tasks[0].status).toBe("done");

    const refresh = await say("refresh tasks");
    expect(refresh.reply).toMatchObject({ intent: "refresh", status: "ok" });

    const missing = await say("完成第9个");
    expect(missing.reply).toMatchObject({ intent: "complete", status: "error" });
    // Not a command: falls through to chat.
    a.sock.send({ type: "listen", state: "detect", text: "what's the weather like" });
    expect(await a.sock.next((m) => m.type === "stt" && m.text === "what's the weather like")).toBeTruthy();
    await a.sock.next((m) => m.type === "tts" && m.state === "stop", 15_000);
    a.sock.close();
  });
});
