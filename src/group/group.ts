import { aliasOf, groupOf, type Settings } from "../config/settings.ts";
import { log } from "../log.ts";
import type { Sql } from "../storage/sql.ts";
import { Members } from "./members.ts";

// One device group, runtime-free: membership (devices that joined plus those DEVICE_GROUPS puts
// here), its online members, and fan-out to members. Which members are online comes from the
// fleet registry (one indexed read, however many members: a connect storm into the group costs
// the group nothing); only without a registry does it ask each member's object. The GroupObject
// only adapts the runtime; the task list and broadcasts build on this in their capabilities' folders.

export interface GroupMember {
  deviceId: string;
  name: string;
  since: number;
}

/** How a group reaches its members: their objects, and the fleet registry when there is one. */
export interface MemberPort {
  status(deviceId: string): Promise<{ online: boolean; since: number }>;
  /** The group's online members from the registry; absent without one. */
  online?(groupKey: string): Promise<GroupMember[]>;
}

export interface GroupRuntime {
  readonly key: string;
  readonly sql: Sql;
  readonly settings: Settings;
  readonly members: MemberPort;
  now(): number;
}

export class Group {
  readonly members: Members;
  private readonly rt: GroupRuntime;

  constructor(rt: GroupRuntime) {
    this.rt = rt;
    this.members = new Members(rt.sql);
  }

  get key(): string {
    return this.rt.key;
  }

  get settings(): Settings {
    return this.rt.settings;
  }

  /**
   * Joined and configured members still in this group: DEVICE_GROUPS may have moved some (members
   * their profile put here stay until their object says they left).
   */
  memberIds(): string[] {
    const s = this.rt.settings;
    const configured = Object.entries(s.DEVICE_GROUPS)
      .filter(([, g]) => g === this.key)
      .map(([id]) => id);
    const ids = new Set(configured);
    for (const m of this.members.all()) {
      if (m.pinned || groupOf(s, m.deviceId) === this.key) ids.add(m.deviceId);
      else this.members.leave(m.deviceId);
    }
    return [...ids];
  }

  /** Any device of this group that talks to it is a member from then on. */
  admit(deviceId: string): void {
    if (!deviceId || groupOf(this.rt.settings, deviceId) !== this.key) return;
    this.members.join([deviceId], this.rt.now());
  }

  /**
   * The device's own object says it belongs here, and under which name: taken as said, its profile
   * may name this group and give it an alias.
   */
  join(deviceId: string, name: string | null = null): void {
    if (!deviceId) return;
    this.members.claim(deviceId, groupOf(this.rt.settings, deviceId) !== this.key, this.rt.now(), name);
  }

  /** The device's own object says it moved to another group. */
  leave(deviceId: string): void {
    this.members.leave(deviceId);
  }

  /**
   * Members' names: the alias each gave when it joined, else DEVICE_ALIASES. One read for a whole
   * snapshot or list, not one per member.
   */
  names(): (deviceId: string) => string {
    const given = this.members.names();
    return (deviceId) => given.get(deviceId) ?? aliasOf(this.rt.settings, deviceId);
  }

  async onlineMembers(): Promise<GroupMember[]> {
    if (this.rt.members.online) {
      try {
        return await this.rt.members.online(this.key);
      } catch (err) {
        log.warn("group.registry_failed", { groupKey: this.key, error: err, message: "asking each member instead" });
      }
    }
    const states = await Promise.all(this.memberIds().map(async (id) => ({ id, status: await this.rt.members.status(id).catch(() => null) })));
    const nameOf = this.names();
    return states.filter((s) => s.status?.online).map((s) => ({ deviceId: s.id, name: nameOf(s.id), since: s.status!.since }));
  }
}
