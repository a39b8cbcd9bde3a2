import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MeetingSummaryOut } from "../../src/meeting/messages.ts";
import { api, connectDevice, eventually, uniqueId, type Json, type TestSocket } from "./helpers.ts";
import { hooks, llm } from "./services.ts";

const stubOf = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));
const GOOD = JSON.stringify({
  title: "Launch review",
  bullets: ["Beta feedback is positive", "Two crash reports remain"],
  decisions: ["Ship on Friday"],
  actions: ["Alice fixes the crash", "Bob updates the docs"],
  risks: ["App store review may be slow"],
  nextSteps: ["Release notes by Thursday"],
});

/** Makes a named timer due now and runs the alarm, instead of waiting for it. */
async function fireTimer(id: string, name: string) {
  await runInDurableObject(stubOf(id), (i) => {
    const s = i.session;
    const t = s.timers.get(name);
    if (t) s.timers.set(name, Date.now() - 1, t.data);
  });
  await runDurableObjectAlarm(stubOf(id));
}

async function startMeeting(id: string): Promise<TestSocket> {
  const { sock } = await connectDevice(id);
  expect(await sock.request({ type: "mode", state: "start", mode: "meeting" })).toMatchObject({ status: "ok", mode: "meeting" });
  return sock;
}

async function snippet(sock: TestSocket, ...texts: string[]): Promise<Json> {
  const reply = sock.next((m) => m.type === "meeting" && m.phase === "snippet");
  sock.send({ type: "meeting", phase: "snippet", items: texts.map((text, i) => ({ tag: "asr", text, speakerId: `s${i % 2}` })) });
  return reply;
}

async function finalize(sock: TestSocket): Promise<{ ack: Json; stages: string[]; summary: Json }> {
  sock.send({ type: "meeting", phase: "finalize" });
  const ack = await sock.next((m) => m.type === "meeting" && m.phase === "finalize");
  const summary = await sock.next((m) => m.type === "meeting" && m.phase === "summary", 15_000);
  const stages = sock.received.filter((m) => m.phase === "progress").map((m) => m.stage);
  return { ack, stages, summary };
}

beforeEach(async () => {
  await llm.reset();
  await llm.answer(GOOD);
  await hooks.reset();
});

describe("meeting content", () => {
  it("acks snippets, echoes typed utterances and pushes only new segments on the alarm", async () => {
    const id = uniqueId("dd:00:01");
    const sock = await startMeeting(id);
    expect(await snippet(sock, "Welcome everyone", "Agenda first")).toEqual({ type: "meeting", status: "ok", phase: "snippet", count: 2 });
    sock.send({ type: "listen", state: "detect", text: "We ship on Friday" });
    const echo = await sock.next((m) => m.type === "audio");
    expect(echo).toMatchObject({ type: "audio", event: "transcription", text: "We ship on Friday", ts: expect.any(Number), session_id: expect.any(String) });

    await fireTimer(id, "meeting-push");
    const push = await sock.next((m) => m.phase === "transcript");
    expect(push.items.map((i: Json) => [i.seq, i.text])).toEqual([
      [1, "Welcome everyone"],
      [2, "Agenda first"],
      [3, "We ship on Friday"],
    ]);
    expect(push.items[0]).toMatchObject({ ts: expect.any(Number), speakerId: "s0" });
    await snippet(sock, "Any risks?");
    await fireTimer(id, "meeting-push");
    expect((await sock.next((m) => m.phase === "transcript")).items.map((i: Json) => i.seq)).toEqual([4]);
    await fireTimer(id, "meeting-push"); // nothing new: no push
    await sock.request({ type: "ping", x: 1 }, "pong");
    expect(sock.received.filter((m) => m.phase === "transcript")).toHaveLength(2);
    sock.close();
  });

  it("validates snippets and refuses content outside meeting mode", async () => {
    const { sock } = await connectDevice(uniqueId("dd:00:02"));
    expect(await sock.request({ type: "meeting", phase: "snippet", items: [{ tag: "a", text: "x" }] }, "error")).toMatchObject({ code: "NOT_IN_MODE" });
    await sock.request({ type: "mode", state: "start", mode: "meeting" });
    expect(await sock.request({ type: "meeting", phase: "snippet", items: [{ text: "no tag" }] })).toEqual({
      type: "meeting",
      status: "error",
      code: "SCHEMA_INVALID",
      message: "items must be array of {tag,text}: missing one of tag/text (items[0])",
    });
    expect(await sock.request({ type: "meeting", phase: "snippet", items: "text" })).toMatchObject({
      code: "SCHEMA_INVALID",
      message: expect.stringContaining("items must be array of {tag,text}"),
    });
    expect(await sock.request({ type: "meeting", phase: "snippet" })).toMatchObject({ code: "SCHEMA_INVALID", message: "missing: items" });
    sock.close();
  });
});

