import { groupOf, type Settings } from "../config/settings.ts";
import { log } from "../log.ts";
import type { WorkflowPort } from "../workflow/port.ts";
import type { PeerEnvelope, PeerReceipt } from "./messages.ts";

// PEER_TASK_TO_WORKFLOW=true: a `category:"task"` peer message also lands in each reached target's
// group task list, owned by that target (PROTOCOL §9, §7).

export function taskTitle(envelope: PeerEnvelope): string {
  const p = envelope.payload;
  const normalized = p.normalized as { title?: unknown } | undefined;
  for (const v of [normalized?.title, p.title, p.text]) {
    if (typeof v === "string" && v.trim()) return v.trim().slice(0, 200);
  }
  return "";
}

function taskPriority(envelope: PeerEnvelope): number | undefined {
  const p = envelope.payload;
  const v = (p.normalized as { priority?: unknown } | undefined)?.priority ?? p.priority;
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 3 ? v : undefined;
}

export async function taskToWorkflow(envelope: PeerEnvelope, receipt: PeerReceipt, settings: Settings, workflow: WorkflowPort): Promise<void> {
  if (!settings.PEER_TASK_TO_WORKFLOW || envelope.category !== "task") return;
  const title = taskTitle(envelope);
  if (!title) return;
  const priority = taskPriority(envelope);
  for (const target of [...receipt.delivered, ...receipt.enqueued]) {
    const task = { title, owner: target, ...(priority !== undefined ? { priority } : {}) };
    const { result } = await workflow.apply(groupOf(settings, target), { op: "upsert", tasks: [{ index: 0, task }] }, envelope.from);
    if (!result.ok) log.warn("peer.task_to_workflow_failed", { id: envelope.id, target, code: result.code });
  }
}
