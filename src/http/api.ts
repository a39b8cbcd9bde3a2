import { Hono } from "hono";
import { z } from "zod";
import { isValidId, normaliseId } from "../auth/identity.ts";
import { peerPort, workflowPort } from "../objects/ports.ts";
import { taskToWorkflow } from "../peer/task-to-workflow.ts";
import { relayTask } from "../peer/relay.ts";
import { OPERATOR, newEnvelope, sendPeer } from "../peer/send.ts";
import { describeIssues } from "../protocol/errors.ts";
import { TaskInput } from "../workflow/messages.ts";
import { getRecord, getTranscript, listMeetings } from "../meeting/archive.ts";
import { importMeetingTasks } from "../meeting/import-tasks.ts";
import { RUNTIME_SETTINGS, runtimeConfig } from "../config/runtime.ts";
import { SECRET_SETTINGS } from "../config/settings.ts";
import { dropLlmClients } from "../llm/client.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { apiError } from "./errors.ts";
import { adminToken } from "./local-dev.ts";
import { timingSafeEqual } from "../auth/compare.ts";

// Operator and integration API (PROTOCOL §11), behind `Authorization: Bearer <ADMIN_TOKEN>`.


function deviceParam(c: AppContext): string | null {
  const id = normaliseId(decodeURIComponent(c.req.param("id") ?? ""));
  return isValidId(id) ? id : null;
}

function groupParam(c: AppContext): string | null {
  const key = normaliseId(decodeURIComponent(c.req.param("key") ?? ""));
  return isValidId(key) ? key : null;
}

function groupStub(c: AppContext, key: string) {
  return c.env.GROUP.get(c.env.GROUP.idFromName(key));
}

function deviceStub(c: AppContext, id: string) {
  return c.env.DEVICE.get(c.env.DEVICE.idFromName(id));
}

