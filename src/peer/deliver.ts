import { log } from "../log.ts";
import type { DeliveryAccess, DeliveryOutcome, PeerEnvelope } from "./messages.ts";

// A delivery that failed in transit (an RPC error, an object being reset) is retried once: the
// message id makes delivery idempotent, so a retry can never queue a message twice. Shared by
// direct sends and group broadcasts.

export async function deliverWithRetry(
  deliver: (target: string, envelope: PeerEnvelope, access?: DeliveryAccess) => Promise<DeliveryOutcome>,
  target: string,
  envelope: PeerEnvelope,
  access?: DeliveryAccess,
): Promise<DeliveryOutcome> {
  try {
    return await deliver(target, envelope, access);
  } catch (err) {
    log.warn("peer.deliver_retry", { from: envelope.from, to: target, id: envelope.id, error: err });
    return deliver(target, envelope, access);
  }
}
