import { describe, expect, it } from "vitest";
import { parseSettings } from "../../src/config/settings.ts";
import { decodeCursor, encodeCursor } from "../../src/fleet/cursor.ts";
import type { FleetPort, StateReport } from "../../src/fleet/port.ts";
import { Group, type GroupMember } from "../../src/group/group.ts";
import { MEMBERS_MIGRATION, MEMBERS_NAME_MIGRATION, MEMBERS_PINNED_MIGRATION } from "../../src/group/members.ts";
import { mergeProfile, ProfilePatch } from "../../src/profile/profile.ts";
import { migrate } from "../../src/storage/sql.ts";
import { GroupTasks } from "../../src/workflow/group-tasks.ts";
import { TASKS_MIGRATION } from "../../src/workflow/task-store.ts";
import { memoryDevice, sqliteSql } from "../support/memory-runtime.ts";

// The fleet's portable parts: the list cursor, profile merging, what a device's object reports to
// the registry and when, and a group's fan-out reaching only its online members.

describe("list cursor", () => {
  it("round-trips and refuses anything not made by encodeCursor", () => {
    const c = { lastSeen: 1_764_000_000_123, deviceId: "aa:bb:cc:00:00:01" };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(encodeCursor(c)).toMatch(/^[A-Za-z0-9_-]+$/);
    for (const bad of [
      "",
      "%%%",
      "e30",
      btoa("[1]"),
      btoa('["x","a"]'),
      btoa('[-1,"a"]'),
      btoa(`[1,"${"a".repeat(65)}"]`),
      "x".repeat(500),
      btoa("\xff\xfe"),
    ]) {
      expect(decodeCursor(bad.replace(/=+$/, "")), bad).toBeNull();
    }
  });
});

