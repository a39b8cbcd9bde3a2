import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { retryDelayMs, retrySchedule, signatureHeaders } from "../../src/meeting/webhook.ts";

describe("meeting webhook signing", () => {
  it("signs the raw body (X-Meeting-Signature) and id.timestamp.body (webhook-signature)", async () => {
    const body = '{"event":"meeting.summarized"}';
    const h = await signatureHeaders("s3cret", "wh_m-1", 1_800_000_000, body);
    expect(h["x-meeting-signature"]).toBe(`sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`);
    expect(h["webhook-signature"]).toBe(`v1,${createHmac("sha256", "s3cret").update(`wh_m-1.1800000000.${body}`).digest("base64")}`);
    expect(h).toMatchObject({ "webhook-id": "wh_m-1", "webhook-timestamp": "1800000000", "content-type": "application/json" });
  });

  it("decodes Standard Webhooks secrets (whsec_<base64>) for webhook-signature", async () => {
    const key = Buffer.from("raw-key-bytes");
    const secret = `whsec_${key.toString("base64")}`;
    const h = await signatureHeaders(secret, "id", 1, "{}");
    expect(h["webhook-signature"]).toBe(`v1,${createHmac("sha256", key).update("id.1.{}").digest("base64")}`);
    expect(h["x-meeting-signature"]).toBe(`sha256=${createHmac("sha256", secret).update("{}").digest("hex")}`);
  });

  it("sends no signature headers without a secret", async () => {
    const h = await signatureHeaders("", "id", 1, "{}");
    expect(h["x-meeting-signature"]).toBeUndefined();
    expect(h["webhook-signature"]).toBeUndefined();
  });

  it("retries after each delay of the schedule, lengthened by up to 20 %, then stops", () => {
    const schedule = retrySchedule("3,30,120,600,3600,21600,86400");
    expect(schedule).toEqual([3000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000, 86_400_000]);
    expect(retryDelayMs(schedule, 1, 0)).toBe(3000);
    expect(retryDelayMs(schedule, 2, 0.5)).toBe(33_000);
    expect(retryDelayMs(schedule, 7, 0.9999)).toBeLessThan(86_400_000 * 1.2);
    expect(retryDelayMs(schedule, 8, 0)).toBeNull();
    expect(retrySchedule(" 1, x ,-2,5")).toEqual([1000, 5000]);
    expect(retrySchedule("")).toEqual([]);
  });
});
