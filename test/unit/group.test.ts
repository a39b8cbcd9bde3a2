import { describe, expect, it } from "vitest";
import { parseSettings } from "../../src/config/settings.ts";
import { Group, type GroupMember, type MemberPort } from "../../src/group/group.ts";
import { MEMBERS_MIGRATION, MEMBERS_NAME_MIGRATION, MEMBERS_PINNED_MIGRATION } from "../../src/group/members.ts";
import { broadcast } from "../../src/peer/broadcast.ts";
import { deliverWithRetry } from "../../src/peer/deliver.ts";
import type { DeliveryOutcome, PeerEnvelope } from "../../src/peer/messages.ts";
import { migrate } from "../../src/storage/sql.ts";
import { GroupTasks } from "../../src/workflow/group-tasks.ts";
import { TASKS_MIGRATION } from "../../src/workflow/task-store.ts";
import { sqliteSql } from "../support/memory-runtime.ts";

// The group's portable modules (membership, broadcast fan-out, task snapshots) without a
// GroupObject: Node's SQLite and plain functions for the members' objects and the registry.

const KEY = "gg:gg:gg";
const A = "gg:gg:gg:00:00:01";
const B = "gg:gg:gg:00:00:02";
const C = "gg:gg:gg:00:00:03";
const OTHER = "hh:hh:hh:00:00:01";

function groupOf(raw: Record<string, string> = {}, members: MemberPort = { status: async () => ({ online: false, since: 0 }) }, now = () => 1000) {
  const sql = sqliteSql();
  migrate(sql, [MEMBERS_MIGRATION, TASKS_MIGRATION, MEMBERS_PINNED_MIGRATION, MEMBERS_NAME_MIGRATION]);
  return { sql, group: new Group({ key: KEY, sql, settings: parseSettings(raw).settings, members, now }) };
}

const envelope: PeerEnvelope = { type: "peer", event: "message", id: "m1", from: A, fromName: "a", category: "chat", payload: { t: 1 }, ts: 1 };

describe("group membership", () => {
  it("counts configured members and devices of this group that talk to it; others are not admitted", () => {
    const { group } = groupOf({ DEVICE_GROUPS: JSON.stringify({ [OTHER]: KEY }) });
    group.admit(A);
    group.admit("hh:hh:hh:00:00:09"); // the settings put it in another group
    group.admit("");
    expect(group.memberIds().sort()).toEqual([A, OTHER].sort());
  });

  it("keeps a member its own object pinned here, drops one the settings moved away, and forgets one that left", () => {
    const moved = "gg:gg:gg:00:00:09";
    const { sql, group } = groupOf({ DEVICE_GROUPS: JSON.stringify({ [moved]: "elsewhere" }) });
    group.join("hh:hh:hh:00:00:05", "Pinned"); // a profile names this group though the settings do not
    group.members.join([moved, A, B], 1);
    expect(group.memberIds().sort()).toEqual([A, B, "hh:hh:hh:00:00:05"].sort());
    expect(sql.exec("SELECT device_id FROM group_members WHERE device_id = ?", moved).toArray()).toEqual([]);
    group.leave(B);
    expect(group.memberIds().sort()).toEqual([A, "hh:hh:hh:00:00:05"].sort());
  });

  it("names members by the alias they joined with, else DEVICE_ALIASES, else the id", () => {
    const { group } = groupOf({ DEVICE_ALIASES: JSON.stringify({ [A]: "Configured A", [B]: "Configured B" }) });
    group.join(A, "Kitchen");
    group.join(B);
    const name = group.names();
    expect([name(A), name(B), name(C)]).toEqual(["Kitchen", "Configured B", C]);
  });

  it("reads online members from the registry, and asks each member's object only when the registry fails", async () => {
    const asked: string[] = [];
    const fromRegistry: GroupMember[] = [{ deviceId: A, name: "a", since: 5 }];
    let registryUp = true;
    const { group } = groupOf(
      {},
      {
        status: async (id) => {
          asked.push(id);
          if (id === C) throw new Error("object reset");
          return { online: id === B, since: id === B ? 7 : 0 };
        },
        online: async (key) => {
          expect(key).toBe(KEY);
          if (!registryUp) throw new Error("D1 down");
          return fromRegistry;
        },
      },
    );
    group.join(A);
    group.join(B, "Bee");
    group.join(C);
    expect(await group.onlineMembers()).toEqual(fromRegistry);
    expect(asked).toEqual([]);
    registryUp = false;
    expect(await group.onlineMembers()).toEqual([{ deviceId: B, name: "Bee", since: 7 }]);
    expect(asked.sort()).toEqual([A, B, C]);
  });
});