describe("finalize", () => {
  it("acks at once, reports progress, summarises with the LLM and refuses new content", async () => {
    const id = uniqueId("dd:00:03");
    const sock = await startMeeting(id);
    await snippet(sock, "Beta feedback is positive", "Two crash reports remain", "We ship on Friday");
    const { ack, stages, summary } = await finalize(sock);
    expect(ack).toEqual({ type: "meeting", phase: "finalize", meetingId: expect.stringMatching(/^m-/), startedAt: expect.any(Number), pendingCount: 3 });
    expect(stages).toEqual(["prepare", "llm_start", "llm_done", "archived", "done"]);
    expect(MeetingSummaryOut.parse(summary)).toMatchObject({
      meetingId: ack.meetingId,
      title: "Launch review",
      decisions: ["Ship on Friday"],
      duration: expect.stringMatching(/^\d\d:\d\d:\d\d$/),
    });
    expect(summary.degraded).toBeUndefined();
    // Pushes stopped, new content refused.
    expect(await snippet(sock, "late")).toEqual({ type: "meeting", status: "ok", phase: "snippet", count: 0, ignored: true });
    sock.send({ type: "listen", state: "detect", text: "too late" });
    await sock.request({ type: "ping", y: 1 }, "pong");
    expect(sock.received.some((m) => m.type === "audio")).toBe(false);
    const timer = await runInDurableObject(stubOf(id), (i) => i.session.timers.get("meeting-push"));
    expect(timer).toBeUndefined();
    // A repeat gives the same summary, idempotent, without another LLM call.
    const againP = sock.next((m) => m.phase === "summary" && m.idempotent === true);
    sock.send({ type: "meeting", phase: "finalize" });
    const again = await againP;
    expect(again).toEqual({ ...summary, idempotent: true });
    expect(await llm.calls()).toBe(1);
    sock.close();
  });

  it("10 concurrent finalizes make one LLM call and give the same summary", async () => {
    const id = uniqueId("dd:00:04");
    const sock = await startMeeting(id);
    await snippet(sock, "One", "Two");
    await llm.mode("slow", { delayMs: 300 });
    for (let i = 0; i < 10; i++) sock.send({ type: "meeting", phase: "finalize" });
    const summaries: Json[] = [];
    while (summaries.length < 10) summaries.push(await sock.next((m) => m.phase === "summary", 15_000));
    expect(await llm.calls()).toBe(1);
    expect(summaries.filter((s) => !s.idempotent)).toHaveLength(1);
    for (const s of summaries) expect({ ...s, idempotent: undefined }).toEqual({ ...summaries[0], idempotent: undefined });
    expect(sock.received.filter((m) => m.phase === "finalize")).toHaveLength(1);
    sock.close();
  });

  it("still yields a valid, useful summary when the LLM answers garbage or fails", async () => {
    for (const [mode, reason] of [
      ["non_json", "LLM_OUTPUT_NOT_JSON"],
      ["http500", "LLM_HTTP_ERROR"],
      ["truncated_json", "LLM_OUTPUT_TRUNCATED"],
    ] as const) {
      await llm.mode(mode);
      const sock = await startMeeting(uniqueId("dd:00:05"));
      await snippet(sock, "We decided to ship on Friday", "Alice will fix the crash", "The risk is the app store review");
      const { summary } = await finalize(sock);
      expect(MeetingSummaryOut.parse(summary).degraded).toBe(reason);
      expect(summary.title.length).toBeGreaterThan(0);
      expect(summary.bullets.length).toBeGreaterThan(0);
      sock.close();
    }
    await llm.mode(null);
  });

  it("survives a disconnect: the meeting is finished on a new socket", async () => {
    const id = uniqueId("dd:00:06");
    const first = await startMeeting(id);
    await snippet(first, "Said before the disconnect");
    first.close();
    await first.closed();
    await evictDurableObject(stubOf(id));
    const { sock } = await connectDevice(id);
    expect(await sock.request({ type: "mode", state: "start", mode: "meeting" })).toMatchObject({ idempotent: true });
    await snippet(sock, "Said after the reconnect");
    const { ack } = await finalize(sock);
    expect(ack.pendingCount).toBe(2);
    const transcript = (await (await api(`/meetings/${ack.meetingId}/transcript`)).json()) as Json;
    expect(transcript.items.map((i: Json) => i.text)).toEqual(["Said before the disconnect", "Said after the reconnect"]);
    sock.close();
  });

  it("mode end finalises, and the summary waits for a device that left", async () => {
    const id = uniqueId("dd:00:07");
    const sock = await startMeeting(id);
    await snippet(sock, "Short meeting");
    expect(await sock.request({ type: "mode", state: "end", mode: "meeting" })).toMatchObject({ status: "ok", state: "end" });
    expect(await sock.next((m) => m.phase === "finalize")).toMatchObject({ pendingCount: 1 });
    const summary = await sock.next((m) => m.phase === "summary", 15_000);
    expect(summary.title).toBe("Launch review");
    sock.close();
  });
});

