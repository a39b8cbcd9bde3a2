import type { TaskOp } from "../workflow/task-store.ts";
import type { MeetingRecord } from "./archive.ts";

/**
 * The summary's actions as tasks (POST /api/groups/:key/tasks/import-meeting). Ids derive from the
 * meeting and the action's position, so importing the same meeting twice changes nothing.
 */
export function importMeetingTasks(record: MeetingRecord): Extract<TaskOp, { op: "upsert" }> {
  return {
    op: "upsert",
    tasks: record.summary.actions.map((title, index) => ({
      index,
      task: { id: `${record.meetingId}-a${index + 1}`, title: title.slice(0, 500) },
    })),
  };
}