export function apiRoutes() {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    const expected = adminToken(c.get("settings"), c.get("local"));
    if (!expected) return apiError(c, 503, "ADMIN_DISABLED", "ADMIN_TOKEN is not set on this server; the API is closed");
    const header = c.req.header("authorization") ?? "";
    const m = /^bearer\s+(.+)$/i.exec(header.trim());
    if (!m || !timingSafeEqual(m[1]!.trim(), expected)) return apiError(c, 401, "UNAUTHORIZED", "missing or wrong admin bearer token");
    await next();
  });

  app.get("/devices/:id", async (c) => {
    const id = deviceParam(c);
    if (!id) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    return c.json(await deviceStub(c, id).info(id));
  });

  app.delete("/devices/:id/sessions", async (c) => {
    const id = deviceParam(c);
    if (!id) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    const closed = await deviceStub(c, id).disconnect(id);
    return c.json({ deviceId: id, closed });
  });

  app.post("/devices/:id/activate", async (c) => {
    const id = deviceParam(c);
    if (!id) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    const body = (await c.req.json().catch(() => null)) as { code?: unknown } | null;
    const code = typeof body?.code === "string" || typeof body?.code === "number" ? String(body.code) : "";
    if (!code) return apiError(c, 400, "SCHEMA_INVALID", "missing: code");
    const result = await deviceStub(c, id).activate(id, code);
    if (!result.ok) return apiError(c, 409, "ACTIVATION_FAILED", result.reason ?? "activation failed");
    return c.json({ deviceId: id, activated: true });
  });

  app.post("/devices/:id/messages", async (c) => {
    const id = deviceParam(c);
    if (!id) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    const raw: unknown = await c.req.json().catch(() => undefined);
    if (raw === undefined) return apiError(c, 400, "INVALID_JSON", "body must be JSON");
    const body = MessageBody.safeParse(raw, { reportInput: true });
    if (!body.success) return apiError(c, 400, "SCHEMA_INVALID", describeIssues(body.error.issues));
    const from = body.data.from ? normaliseId(body.data.from) : OPERATOR;
    if (from !== OPERATOR && !isValidId(from)) return apiError(c, 400, "SCHEMA_INVALID", "invalid: from (not a device id)");
    const s = c.get("settings");
    const startedAt = Date.now();
    const req = { from, to: [id], category: body.data.category, payload: body.data.payload, trusted: true };
    const envelope = await relayTask(newEnvelope(req, s, startedAt), s);
    const result = await sendPeer(req, envelope, s, peerPort(c.env), startedAt, Date.now);
    if (!result.ok) return apiError(c, 429, "RATE_LIMITED", `retry after ${result.retryAfterMs} ms`);
    await taskToWorkflow(envelope, result.receipt, s, workflowPort(c.env));
    return c.json(result.receipt);
  });

  app.get("/groups/:key/devices", async (c) => {
    const key = groupParam(c);
    if (!key) return apiError(c, 400, "INVALID_REQUEST", "invalid group key");
    const devices = await groupStub(c, key).onlineMembers(key);
    return c.json({ groupKey: key, devices, count: devices.length });
  });

  app.get("/groups/:key/tasks", async (c) => {
    const key = groupParam(c);
    if (!key) return apiError(c, 400, "INVALID_REQUEST", "invalid group key");
    const { snapshot } = await groupStub(c, key).taskSnapshot(key);
    return c.json({ groupKey: key, tasks: snapshot.tasks });
  });

  app.post("/groups/:key/tasks", async (c) => {
    const key = groupParam(c);
    if (!key) return apiError(c, 400, "INVALID_REQUEST", "invalid group key");
    const raw: unknown = await c.req.json().catch(() => undefined);
    if (raw === undefined) return apiError(c, 400, "INVALID_JSON", "body must be JSON");
    const body = TasksBody.safeParse(raw, { reportInput: true });
    if (!body.success) return apiError(c, 400, "SCHEMA_INVALID", describeIssues(body.error.issues));
    const tasks = body.data.tasks.map((task, index) => ({ index, task: task.owner ? { ...task, owner: normaliseId(task.owner) } : task }));
    const { result, snapshot } = await groupStub(c, key).taskApply(key, { op: "upsert", tasks }, OPERATOR);
    if (!result.ok) return apiError(c, result.code === "NOT_FOUND" ? 404 : 400, result.code, result.message);
    return c.json({ groupKey: key, changed: result.changed, ids: result.ids, tasks: snapshot.tasks });
  });

  app.get("/config", (c) => {
    const config = runtimeConfig(c.env, c.env.CONFIG, dropLlmClients);
    const s = c.get("settings");
    const { version, updatedAt, values } = config.overrides;
    return c.json({
      version,
      updatedAt,
      overrides: values,
      settings: Object.fromEntries(RUNTIME_SETTINGS.map((n) => [n, s[n]])),
      secrets: Object.fromEntries([...SECRET_SETTINGS].map((n) => [n, Boolean((s[n] as unknown as string | string[]).length)])),
    });
  });

  app.put("/config", async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as { values?: unknown } | undefined;
    if (!body || typeof body.values !== "object" || body.values === null || Array.isArray(body.values)) {
      return apiError(c, 400, "SCHEMA_INVALID", "body must be {\"values\":{\"NAME\":\"value\" | null}}");
    }
    const config = runtimeConfig(c.env, c.env.CONFIG, dropLlmClients);
    const result = await config.update(body.values as Record<string, unknown>, Date.now());
    if (!result.ok) return apiError(c, 400, "SCHEMA_INVALID", result.message);
    return c.json({ version: result.doc.version, updatedAt: result.doc.updatedAt, overrides: result.doc.values });
  });

  app.get("/meetings", async (c) => {
    const limit = intParam(c.req.query("limit"), 10, 1, 1000);
    const device = c.req.query("device");
    const deviceId = device ? normaliseId(device) : undefined;
    if (deviceId !== undefined && !isValidId(deviceId)) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    const items = await listMeetings(c.env.ARCHIVE, { limit, ...(deviceId ? { deviceId } : {}) });
    return c.json({ items, limit });
  });

  app.get("/meetings/:id", async (c) => {
    const record = await getRecord(c.env.ARCHIVE, c.req.param("id"));
    if (!record) return apiError(c, 404, "NOT_FOUND", "no archived meeting with this id");
    return c.json(record);
  });

  app.get("/meetings/:id/transcript", async (c) => {
    const record = await getRecord(c.env.ARCHIVE, c.req.param("id"));
    if (!record) return apiError(c, 404, "NOT_FOUND", "no archived meeting with this id");
    const offset = intParam(c.req.query("offset"), 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(c.req.query("limit"), 100, 1, 1000);
    const items = await getTranscript(c.env.ARCHIVE, record, offset, limit);
    return c.json({ items, total: record.segmentCount, offset, limit });
  });

  app.post("/groups/:key/tasks/import-meeting", async (c) => {
    const key = groupParam(c);
    if (!key) return apiError(c, 400, "INVALID_REQUEST", "invalid group key");
    const body = (await c.req.json().catch(() => null)) as { meetingId?: unknown } | null;
    if (typeof body?.meetingId !== "string" || !body.meetingId) return apiError(c, 400, "SCHEMA_INVALID", "missing: meetingId");
    const record = await getRecord(c.env.ARCHIVE, body.meetingId);
    if (!record) return apiError(c, 404, "NOT_FOUND", "no archived meeting with this id");
    const { result, snapshot } = await groupStub(c, key).taskApply(key, importMeetingTasks(record), OPERATOR);
    if (!result.ok) return apiError(c, 400, result.code, result.message);
    return c.json({ groupKey: key, meetingId: record.meetingId, changed: result.changed, ids: result.ids, tasks: snapshot.tasks });
  });

  return app;
}

function intParam(v: string | undefined, def: number, min: number, max: number): number {
  const n = v === undefined ? def : Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : def;
}

const TasksBody = z.object({ tasks: z.array(TaskInput, { error: "tasks must be an array of task objects" }).min(1).max(200) });

const MessageBody = z.object({
  category: z.string().max(64).optional(),
  payload: z.record(z.string(), z.unknown(), { error: "payload must be an object" }),
  from: z.string().max(64).optional(),
});