describe("archive and API", () => {
  it("lists meetings newest first, serves record and paged transcript", async () => {
    const id = uniqueId("dd:00:08");
    const ids: string[] = [];
    for (let n = 0; n < 2; n++) {
      const sock = await startMeeting(id);
      await snippet(sock, ...Array.from({ length: 3 }, (_, i) => `line ${n}.${i}`));
      ids.push((await finalize(sock)).ack.meetingId);
      await sock.request({ type: "mode", state: "end", mode: "meeting" });
      sock.close();
      await sock.closed();
    }
    const list = (await (await api(`/meetings?limit=10&device=${id}`)).json()) as Json;
    expect(list.items.map((m: Json) => m.meetingId)).toEqual([...ids].reverse());
    expect(list.items[0]).toMatchObject({ deviceId: id, title: "Launch review", segmentCount: 3 });
    const record = (await (await api(`/meetings/${ids[0]}`)).json()) as Json;
    expect(record).toMatchObject({ meetingId: ids[0], deviceId: id, segmentCount: 3, summary: { title: "Launch review" } });
    const page = (await (await api(`/meetings/${ids[0]}/transcript?offset=1&limit=1`)).json()) as Json;
    expect(page).toMatchObject({ total: 3, offset: 1, limit: 1, items: [{ seq: 2, text: "line 0.1" }] });
    expect((await api("/meetings/m-20260101-00000000ff")).status).toBe(404);
    const bad = await api(`/meetings/${"m".repeat(5000)}`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "INVALID_REQUEST", message: "invalid meeting id" } });
  });

  it("imports a meeting's actions as tasks, idempotently", async () => {
    const sock = await startMeeting(uniqueId("dd:00:09"));
    await snippet(sock, "Alice fixes the crash");
    const { ack } = await finalize(sock);
    const res = await api("/groups/import-grp/tasks/import-meeting", { method: "POST", body: JSON.stringify({ meetingId: ack.meetingId }) });
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ changed: true, tasks: [{ title: "Alice fixes the crash" }, { title: "Bob updates the docs" }] });
    const again = (await (
      await api("/groups/import-grp/tasks/import-meeting", { method: "POST", body: JSON.stringify({ meetingId: ack.meetingId }) })
    ).json()) as Json;
    expect(again.changed).toBe(false);
    sock.close();
  });
});

