import { aliasOf, groupOf, type Settings } from "../config/settings.ts";
import type { Sql } from "../storage/sql.ts";
import { Members } from "./members.ts";

// One device group, runtime-free: membership (devices that joined plus those DEVICE_GROUPS puts
// here), presence asked of the members' own objects, and fan-out to members. The GroupObject only
// adapts the runtime; the task list and broadcasts build on this in their capabilities' folders.

export interface GroupMember {
  deviceId: string;
  name: string;
  since: number;
}

/** How a group reaches its members' objects. */
export interface MemberPort {
  status(deviceId: string): Promise<{ online: boolean; since: number }>;
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

  /** Joined and configured members still in this group (DEVICE_GROUPS may have moved some). */
  memberIds(): string[] {
    const s = this.rt.settings;
    const configured = Object.entries(s.DEVICE_GROUPS)
      .filter(([, g]) => g === this.key)
      .map(([id]) => id);
    const ids = new Set([...this.members.all(), ...configured]);
    for (const id of ids) {
      if (groupOf(s, id) === this.key) continue;
      ids.delete(id);
      this.members.leave(id);
    }
    return [...ids];
  }

  /** Any device of this group that talks to it is a member from then on. */
  admit(deviceId: string): void {
    if (!deviceId || groupOf(this.rt.settings, deviceId) !== this.key) return;
    this.members.join([deviceId], this.rt.now());
  }

  nameOf(deviceId: string): string {
    return aliasOf(this.rt.settings, deviceId);
  }

  async onlineMembers(): Promise<GroupMember[]> {
    const states = await Promise.all(this.memberIds().map(async (id) => ({ id, status: await this.rt.members.status(id).catch(() => null) })));
    return states.filter((s) => s.status?.online).map((s) => ({ deviceId: s.id, name: this.nameOf(s.id), since: s.status!.since }));
  }
}