describe("profile", () => {
  it("merges a patch: named fields set, null removes, the rest stay; reports what changed", () => {
    expect(mergeProfile({ alias: "A", voice: "nova" }, { voice: null, prompt: "p" })).toEqual({
      profile: { alias: "A", prompt: "p" },
      changed: ["prompt", "voice"],
    });
    expect(mergeProfile({ alias: "A" }, { alias: "A", voice: null })).toEqual({ profile: { alias: "A" }, changed: [] });
  });

  it("validates a PUT body: trimmed text, group keys as ids, no unknown fields", () => {
    expect(ProfilePatch.parse({ alias: " Bob ", group: " LAB-1 ", language: "zh" })).toEqual({ alias: "Bob", group: "lab-1", language: "zh" });
    for (const bad of [{ alias: "" }, { group: "a b" }, { model: "x" }, { voice: 3 }, null, []])
      expect(ProfilePatch.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });
});

/** A registry port that records reports; `fail` makes the next writes throw. */
function recorder() {
  const reports: StateReport[] = [];
  let fail = 0;
  const port: FleetPort = {
    report: async (r) => {
      if (fail > 0) {
        fail--;
        throw new Error("D1 down");
      }
      reports.push(r);
    },
    claimCode: async () => true,
    releaseCode: async () => {},
    recordTurn: async () => {},
  };
  return { port, reports, failNext: (n: number) => (fail = n) };
}

describe("a device's registry reports", () => {
  it("reports online after the hello, the mode, and offline on close, in order", async () => {
    const rec = recorder();
    const d = memoryDevice({}, { services: { fleet: rec.port } });
    const conn = await d.hello();
    expect(rec.reports).toHaveLength(1);
    expect(rec.reports[0]).toMatchObject({
      deviceId: d.deviceId,
      online: true,
      since: d.clock.now,
      seenAt: d.clock.now,
      groupKey: d.deviceId.slice(0, 8),
      alias: null,
      mode: null,
    });
    await d.session.onText(conn, JSON.stringify({ type: "mode", state: "start", mode: "meeting" }));
    await d.settle();
    expect(rec.reports.at(-1)).toMatchObject({ online: true, mode: "meeting", seenAt: null });
    d.clock.now += 5000;
    d.close(conn);
    await d.settle();
    const last = rec.reports.at(-1)!;
    expect(last).toMatchObject({ online: false, since: null, seenAt: d.clock.now });
    const ats = rec.reports.map((r) => r.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    expect(new Set(ats).size).toBe(ats.length);
  });

  it("turns a burst of changes into at most two writes of the latest state", async () => {
    const rec = recorder();
    const d = memoryDevice({}, { services: { fleet: rec.port } });
    await d.hello();
    rec.reports.length = 0;
    const deliver = (id: string) =>
      d.session.rpc("peer.deliver", [{ type: "peer", event: "message", id, from: "x", fromName: "x", category: "chat", payload: {}, ts: 1 }]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => deliver(`m${i}`)));
    d.close(d.conns[0]!);
    await Promise.all(Array.from({ length: 50 }, (_, i) => deliver(`q${i}`)));
    await d.settle();
    // The disconnect at once; the 50 queued messages in one write after it.
    expect(rec.reports.map((r) => [r.online, r.inbox])).toEqual([
      [false, null],
      [false, 50],
    ]);
  });

  it("keeps the device online while another socket lives, and retries a failed write", async () => {
    const rec = recorder();
    const d = memoryDevice({}, { services: { fleet: rec.port } });
    const a = await d.hello();
    await d.hello();
    rec.failNext(1);
    d.close(a, 4009);
    await d.settle();
    await d.settle();
    expect(rec.reports.at(-1)).toMatchObject({ online: true });
  });

  it("renews the lease on the alarm while a socket lives, and stops once the device is gone", async () => {
    const rec = recorder();
    const d = memoryDevice({ IDLE_TIMEOUT_S: "3600" }, { services: { fleet: rec.port } });
    const conn = await d.hello();
    const lease = () => d.session.timers.get("fleet:lease");
    expect(lease()?.due).toBe(d.clock.now + 10 * 60_000);
    rec.reports.length = 0;
    d.clock.now = lease()!.due;
    await d.session.onAlarm();
    await d.settle();
    expect(rec.reports).toEqual([expect.objectContaining({ online: true, seenAt: null, leaseUntil: d.clock.now + 25 * 60_000 })]);
    expect(lease()?.due).toBe(d.clock.now + 10 * 60_000);
    d.close(conn);
    await d.settle();
    rec.reports.length = 0;
    d.clock.now = lease()!.due;
    await d.session.onAlarm();
    await d.settle();
    expect(rec.reports).toEqual([]);
    expect(lease()).toBeUndefined();
  });

  it("carries the profile's names, kept apart from the settings'", async () => {
    const rec = recorder();
    const d = memoryDevice({ DEVICE_ALIASES: JSON.stringify({ "aa:bb:cc:00:00:01": "Alice" }) }, { services: { fleet: rec.port } });
    await d.hello();
    expect(rec.reports.at(-1)).toMatchObject({ alias: "Alice", profileAlias: null, profileGroup: null });
    await d.session.rpc("profile.put", [{ alias: "Kitchen", group: "lab" }]);
    await d.settle();
    expect(d.session.groupKey).toBe("lab");
    expect(rec.reports.at(-1)).toMatchObject({ alias: "Kitchen", groupKey: "lab", profileAlias: "Kitchen", profileGroup: "lab" });
  });
});

describe("a group's task fan-out", () => {
  it("pushes to the online members the registry names, never asking the others", async () => {
    const sql = sqliteSql();
    migrate(sql, [MEMBERS_MIGRATION, TASKS_MIGRATION, MEMBERS_PINNED_MIGRATION, MEMBERS_NAME_MIGRATION]);
    const settings = parseSettings({}).settings;
    const online: GroupMember[] = [
      { deviceId: "gg:gg:gg:00:00:01", name: "a", since: 1 },
      { deviceId: "gg:gg:gg:00:00:02", name: "b", since: 1 },
    ];
    const group = new Group({
      key: "gg:gg:gg",
      sql,
      settings,
      members: {
        status: () => Promise.reject(new Error("a member's object was asked")),
        online: async () => online,
      },
      now: () => 1,
    });
    for (let i = 1; i <= 5; i++) group.join(`gg:gg:gg:00:00:0${i}`);
    const pushed: string[] = [];
    const deferred: Promise<unknown>[] = [];
    const tasks = new GroupTasks(
      group,
      sql,
      async (id) => {
        pushed.push(id);
        return true;
      },
      (p) => deferred.push(p),
    );
    tasks.apply({ op: "upsert", tasks: [{ index: 0, task: { title: "t" } }] }, "gg:gg:gg:00:00:01", 1);
    await Promise.all(deferred);
    expect(pushed).toEqual(["gg:gg:gg:00:00:02"]);
  });
});
