import { DurableObject } from "cloudflare:workers";
import { aliasOf, groupOf, type Settings } from "../config/settings.ts";
import { runtimeConfig, type RuntimeConfig } from "../config/runtime.ts";
import { MEMBERS_MIGRATION, Members } from "../group/members.ts";
import { log } from "../log.ts";
import type { PeerEnvelope } from "../peer/messages.ts";
import type { BroadcastResult } from "../peer/port.ts";
import { migrate } from "../storage/sql.ts";
import type { Task, WorkflowSnapshot } from "../workflow/messages.ts";
import type { VersionedSnapshot } from "../workflow/port.ts";
import { TASKS_MIGRATION, TaskStore, type ApplyResult, type TaskOp } from "../workflow/task-store.ts";

// One object per device group: membership, presence (asked of the members' own objects, so it is
// always current), broadcast fan-out with its rate limit, and the working-mode task list.

export interface GroupMember {
  deviceId: string;
  name: string;
  since: number;
}

export class GroupObject extends DurableObject<Env> {
  private readonly config: RuntimeConfig;
  private readonly members: Members;
  private readonly tasks: TaskStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = runtimeConfig(env, env.CONFIG);
    migrate(ctx.storage.sql, [MEMBERS_MIGRATION, TASKS_MIGRATION]);
    this.members = new Members(ctx.storage.sql);
    this.tasks = new TaskStore(ctx.storage.sql);
  }

  private get settings(): Settings {
    return this.config.settings;
  }

  private device(id: string) {
    return this.env.DEVICE.get(this.env.DEVICE.idFromName(id));
  }

  /** Joined and configured members still in this group (DEVICE_GROUPS may have moved some). */
  private memberIds(groupKey: string): string[] {
    const configured = Object.entries(this.settings.DEVICE_GROUPS)
      .filter(([, g]) => g === groupKey)
      .map(([id]) => id);
    const ids = new Set([...this.members.all(), ...configured]);
    for (const id of ids) {
      if (groupOf(this.settings, id) === groupKey) continue;
      ids.delete(id);
      this.members.leave(id);
    }
    return [...ids];
  }

  /** A device's object asks to join once; it remembers that it did. */
  async join(groupKey: string, deviceId: string): Promise<void> {
    await this.config.refresh(Date.now());
    this.admit(groupKey, deviceId);
  }

  /** Any device of this group that talks to it is a member from then on. */
  private admit(groupKey: string, deviceId: string): void {
    if (!deviceId || groupOf(this.settings, deviceId) !== groupKey) return;
    this.members.join([deviceId], Date.now());
  }

  async onlineMembers(groupKey: string): Promise<GroupMember[]> {
    await this.config.refresh(Date.now());
    const states = await Promise.all(
      this.memberIds(groupKey).map(async (id) => ({ id, status: await this.device(id).status(id).catch(() => null) })),
    );
    return states
      .filter((s) => s.status?.online)
      .map((s) => ({ deviceId: s.id, name: aliasOf(this.settings, s.id), since: s.status!.since }));
  }

  private snapshot(groupKey: string): WorkflowSnapshot {
    return { type: "workflow", event: "update", groupKey, tasks: this.tasks.list(groupKey, (owner) => aliasOf(this.settings, owner)) };
  }

  async taskSnapshot(groupKey: string, requester = ""): Promise<VersionedSnapshot> {
    await this.config.refresh(Date.now());
    this.admit(groupKey, requester);
    return { snapshot: this.snapshot(groupKey), version: this.tasks.version() };
  }

  async taskGet(groupKey: string, ids: string[]): Promise<Task[]> {
    await this.config.refresh(Date.now());
    const wanted = new Set(ids);
    return this.snapshot(groupKey).tasks.filter((t) => wanted.has(t.id));
  }

  /** Applies a task change; on a change every online member but the actor gets the new snapshot. */
  async taskApply(groupKey: string, op: TaskOp, actor: string): Promise<{ result: ApplyResult } & VersionedSnapshot> {
    await this.config.refresh(Date.now());
    this.admit(groupKey, actor);
    const result = this.tasks.apply(op, Date.now());
    const snapshot = this.snapshot(groupKey);
    if (result.ok && result.changed) {
      const version = result.version;
      const members = this.memberIds(groupKey).filter((id) => id !== actor);
      // Fan-out runs after the reply: the actor's own answer does not wait for the whole group.
      // Members that are offline answer at once without touching their storage.
      this.ctx.waitUntil(
        Promise.all(
          members.map((id) =>
            this.device(id)
              .pushSnapshot(id, snapshot, version)
              .catch((err: unknown) => log.warn("group.snapshot_failed", { groupKey, to: id, error: err })),
          ),
        ),
      );
      log.info("workflow.changed", { groupKey, op: op.op, actor, version, members: members.length });
    }
    return { result, snapshot, version: this.tasks.version() };
  }

  async broadcast(groupKey: string, from: string, envelope: PeerEnvelope): Promise<BroadcastResult> {
    await this.config.refresh(Date.now());
    this.admit(groupKey, from);
    const wait = this.members.takeBroadcast(from, this.settings.PEER_BROADCAST_INTERVAL_MS, Date.now());
    if (wait > 0) return { retryAfterMs: wait, delivered: [], enqueued: [], queueFull: [] };
    const targets = this.memberIds(groupKey).filter((id) => id !== from);
    const result: BroadcastResult = { delivered: [], enqueued: [], queueFull: [] };
    const outcomes = await Promise.all(
      targets.map(async (id) => {
        const stub = this.device(id);
        try {
          return { id, outcome: await stub.deliverPeer(id, envelope) };
        } catch (err) {
          log.warn("group.broadcast_retry", { groupKey, to: id, error: err });
          return { id, outcome: await stub.deliverPeer(id, envelope) };
        }
      }),
    );
    for (const { id, outcome } of outcomes) {
      if (outcome === "delivered") result.delivered.push(id);
      else if (outcome === "enqueued") result.enqueued.push(id);
      else result.queueFull.push(id);
    }
    return result;
  }
}
