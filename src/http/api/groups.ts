import { Hono } from "hono";
import { z } from "zod";
import { normaliseId } from "../../auth/identity.ts";
import { getRecord } from "../../meeting/archive.ts";
import { importMeetingTasks } from "../../meeting/import-tasks.ts";
import { fleetFrom, groupStub } from "../../objects/ports.ts";
import { OPERATOR } from "../../peer/send.ts";
import { TaskInput } from "../../workflow/messages.ts";
import type { AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { fleetOr503 } from "../fleet.ts";
import { idParam, jsonBody } from "../validate.ts";

// /api/groups — the groups of the fleet; /api/groups/:key — a group's online members and its task
// list (PROTOCOL §7, §11).

const TasksBody = z.object({ tasks: z.array(TaskInput, { error: "tasks must be an array of task objects" }).min(1).max(200) });
const ImportBody = z.object({ meetingId: z.string({ error: "missing: meetingId" }).min(1, { error: "missing: meetingId" }).max(64) });

export function groupRoutes() {
  const app = new Hono<AppEnv>();
  const group = idParam("key", "group key");

  // Every group with a known device (default groups included), from the fleet registry.
  app.get("/", async (c) => {
    const r = fleetOr503(c);
    if ("error" in r) return r.error;
    return c.json({ items: await r.fleet.devices.groups(Date.now()) });
  });

  // Online members from the registry, without waking the group or asking any member's object;
  // without a registry the group object asks its members.
  app.get("/:key/devices", group, async (c) => {
    const { key } = c.req.valid("param");
    const fleet = fleetFrom(c.env);
    const devices = fleet ? await fleet.devices.onlineMembers(key, Date.now()) : await groupStub(c.env, key).onlineMembers();
    return c.json({ groupKey: key, devices, count: devices.length });
  });

  app.get("/:key/tasks", group, async (c) => {
    const { key } = c.req.valid("param");
    const { snapshot } = await groupStub(c.env, key).taskSnapshot();
    return c.json({ groupKey: key, tasks: snapshot.tasks });
  });

  app.post("/:key/tasks", group, jsonBody(TasksBody), async (c) => {
    const { key } = c.req.valid("param");
    const tasks = c.req.valid("json").tasks.map((task, index) => ({ index, task: task.owner ? { ...task, owner: normaliseId(task.owner) } : task }));
    const { result, snapshot } = await groupStub(c.env, key).taskApply({ op: "upsert", tasks }, OPERATOR);
    if (!result.ok) return apiError(c, result.code === "NOT_FOUND" ? 404 : 400, result.code, result.message);
    return c.json({ groupKey: key, changed: result.changed, ids: result.ids, tasks: snapshot.tasks });
  });

  app.post("/:key/tasks/import-meeting", group, jsonBody(ImportBody), async (c) => {
    const { key } = c.req.valid("param");
    const record = await getRecord(c.env.ARCHIVE, c.req.valid("json").meetingId);
    if (!record) return apiError(c, 404, "NOT_FOUND", "no archived meeting with this id");
    const { result, snapshot } = await groupStub(c.env, key).taskApply(importMeetingTasks(record), OPERATOR);
    if (!result.ok) return apiError(c, 400, result.code, result.message);
    return c.json({ groupKey: key, meetingId: record.meetingId, changed: result.changed, ids: result.ids, tasks: snapshot.tasks });
  });

  return app;
}
