import { normaliseId } from "../auth/identity.ts";
import { schemaError } from "../protocol/errors.ts";
import { attached, type HandlerCtx, type Session } from "../session/capability.ts";
import type { Conn } from "../session/conn.ts";
import type { TaskInput, WorkflowAck, WorkflowIn } from "./messages.ts";
import type { VersionedSnapshot, WorkflowPort } from "./port.ts";
import type { ApplyResult, TaskOp } from "./task-store.ts";

// Working-mode task messages from a device (PROTOCOL §7). The task lists live in GroupObjects; this
// decides which group each task belongs to, applies the change there and answers the sender.

/** Snapshots caused by hello or mode start within this long of the last one are skipped. */
export const SNAPSHOT_DEBOUNCE_MS = 1500;

/** Newest task-list version pushed per group: an older snapshot arriving late is dropped. */
const VERSIONS = {};
const versions = (session: Session) => session.local(VERSIONS, () => new Map<string, number>());

/** When this socket was last sent a task snapshot (the hello / mode-start debounce). */
const lastSnapshot = (conn: Conn) => attached(conn, "workflow", () => ({ snapshotAt: 0 }));

/** Sends a snapshot unless a newer one of the same group already went out; false when dropped. */
export function sendSnapshot(session: Session, ctx: HandlerCtx | undefined, v: VersionedSnapshot): boolean {
  const key = v.snapshot.groupKey;
  const seen = versions(session);
  if (v.version < (seen.get(key) ?? 0)) return false;
  seen.set(key, v.version);
  const conn = ctx?.conn ?? session.current();
  if (!conn) return false;
  session.send(conn, v.snapshot);
  lastSnapshot(conn).snapshotAt = session.now();
  return true;
}

/** The hello / mode-start snapshot of the device's own group, unless one went out just now. */
export async function debouncedSnapshot(ctx: HandlerCtx, workflow: WorkflowPort): Promise<void> {
  const { session } = ctx;
  if (session.mode !== "working") return;
  if (session.now() - lastSnapshot(ctx.conn).snapshotAt < SNAPSHOT_DEBOUNCE_MS) return;
  sendSnapshot(session, ctx, await workflow.snapshot(session.groupKey, session.deviceId));
}

function failure(ctx: HandlerCtx, result: Extract<ApplyResult, { ok: false }>): void {
  if (result.code === "SCHEMA_INVALID") ctx.reply(schemaError("workflow", result.message));
  else ctx.reply({ type: "workflow", status: "error", code: result.code, message: result.message });
}

/** Applies one operation to one group; a changed group's snapshot is queued for the sender. */
export async function applyTo(ctx: HandlerCtx, workflow: WorkflowPort, groupKey: string, op: TaskOp, out: VersionedSnapshot[]): Promise<ApplyResult> {
  const { result, ...snapshot } = await workflow.apply(groupKey, op, ctx.session.deviceId);
  if (result.ok && result.changed) out.push(snapshot);
  return result;
}

async function upsert(
  msg: Extract<WorkflowIn, { event: "update" }>,
  ctx: HandlerCtx,
  workflow: WorkflowPort,
  out: VersionedSnapshot[],
): Promise<boolean | null> {
  const { session } = ctx;
  const home = msg.groupKey ?? session.groupKey;
  const byGroup = new Map<string, Array<{ index: number; task: TaskInput }>>();
  const moved = new Map<string, string[]>(); // from group → ids leaving it
  for (const [index, raw] of msg.tasks.entries()) {
    const task: TaskInput = raw.owner !== undefined ? { ...raw, owner: normaliseId(raw.owner) } : raw;
    const target = task.groupKey ?? home;
    if (target !== home && task.id) moved.set(home, [...(moved.get(home) ?? []), task.id]);
    byGroup.set(target, [...(byGroup.get(target) ?? []), { index, task }]);
  }
  // A task moving groups is copied first and removed from its old group after: a failure in between
  // leaves it in both lists, never in neither.
  for (const [from, ids] of moved) {
    const existing = await workflow.get(from, ids);
    for (const t of existing) {
      for (const [, items] of byGroup) {
        const item = items.find((i) => i.task.id === t.id);
        if (item) item.task = { title: t.title, priority: t.priority, status: t.status, owner: t.owner, ...item.task };
      }
    }
  }
  let changed = false;
  for (const [groupKey, items] of byGroup) {
    const r = await applyTo(ctx, workflow, groupKey, { op: "upsert", tasks: items }, out);
    if (!r.ok) {
      failure(ctx, r);
      return null;
    }
    changed ||= r.changed;
  }
  for (const [from, ids] of moved) {
    const r = await applyTo(ctx, workflow, from, { op: "delete", ids }, out);
    if (r.ok) changed ||= r.changed;
  }
  return changed;
}

export async function handleWorkflow(msg: WorkflowIn, ctx: HandlerCtx, workflow: WorkflowPort): Promise<void> {
  const { session } = ctx;
  const home = msg.groupKey ?? session.groupKey;
  const snapshots: VersionedSnapshot[] = [];
  // The ack comes first, then the snapshot of every group that changed.
  const ack = (changed: boolean) => {
    ctx.reply({ type: "workflow", status: "ok", event: msg.event, ...(changed ? {} : { idempotent: true as const }) } satisfies WorkflowAck);
    for (const s of snapshots) sendSnapshot(session, ctx, s);
  };

  if (msg.event === "list" || (msg.event === "update" && msg.tasks.length === 0)) {
    snapshots.push(await workflow.snapshot(home, session.deviceId));
    ack(true);
    return;
  }
  if (msg.event === "update") {
    const changed = await upsert(msg, ctx, workflow, snapshots);
    if (changed !== null) ack(changed);
    return;
  }
  const op: TaskOp =
    msg.event === "assign"
      ? { op: "assign", id: msg.id, owner: normaliseId(msg.owner ?? session.deviceId) }
      : msg.event === "complete"
        ? { op: "complete", ids: msg.ids ?? [msg.id!] }
        : { op: "delete", ids: msg.ids };
  const r = await applyTo(ctx, workflow, home, op, snapshots);
  if (!r.ok) return failure(ctx, r);
  ack(r.changed);
}
