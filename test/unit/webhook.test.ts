import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { retryDelayMs, signatureHeaders } from "../../src/meeting/webhook.ts";

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

  it("retries after a random 2 to 5 seconds", () => {
    expect(retryDelayMs(0)).toBe(2000);
    expect(retryDelayMs(0.5)).toBe(3500);
    expect(retryDelayMs(0.9999)).toBeLessThan(5000);
  });
});
