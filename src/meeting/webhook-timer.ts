import type { DeviceSession } from "../session/device-session.ts";
import { WEBHOOK_TIMER } from "./meeting.ts";
import { WebhookOutbox, attemptDelivery } from "./webhook.ts";

/** Alarm handler for `webhook:<id>`: one attempt, and the retry timer when one is due. */
export async function deliverWebhook(session: DeviceSession, id: string | null): Promise<void> {
  if (!id) return;
  const retryIn = await attemptDelivery(new WebhookOutbox(session.rt.sql, session.schema), id, session.settings.MEETING_WEBHOOK_SECRET, session.now(), session.deviceId);
  if (retryIn !== null) session.timers.set(`${WEBHOOK_TIMER}:${id}`, session.now() + retryIn, id);
}
