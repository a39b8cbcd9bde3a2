import type { Group } from "../group/group.ts";
import { log } from "../log.ts";
import type { Sql } from "../storage/sql.ts";
import type { Task, WorkflowSnapshot } from "./messages.ts";
import type { VersionedSnapshot } from "./port.ts";
import { TaskStore, type ApplyResult, type TaskOp } from "./task-store.ts";

// A group's task list, run by the group's object (PROTOCOL §7): changes are applied in its SQLite
// and every online member but the actor is shown the new snapshot (the group's online members come
// from the fleet registry, so offline members are not even asked; they get the list at their next
// hello in working mode).

export type PushSnapshot = (deviceId: string, snapshot: WorkflowSnapshot, version: number) => Promise<boolean>;

export class GroupTasks {
  private readonly store: TaskStore;
  private readonly group: Group;
  private readonly push: PushSnapshot;
  private readonly defer: (work: Promise<unknown>) => void;

  constructor(group: Group, sql: Sql, push: PushSnapshot, defer: (work: Promise<unknown>) => void) {
    this.group = group;
    this.store = new TaskStore(sql);
    this.push = push;
    this.defer = defer;
  }

  private snapshotNow(): WorkflowSnapshot {
    const key = this.group.key;
    return { type: "workflow", event: "update", groupKey: key, tasks: this.store.list(key, this.group.names()) };
  }

  /** The list; `requester`, when of this group, becomes a member. */
  snapshot(requester = ""): VersionedSnapshot {
    this.group.admit(requester);
    return { snapshot: this.snapshotNow(), version: this.store.version() };
  }

  get(ids: readonly string[]): Task[] {
    const wanted = new Set(ids);
    return this.snapshotNow().tasks.filter((t) => wanted.has(t.id));
  }

  apply(op: TaskOp, actor: string, now: number): { result: ApplyResult } & VersionedSnapshot {
    this.group.admit(actor);
    const result = this.store.apply(op, now);
    const snapshot = this.snapshotNow();
    if (result.ok && result.changed) {
      // Fan-out runs after the reply: the actor's own answer does not wait for the whole group.
      this.defer(
        this.fanOut(snapshot, result.version, actor).catch((err: unknown) => log.warn("group.fan_out_failed", { groupKey: this.group.key, error: err })),
      );
      log.info("workflow.changed", { groupKey: this.group.key, op: op.op, actor, version: result.version });
    }
    return { result, snapshot, version: this.store.version() };
  }

  private async fanOut(snapshot: WorkflowSnapshot, version: number, actor: string): Promise<void> {
    const key = this.group.key;
    const targets = (await this.group.onlineMembers()).map((m) => m.deviceId).filter((id) => id !== actor);
    await Promise.all(
      targets.map((id) => this.push(id, snapshot, version).catch((err: unknown) => log.warn("group.snapshot_failed", { groupKey: key, to: id, error: err }))),
    );
    log.debug("workflow.fanned_out", { groupKey: key, version, members: targets.length });
  }
}
