import type { Settings } from "../config/settings.ts";
import type { PeerEnvelope } from "./messages.ts";

// AI relay for `category:"task"` (PROTOCOL §9): wired to the LLM client in the next change.
export async function relayTask(envelope: PeerEnvelope, _settings: Settings): Promise<PeerEnvelope> {
  return envelope;
}