describe("webhook", () => {
  async function hmacHex(key: string, text: string) {
    const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return [...new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  async function hmacB64(key: string, text: string) {
    const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text)))));
  }

  it("posts the signed summary; a failure is retried with the same id, even after eviction", async () => {
    await hooks.fail(1, 503);
    const id = uniqueId("dd:00:10");
    const sock = await startMeeting(id);
    await snippet(sock, "Webhook meeting");
    const { ack } = await finalize(sock);
    sock.close();
    await sock.closed();
    await runDurableObjectAlarm(stubOf(id)); // first attempt (due at once)
    let got = await hooks.received();
    const mine = () => got.filter((r) => r.body.includes(ack.meetingId));
    expect(mine()).toHaveLength(1);
    expect(mine()[0]!.status).toBe(503);
    const timers = await runInDurableObject(stubOf(id), (_i, state) =>
      state.storage.sql.exec<{ name: string; due: number }>("SELECT name, due FROM timers WHERE name LIKE 'webhook:%'").toArray(),
    );
    expect(timers).toHaveLength(1);

    await evictDurableObject(stubOf(id));
    await fireTimer(id, timers[0]!.name);
    got = await hooks.received();
    expect(mine()).toHaveLength(2);
    const [first, retry] = mine();
    expect(retry!.status).toBe(200);
    expect(retry!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
    const body = JSON.parse(retry!.body);
    expect(body).toMatchObject({ event: "meeting.summarized", meetingId: ack.meetingId, deviceId: id, summary: { title: "Launch review" } });
    expect(retry!.headers["x-meeting-signature"]).toBe(`sha256=${await hmacHex("test-webhook-secret", retry!.body)}`);
    const ts = retry!.headers["webhook-timestamp"]!;
    expect(retry!.headers["webhook-signature"]).toBe(`v1,${await hmacB64("test-webhook-secret", `${retry!.headers["webhook-id"]}.${ts}.${retry!.body}`)}`);
  });
});

