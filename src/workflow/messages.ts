import { z } from "zod";

// Working-mode task messages (PROTOCOL §7).

export const TaskStatus = z.enum(["open", "done"]);

const id = z.string().trim().min(1, { error: "must be a non-empty string" }).max(128);

/** A task as a device or integrator sends it: every field optional, `title` required on create. */
export const TaskInput = z.looseObject({
  id: id.optional(),
  title: z.string().trim().min(1, { error: "must be a non-empty string" }).max(500).optional(),
  priority: z
    .number({ error: "must be integer 0-3" })
    .int({ error: "must be integer 0-3" })
    .min(0, { error: "must be integer 0-3" })
    .max(3, { error: "must be integer 0-3" })
    .optional(),
  status: TaskStatus.optional(),
  owner: z.string().trim().max(64).optional(),
  groupKey: z.string().trim().min(1).max(64).optional(),
});
export type TaskInput = z.infer<typeof TaskInput>;

const ids = z.array(id, { error: "ids must be an array of non-empty strings" }).min(1, { error: "ids must not be empty" }).max(200);

export const WorkflowIn = z.discriminatedUnion(
  "event",
  [
    z.looseObject({
      type: z.literal("workflow"),
      event: z.literal("update"),
      tasks: z.array(TaskInput, { error: "tasks must be an array of task objects" }).max(200),
      groupKey: z.string().trim().min(1).max(64).optional(),
    }),
    z.looseObject({ type: z.literal("workflow"), event: z.literal("list"), groupKey: z.string().trim().min(1).max(64).optional() }),
    z.looseObject({
      type: z.literal("workflow"),
      event: z.literal("assign"),
      id,
      owner: z.string().trim().min(1).max(64).optional(),
      groupKey: z.string().trim().min(1).max(64).optional(),
    }),
    z
      .looseObject({
        type: z.literal("workflow"),
        event: z.literal("complete"),
        ids: ids.optional(),
        id: id.optional(),
        groupKey: z.string().trim().min(1).max(64).optional(),
      })
      .refine((m) => m.ids !== undefined || m.id !== undefined, { error: "missing: ids", path: ["ids"] }),
    z.looseObject({ type: z.literal("workflow"), event: z.literal("delete"), ids, groupKey: z.string().trim().min(1).max(64).optional() }),
  ],
  { error: "event must be one of update|list|assign|complete|delete" },
);
export type WorkflowIn = z.infer<typeof WorkflowIn>;

export const Task = z.object({
  id: z.string(),
  title: z.string(),
  priority: z.number().int().min(0).max(3),
  status: TaskStatus,
  owner: z.string(),
  ownerName: z.string(),
  groupKey: z.string(),
  updatedAt: z.number(),
});
export type Task = z.infer<typeof Task>;

export const WorkflowSnapshot = z.object({
  type: z.literal("workflow"),
  event: z.literal("update"),
  groupKey: z.string(),
  tasks: z.array(Task),
});
export type WorkflowSnapshot = z.infer<typeof WorkflowSnapshot>;

export const WorkflowAck = z.object({
  type: z.literal("workflow"),
  status: z.literal("ok"),
  event: z.string(),
  idempotent: z.literal(true).optional(),
});
export type WorkflowAck = z.infer<typeof WorkflowAck>;

export const WorkflowCommandReply = z.object({
  type: z.literal("workflow"),
  event: z.literal("command"),
  intent: z.enum(["assign", "complete", "refresh"]),
  status: z.enum(["ok", "error"]),
  taskId: z.string().optional(),
  message: z.string().optional(),
});
export type WorkflowCommandReply = z.infer<typeof WorkflowCommandReply>;
