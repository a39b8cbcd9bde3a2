import type { Task, WorkflowSnapshot } from "./messages.ts";
import type { ApplyResult, TaskOp } from "./task-store.ts";

/** A group's task list at one version: versions only grow, so a late older snapshot can be dropped. */
export interface VersionedSnapshot {
  snapshot: WorkflowSnapshot;
  version: number;
}

// How a device session reaches group task lists (GroupObject RPC in production).
export interface WorkflowPort {
  /** Applies the operation; on a change the group pushes its snapshot to its online members but `actor`. */
  apply(groupKey: string, op: TaskOp, actor: string): Promise<{ result: ApplyResult } & VersionedSnapshot>;
  /** The group's list; `requester`, when of that group, becomes a member. */
  snapshot(groupKey: string, requester?: string): Promise<VersionedSnapshot>;
  get(groupKey: string, ids: string[]): Promise<Task[]>;
}
