import { log } from "../log.ts";
import { capability, route, type Session } from "../session/capability.ts";
import type { Bucket } from "./archive.ts";
import { handleMeeting, meetingAfterHello, meetingUtterance, pushTranscript, startMeeting } from "./content.ts";
import { Finalizer } from "./finalize.ts";
import { MeetingIn } from "./messages.ts";
import { ARCHIVE_TIMER, FINALIZE_TIMER, MEETING_MIGRATION, PUSH_TIMER, RETENTION_TIMER, WEBHOOK_TIMER, meetings } from "./store.ts";
import { OUTBOX_MIGRATION, OUTBOX_STATE_MIGRATION, WebhookOutbox, attemptDelivery, retrySchedule, type WebhookView, webhookView } from "./webhook.ts";

// Meeting mode (PROTOCOL §6.1): live transcript, exactly-once finalize with an LLM summary, R2
// archive and a signed webhook.

export function meetingCapability(services: { archive: Bucket }) {
  const finalizer = new Finalizer(services.archive);
  return capability({
    name: "meeting",
    routes: { meeting: route(MeetingIn, (msg, ctx) => handleMeeting(msg, ctx, finalizer)) },
    migrations: [MEETING_MIGRATION, OUTBOX_MIGRATION, OUTBOX_STATE_MIGRATION],
    afterHello: meetingAfterHello,
    modes: {
      meeting: {
        start: startMeeting,
        // The finalize ack goes out now; summary, archive and webhook finish in the background.
        end(session, ctx) {
          const m = meetings(session).latest();
          if (m?.phase === "active") session.defer(finalizer.finalize(session, ctx));
        },
      },
    },
    onUtterance: meetingUtterance,
    timers: {
      [PUSH_TIMER]: pushTranscript,
      [FINALIZE_TIMER]: (session, id) => finalizer.resume(session, id),
      [ARCHIVE_TIMER]: (session, id) => finalizer.retryArchive(session, id),
      [RETENTION_TIMER]: async (session) => {
        const { removed, kept } = await finalizer.retention(session);
        log.info("meeting.retention", { deviceId: session.deviceId, removed, kept });
      },
      async [WEBHOOK_TIMER](session, id) {
        if (!id) return;
        const outbox = new WebhookOutbox(session.sql, session.schema);
        const s = session.settings;
        const retryIn = await attemptDelivery(outbox, id, {
          secret: s.MEETING_WEBHOOK_SECRET,
          schedule: retrySchedule(s.MEETING_WEBHOOK_RETRY_S),
          now: session.now(),
          deviceId: session.deviceId,
        });
        if (retryIn !== null) session.timers.set(`${WEBHOOK_TIMER}:${id}`, session.now() + retryIn, id);
      },
    },
    rpc: {
      /** The delivery state of a meeting's webhook (PROTOCOL §6.1). */
      webhook(session: Session, meetingId: string): WebhookView {
        return webhookView(new WebhookOutbox(session.sql, session.schema), meetingId);
      },
      /** Starts a new series of attempts with the same webhook-id. */
      redeliverWebhook(session: Session, meetingId: string): "accepted" | "pending" | "off" {
        if (!session.settings.MEETING_WEBHOOK_URL) return "off";
        const outbox = new WebhookOutbox(session.sql, session.schema);
        const id = `wh_${meetingId}`;
        const view = webhookView(outbox, meetingId);
        if (view.state === "off") return "off";
        if (!outbox.restart(id)) return "pending";
        session.timers.set(`${WEBHOOK_TIMER}:${id}`, session.now(), id);
        return "accepted";
      },
    },
  });
}
