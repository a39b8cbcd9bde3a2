import { DurableObject } from "cloudflare:workers";
import { runtimeConfig, type RuntimeConfig } from "../config/runtime.ts";
import { Group, type GroupMember } from "../group/group.ts";
import { MEMBERS_MIGRATION, MEMBERS_NAME_MIGRATION, MEMBERS_PINNED_MIGRATION } from "../group/members.ts";
import { broadcast } from "../peer/broadcast.ts";
import type { PeerEnvelope } from "../peer/messages.ts";
import type { BroadcastResult } from "../peer/port.ts";
import { migrate } from "../storage/sql.ts";
import { GroupTasks } from "../workflow/group-tasks.ts";
import type { Task } from "../workflow/messages.ts";
import type { VersionedSnapshot } from "../workflow/port.ts";
import { TASKS_MIGRATION, type ApplyResult, type TaskOp } from "../workflow/task-store.ts";
import { bindAnalytics } from "../metrics/analytics.ts";
import { guardRpc } from "./boundary.ts";
import { deviceCaller, memberPort, type DeviceCall } from "./ports.ts";

// Runtime adapter for one device group (its name is the group key): membership, online members
// (from the fleet registry), broadcast fan-out with its rate limit, and the working-mode task list,
// all in portable modules.

export class GroupObject extends DurableObject<Env> {
  private readonly config: RuntimeConfig;
  private readonly group: Group;
  private readonly tasks: GroupTasks;
  private readonly call: DeviceCall;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    bindAnalytics((env as { ANALYTICS?: unknown }).ANALYTICS);
    const config = runtimeConfig(env, env.CONFIG);
    this.config = config;
    migrate(ctx.storage.sql, [MEMBERS_MIGRATION, TASKS_MIGRATION, MEMBERS_PINNED_MIGRATION, MEMBERS_NAME_MIGRATION]);
    this.call = deviceCaller(env);
    const members = memberPort(env, this.call);
    this.group = new Group({
      key: ctx.id.name ?? "",
      sql: ctx.storage.sql,
      get settings() {
        return config.settings;
      },
      members,
      now: () => Date.now(),
    });
    this.tasks = new GroupTasks(this.group, ctx.storage.sql, members.pushSnapshot, (work) => ctx.waitUntil(work));
  }

  /** Every entry reads fresh settings (KV at most once a minute) inside the error boundary. */
  private run<T>(entry: string, fn: () => T | Promise<T>): Promise<T> {
    return guardRpc(entry, { groupKey: this.group.key }, async () => {
      await this.config.refresh(Date.now());
      return fn();
    });
  }

  /** A device's object asks to join once per group and name; it remembers that it did. */
  async join(deviceId: string, name: string | null = null): Promise<void> {
    return this.run("join", () => this.group.join(deviceId, name));
  }

  /** A device's object says its group changed. */
  async leave(deviceId: string): Promise<void> {
    return this.run("leave", () => this.group.leave(deviceId));
  }

  async onlineMembers(): Promise<GroupMember[]> {
    return this.run("onlineMembers", () => this.group.onlineMembers());
  }

  async taskSnapshot(requester = ""): Promise<VersionedSnapshot> {
    return this.run("taskSnapshot", () => this.tasks.snapshot(requester));
  }

  async taskGet(ids: string[]): Promise<Task[]> {
    return this.run("taskGet", () => this.tasks.get(ids));
  }

  /** Applies a task change; on a change every online member but the actor gets the new snapshot. */
  async taskApply(op: TaskOp, actor: string): Promise<{ result: ApplyResult } & VersionedSnapshot> {
    return this.run("taskApply", () => this.tasks.apply(op, actor, Date.now()));
  }

  async broadcast(from: string, envelope: PeerEnvelope): Promise<BroadcastResult> {
    return this.run("broadcast", () => broadcast(this.group, from, envelope, (id, env) => this.call(id, "peer.deliver", env), Date.now()));
  }
}