describe("webhook delivery state (PROTOCOL §6.1)", () => {
  const webhookTimer = async (id: string) =>
    (
      await runInDurableObject(stubOf(id), (_i, state) =>
        state.storage.sql.exec<{ name: string; due: number }>("SELECT name, due FROM timers WHERE name LIKE 'webhook:%'").toArray(),
      )
    )[0];
  const view = async (meetingId: string) => ((await (await api(`/meetings/${meetingId}`)).json()) as Json).webhook;
  // Delays long enough that no real alarm fires during the test: the test fires each one itself.
  const SCHEDULE_S = [100, 200, 300, 400, 500, 600, 700];
  const setSchedule = (value: string | null) => api("/config", { method: "PUT", body: JSON.stringify({ values: { MEETING_WEBHOOK_RETRY_S: value } }) });
  const refresh = (id: string) => runInDurableObject(stubOf(id), (o) => o.config.refresh(Date.now(), true));
  beforeEach(async () => {
    expect((await setSchedule(SCHEDULE_S.join(","))).status).toBe(200);
  });
  afterEach(async () => {
    await setSchedule(null);
  });

  it("retries on the schedule with one id until the receiver recovers, across evictions; exactly one delivery", async () => {
    await hooks.fail(3, 502);
    const id = uniqueId("dd:00:12");
    await refresh(id);
    const sock = await startMeeting(id);
    await snippet(sock, "Retry schedule meeting");
    const { ack } = await finalize(sock);
    sock.close();
    await sock.closed();
    const start = Date.now();
    await runDurableObjectAlarm(stubOf(id)); // attempt 1, due at once
    for (let attempt = 2; attempt <= 4; attempt++) {
      const t = await webhookTimer(id);
      expect(t).toBeDefined();
      // The n-th delay of the schedule plus at most 20 % jitter.
      const base = SCHEDULE_S[attempt - 2]! * 1000;
      expect(t!.due - start).toBeGreaterThanOrEqual(base);
      expect(t!.due - Date.now()).toBeLessThanOrEqual(base * 1.2 + 1000);
      expect(await view(ack.meetingId)).toEqual({ state: "pending", attempts: attempt - 1, lastStatus: 502 });
      await evictDurableObject(stubOf(id));
      await fireTimer(id, t!.name);
    }
    const mine = (await hooks.received()).filter((r) => r.body.includes(ack.meetingId));
    expect(mine.map((r) => r.status)).toEqual([502, 502, 502, 200]);
    expect(new Set(mine.map((r) => r.headers["webhook-id"]))).toEqual(new Set([`wh_${ack.meetingId}`]));
    expect(await view(ack.meetingId)).toEqual({ state: "delivered", attempts: 4, lastStatus: 200 });
    expect(await webhookTimer(id)).toBeUndefined();

    // Redelivery: a new series with the same id; 409 while it is pending.
    const again = await api(`/meetings/${ack.meetingId}/webhook`, { method: "POST" });
    expect(again.status).toBe(202);
    expect(((await again.json()) as Json).webhook.state).toBe("pending");
    const busy = await api(`/meetings/${ack.meetingId}/webhook`, { method: "POST" });
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as Json).error.code).toBe("CONFLICT");
    await runDurableObjectAlarm(stubOf(id));
    const all = (await hooks.received()).filter((r) => r.body.includes(ack.meetingId));
    expect(all).toHaveLength(5);
    expect(all[4]!.headers["webhook-id"]).toBe(`wh_${ack.meetingId}`);
    expect(await view(ack.meetingId)).toEqual({ state: "delivered", attempts: 5, lastStatus: 200 });
  });

  it("fails after the last delay, then a redelivery can succeed", async () => {
    await hooks.fail(8, 500);
    const id = uniqueId("dd:00:13");
    await refresh(id);
    const sock = await startMeeting(id);
    await snippet(sock, "Failing receiver meeting");
    const { ack } = await finalize(sock);
    sock.close();
    await sock.closed();
    await runDurableObjectAlarm(stubOf(id));
    for (let i = 0; i < 7; i++) await fireTimer(id, (await webhookTimer(id))!.name);
    expect(await view(ack.meetingId)).toEqual({ state: "failed", attempts: 8, lastStatus: 500 });
    expect(await webhookTimer(id)).toBeUndefined();
    expect((await api(`/meetings/${ack.meetingId}/webhook`, { method: "POST" })).status).toBe(202);
    await runDurableObjectAlarm(stubOf(id));
    expect(await view(ack.meetingId)).toEqual({ state: "delivered", attempts: 9, lastStatus: 200 });
  });
});

describe("retention timer", () => {
  it("runs the device's retention at each archive and again a day later while it holds meetings", async () => {
    const id = uniqueId("dd:00:14");
    const sock = await startMeeting(id);
    await snippet(sock, "Retention timer meeting");
    await finalize(sock);
    const timer = await eventually(
      () => runInDurableObject(stubOf(id), (i) => i.session.timers.get("meeting-retention")),
      (t) => t !== undefined,
    );
    expect(timer!.due - Date.now()).toBeGreaterThan(86_400_000 - 60_000);
    expect(timer!.due - Date.now()).toBeLessThanOrEqual(86_400_000);
    await fireTimer(id, "meeting-retention");
    // Still holding a meeting: the next run is a day away again.
    expect(await runInDurableObject(stubOf(id), (i) => i.session.timers.get("meeting-retention"))).toBeDefined();
    sock.close();
  });
});

describe("transcript cycle while the device is away", () => {
  it("stops waking the object when nobody listens and resumes after the next hello", async () => {
    const id = uniqueId("dd:00:11");
    const sock = await startMeeting(id);
    await snippet(sock, "before leaving");
    sock.close();
    await sock.closed();
    await fireTimer(id, "meeting-push");
    const timer = () => runInDurableObject(stubOf(id), (i) => i.session.timers.get("meeting-push"));
    expect(await timer()).toBeUndefined();
    const { sock: again } = await connectDevice(id);
    expect(await eventually(timer, (t) => t !== undefined)).toBeDefined();
    await fireTimer(id, "meeting-push");
    expect((await again.next((m) => m.phase === "transcript")).items.map((i: Json) => i.text)).toEqual(["before leaving"]);
    again.close();
  });
});
