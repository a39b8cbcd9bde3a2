import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceClient, type Json } from "../../scripts/lib/device-client.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/lib/test-services.ts";

// A meeting over real sockets with no LLM configured: transcript pushes on the real alarm cycle, a
// degraded but valid summary, the archive through the API, and the signed webhook to a receiver.

let server: DevServer;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  server = await startDevServer({
    vars: { MEETING_TRANSCRIPT_PUSH_MS: "1000", MEETING_WEBHOOK_URL: receiver.url, MEETING_WEBHOOK_SECRET: "e2e-secret" },
  });
});
afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

describe("meeting without an LLM", () => {
  it("pushes transcripts, summarises heuristically, archives and signs the webhook", async () => {
    const dev = await DeviceClient.connect({ baseUrl: server.url, deviceId: "ab:cd:ef:00:00:01" });
    await dev.request({ type: "mode", state: "start", mode: "meeting" });
    await dev.request({
      type: "meeting",
      phase: "snippet",
      items: [
        { tag: "asr", text: "We decided to launch the beta next week", speakerId: "1" },
        { tag: "asr", text: "Alice will prepare the release notes", speakerId: "2" },
      ],
    });
    // MEETING_TRANSCRIPT_PUSH_MS below 3000 is clamped to 3000.
    const push = await dev.next((m) => m.phase === "transcript", 10_000);
    expect((push.items as Json[]).map((i) => i.seq)).toEqual([1, 2]);

    dev.send({ type: "meeting", phase: "finalize" });
    const ack = await dev.next((m) => m.phase === "finalize");
    const summary = await dev.next((m) => m.phase === "summary", 15_000);
    expect(summary).toMatchObject({ meetingId: ack.meetingId, degraded: "LLM_NOT_CONFIGURED" });
    expect(String(summary.title).length).toBeGreaterThan(0);
    expect((summary.bullets as string[]).length).toBeGreaterThan(0);

    const headers = { authorization: "Bearer dev-admin-token" };
    const list = (await (await fetch(`${server.url}/api/meetings?device=ab:cd:ef:00:00:01`, { headers })).json()) as Json;
    expect((list.items as Json[])[0]).toMatchObject({ meetingId: ack.meetingId, segmentCount: 2 });

    for (let i = 0; i < 100 && receiver.received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const hook = receiver.received[0]!;
    expect(JSON.parse(hook.body)).toMatchObject({ event: "meeting.summarized", meetingId: ack.meetingId, deviceId: "ab:cd:ef:00:00:01" });
    expect(hook.headers["x-meeting-signature"]).toBe(`sha256=${createHmac("sha256", "e2e-secret").update(hook.body).digest("hex")}`);
    const signed = `${hook.headers["webhook-id"]}.${hook.headers["webhook-timestamp"]}.${hook.body}`;
    expect(hook.headers["webhook-signature"]).toBe(`v1,${createHmac("sha256", "e2e-secret").update(signed).digest("base64")}`);
    await dev.close();
  });
});
