import { Hono } from "hono";
import { isValidId, normaliseId } from "../../auth/identity.ts";
import { getRecord, getTranscript, listMeetings } from "../../meeting/archive.ts";
import { deviceCaller } from "../../objects/ports.ts";
import type { AppEnv } from "../context.ts";
import { apiError } from "../errors.ts";
import { intQuery, meetingIdParam } from "../validate.ts";

// /api/meetings — the R2 archive: list, record, paged transcript (PROTOCOL §6.1, §11).

export function meetingRoutes() {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const limit = intQuery(c.req.query("limit"), 10, 1, 1000);
    const device = c.req.query("device");
    const deviceId = device ? normaliseId(device) : undefined;
    if (deviceId !== undefined && !isValidId(deviceId)) return apiError(c, 400, "INVALID_REQUEST", "invalid device id");
    const items = await listMeetings(c.env.ARCHIVE, { limit, ...(deviceId ? { deviceId } : {}) });
    return c.json({ items, limit });
  });

  app.get("/:id", meetingIdParam, async (c) => {
    const record = await getRecord(c.env.ARCHIVE, c.req.valid("param").id);
    if (!record) return apiError(c, 404, "NOT_FOUND", "no archived meeting with this id");
    const webhook = await deviceCaller(c.env)(record.deviceId, "meeting.webhook", record.meetingId);
    return c.json({ ...record, webhook });
  });

  // A new series of webhook attempts with the same webhook-id (PROTOCOL §6.1).
  app.post("/:id/webhook", meetingIdParam, async (c) => {
    const record = await getRecord(c.env.ARCHIVE, c.req.valid("param").id);
    if (!record) return apiError(c, 404, "NOT_FOUND", "no archived meeting with this id");
    const result = await deviceCaller(c.env)(record.deviceId, "meeting.redeliverWebhook", record.meetingId);
    if (result === "pending") return apiError(c, 409, "CONFLICT", "a delivery of this webhook is still pending");
    if (result === "off") return apiError(c, 409, "CONFLICT", "no webhook is configured for this meeting");
    return c.json({ meetingId: record.meetingId, webhook: await deviceCaller(c.env)(record.deviceId, "meeting.webhook", record.meetingId) }, 202);
  });

  app.get("/:id/transcript", meetingIdParam, async (c) => {
    const record = await getRecord(c.env.ARCHIVE, c.req.valid("param").id);
    if (!record) return apiError(c, 404, "NOT_FOUND", "no archived meeting with this id");
    const offset = intQuery(c.req.query("offset"), 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intQuery(c.req.query("limit"), 100, 1, 1000);
    const items = await getTranscript(c.env.ARCHIVE, record, offset, limit);
    return c.json({ items, total: record.segmentCount, offset, limit });
  });

  return app;
}
