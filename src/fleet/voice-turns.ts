import { log } from "../log.ts";
import type { Session } from "../session/capability.ts";
import type { FleetPort } from "./port.ts";

// The voice figures of GET /api/stats (turns in the last hour, median time to the first audio
// frame) come from one registry row per turn. The voice capability calls this once a turn has
// answered; the write runs beside the session, never in the turn's path.

/** Records one voice turn; `firstFrameMs`: end of the utterance → first audio frame sent (null if none). */
export function recordVoiceTurn(session: Session, fleet: FleetPort, firstFrameMs: number | null): void {
  session.defer(
    fleet
      .recordTurn(session.deviceId, session.now(), firstFrameMs)
      .catch((err: unknown) => log.warn("fleet.turn_failed", { deviceId: session.deviceId, error: err })),
  );
}
