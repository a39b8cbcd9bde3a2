import { capability, route } from "../session/capability.ts";
import type { Bucket } from "./archive.ts";
import { handleMeeting, meetingAfterHello, meetingUtterance, pushTranscript, startMeeting } from "./content.ts";
import { Finalizer } from "./finalize.ts";
import { MeetingIn } from "./messages.ts";
import { ARCHIVE_TIMER, FINALIZE_TIMER, MEETING_MIGRATION, PUSH_TIMER, WEBHOOK_TIMER, meetings } from "./store.ts";
import { OUTBOX_MIGRATION, WebhookOutbox, attemptDelivery } from "./webhook.ts";

// Meeting mode (PROTOCOL §6.1): live transcript, exactly-once finalize with an LLM summary, R2
// archive and a signed webhook.

export function meetingCapability(services: { archive: Bucket }) {
  const finalizer = new Finalizer(services.archive);
  return capability({
    name: "meeting",
    routes: { meeting: route(MeetingIn, (msg, ctx) => handleMeeting(msg, ctx, finalizer)) },
    migrations: [MEETING_MIGRATION, OUTBOX_MIGRATION],
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
      async [WEBHOOK_TIMER](session, id) {
        if (!id) return;
        const outbox = new WebhookOutbox(session.sql, session.schema);
        const retryIn = await attemptDelivery(outbox, id, session.settings.MEETING_WEBHOOK_SECRET, session.now(), session.deviceId);
        if (retryIn !== null) session.timers.set(`${WEBHOOK_TIMER}:${id}`, session.now() + retryIn, id);
      },
    },
  });
}