describe("broadcast fan-out", () => {
  it("reaches every member but the sender, sorted by outcome, and admits the sender", async () => {
    const { group } = groupOf();
    group.join(B);
    group.join(C);
    group.join("gg:gg:gg:00:00:04");
    const outcomes: Record<string, DeliveryOutcome> = { [B]: "delivered", [C]: "enqueued", "gg:gg:gg:00:00:04": "queue_full" };
    const sentTo: string[] = [];
    const deliver = async (id: string, env: PeerEnvelope) => {
      sentTo.push(id);
      expect(env).toBe(envelope);
      return outcomes[id]!;
    };
    const r = await broadcast(group, A, envelope, deliver, 1000);
    expect(r).toEqual({ delivered: [B], enqueued: [C], queueFull: ["gg:gg:gg:00:00:04"] });
    expect(sentTo.sort()).toEqual([B, C, "gg:gg:gg:00:00:04"].sort());
    expect(group.memberIds()).toContain(A);
  });

  it("allows one broadcast per sender per PEER_BROADCAST_INTERVAL_MS; a refused one sends nothing", async () => {
    const { group } = groupOf({ PEER_BROADCAST_INTERVAL_MS: "5000" });
    group.join(B);
    let sends = 0;
    const deliver = async (): Promise<DeliveryOutcome> => {
      sends++;
      return "delivered";
    };
    expect(await broadcast(group, A, envelope, deliver, 10_000)).toEqual({ delivered: [B], enqueued: [], queueFull: [] });
    expect(await broadcast(group, A, envelope, deliver, 12_000)).toEqual({ retryAfterMs: 3000, delivered: [], enqueued: [], queueFull: [] });
    expect(sends).toBe(1);
    expect(await broadcast(group, B, envelope, deliver, 12_000), "the limit is per sender").toMatchObject({ delivered: [A] });
    expect(await broadcast(group, A, envelope, deliver, 15_000)).toMatchObject({ delivered: [B] });
  });

  it("retries a delivery that failed in transit once, with the same envelope", async () => {
    const { group } = groupOf();
    group.join(B);
    const tries: PeerEnvelope[] = [];
    const flaky = async (_id: string, env: PeerEnvelope): Promise<DeliveryOutcome> => {
      tries.push(env);
      if (tries.length === 1) throw new Error("object reset");
      return "delivered";
    };
    expect(await broadcast(group, A, envelope, flaky, 1000)).toEqual({ delivered: [B], enqueued: [], queueFull: [] });
    expect(tries).toEqual([envelope, envelope]);
  });
});

describe("deliverWithRetry", () => {
  it("passes the access through, retries once, and lets a second failure through", async () => {
    const calls: unknown[] = [];
    const access = { senderGroup: KEY };
    const once = async (target: string, env: PeerEnvelope, acc?: unknown): Promise<DeliveryOutcome> => {
      calls.push([target, env.id, acc]);
      if (calls.length === 1) throw new Error("transient");
      return "enqueued";
    };
    expect(await deliverWithRetry(once, B, envelope, access)).toBe("enqueued");
    expect(calls).toEqual([
      [B, "m1", access],
      [B, "m1", access],
    ]);
    let n = 0;
    const down = async (): Promise<DeliveryOutcome> => {
      n++;
      throw new Error(`down ${n}`);
    };
    await expect(deliverWithRetry(down, B, envelope)).rejects.toThrow("down 2");
    expect(n).toBe(2);
  });
});

describe("group task snapshots", () => {
  it("are versioned, name owners by their joined alias, and make a requester of this group a member", async () => {
    const { sql, group } = groupOf();
    group.join(B, "Bee");
    const tasks = new GroupTasks(
      group,
      sql,
      async () => true,
      () => {},
    );
    expect(tasks.snapshot(A)).toEqual({ snapshot: { type: "workflow", event: "update", groupKey: KEY, tasks: [] }, version: 0 });
    tasks.snapshot(OTHER);
    expect(group.memberIds().sort()).toEqual([A, B].sort());

    const added = tasks.apply({ op: "upsert", tasks: [{ index: 0, task: { title: "ship it" } }] }, A, 2000);
    expect(added.result).toMatchObject({ ok: true, changed: true, version: 1 });
    const id = added.snapshot.tasks[0]!.id;
    tasks.apply({ op: "assign", id, owner: B }, A, 3000);
    const { snapshot, version } = tasks.snapshot();
    expect(version).toBe(2);
    expect(snapshot.tasks).toEqual([
      expect.objectContaining({ id, title: "ship it", owner: B, ownerName: "Bee", status: "open", groupKey: KEY, updatedAt: 3000 }),
    ]);
    expect(tasks.get([id, "nope"]).map((t) => t.id)).toEqual([id]);
  });

  it("fan out a change to online members but the actor, and keep going when one push fails", async () => {
    const { sql, group } = groupOf(
      {},
      {
        status: async () => ({ online: false, since: 0 }),
        online: async () => [A, B, C].map((deviceId) => ({ deviceId, name: deviceId, since: 1 })),
      },
    );
    const pushed: Array<[string, number]> = [];
    const deferred: Promise<unknown>[] = [];
    const tasks = new GroupTasks(
      group,
      sql,
      async (id, _snapshot, version) => {
        if (id === B) throw new Error("object reset");
        pushed.push([id, version]);
        return true;
      },
      (p) => deferred.push(p),
    );
    tasks.apply({ op: "upsert", tasks: [{ index: 0, task: { title: "t" } }] }, A, 1);
    const unchanged = tasks.apply({ op: "complete", ids: ["nope"] }, A, 2);
    expect(unchanged.result.ok).toBe(false);
    await Promise.all(deferred);
    expect(deferred).toHaveLength(1);
    expect(pushed).toEqual([[C, 1]]);
  });
});
