import { DurableObject } from "cloudflare:workers";
import { aliasOf, type Settings } from "../config/settings.ts";
import { runtimeConfig, type RuntimeConfig } from "../config/runtime.ts";
import { PRESENCE_MIGRATION, Presence } from "../group/presence.ts";
import { log } from "../log.ts";
import type { PeerEnvelope } from "../peer/messages.ts";
import type { BroadcastResult } from "../peer/port.ts";
import { migrate } from "../storage/sql.ts";
import type { Task, WorkflowSnapshot } from "../workflow/messages.ts";
import type { VersionedSnapshot } from "../workflow/port.ts";
import { TASKS_MIGRATION, TaskStore, type ApplyResult, type TaskOp } from "../workflow/task-store.ts";

// One object per device group: membership and presence, broadcast fan-out with its rate limit,
// and (working mode) the group's task list. Runtime adapter over portable stores.

export interface GroupMember {
  deviceId: string;
  name: string;
  since: number;
}

export class GroupObject extends DurableObject<Env> {
  private readonly config: RuntimeConfig;
  private readonly presenceStore: Presence;
  private readonly tasks: TaskStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = runtimeConfig(env, env.CONFIG);
    migrate(ctx.storage.sql, [PRESENCE_MIGRATION, TASKS_MIGRATION]);
    this.presenceStore = new Presence(ctx.storage.sql);
    this.tasks = new TaskStore(ctx.storage.sql);
  }

  private get settings(): Settings {
    return this.config.settings;
  }

  private configuredMembers(groupKey: string): string[] {
    return Object.entries(this.settings.DEVICE_GROUPS)
      .filter(([, g]) => g === groupKey)
      .map(([id]) => id);
  }

  async presence(groupKey: string, deviceId: string, online: boolean, at: number): Promise<void> {
    await this.config.refresh(Date.now());
    this.presenceStore.update(deviceId, online, at);
    log.debug("group.presence", { groupKey, deviceId, online });
  }

  async onlineMembers(_groupKey: string): Promise<GroupMember[]> {
    await this.config.refresh(Date.now());
    return this.presenceStore
      .online()
      .map((m) => ({ deviceId: m.deviceId, name: aliasOf(this.settings, m.deviceId), since: m.changedAt }));
  }

  private snapshot(groupKey: string): WorkflowSnapshot {
    return { type: "workflow", event: "update", groupKey, tasks: this.tasks.list(groupKey, (owner) => aliasOf(this.settings, owner)) };
  }

  async taskSnapshot(groupKey: string): Promise<VersionedSnapshot> {
    await this.config.refresh(Date.now());
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
    const result = this.tasks.apply(op, Date.now());
    const snapshot = this.snapshot(groupKey);
    if (result.ok && result.changed) {
      const version = result.version;
      const members = this.presenceStore.online().filter((m) => m.deviceId !== actor);
      // Fan-out runs after the reply: the actor's own answer does not wait for the whole group.
      this.ctx.waitUntil(
        Promise.all(
          members.map((m) =>
            this.env.DEVICE.get(this.env.DEVICE.idFromName(m.deviceId))
              .pushSnapshot(m.deviceId, snapshot, version)
              .catch((err: unknown) => log.warn("group.snapshot_failed", { groupKey, to: m.deviceId, error: err })),
          ),
        ),
      );
      log.info("workflow.changed", { groupKey, op: op.op, actor, version, members: members.length });
    }
    return { result, snapshot, version: this.tasks.version() };
  }

  async broadcast(groupKey: string, from: string, envelope: PeerEnvelope): Promise<BroadcastResult> {
    await this.config.refresh(Date.now());
    const wait = this.presenceStore.takeBroadcast(from, this.settings.PEER_BROADCAST_INTERVAL_MS, Date.now());
    if (wait > 0) return { retryAfterMs: wait, delivered: [], enqueued: [], queueFull: [] };
    this.presenceStore.ensure(this.configuredMembers(groupKey));
    const targets = this.presenceStore.all().filter((m) => m.deviceId !== from);
    const result: BroadcastResult = { delivered: [], enqueued: [], queueFull: [] };
    const outcomes = await Promise.all(
      targets.map(async (m) => {
        const stub = this.env.DEVICE.get(this.env.DEVICE.idFromName(m.deviceId));
        try {
          return { id: m.deviceId, outcome: await stub.deliverPeer(m.deviceId, envelope) };
        } catch (err) {
          log.warn("group.broadcast_retry", { groupKey, to: m.deviceId, error: err });
          return { id: m.deviceId, outcome: await stub.deliverPeer(m.deviceId, envelope) };
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
