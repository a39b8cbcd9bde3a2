import type { FleetPort } from "../fleet/port.ts";
import { capability, route } from "../session/capability.ts";
import type { WorkflowPort } from "../workflow/port.ts";
import { attachedDrain, deliverInboxAfterHello, deliverLocal, inboxOf, joinGroup, receiveRedelivered } from "./delivery.ts";
import { handlePeer } from "./handler.ts";
import { INBOX_MIGRATION } from "./inbox.ts";
import { type DeliveryAccess, PeerIn, type PeerEnvelope } from "./messages.ts";
import type { PeerPort } from "./port.ts";

// Peer messages and the offline inbox (PROTOCOL §9), and the device's group membership.

export function peerCapability(services: { peers: PeerPort; workflow: WorkflowPort; fleet: FleetPort }) {
  const { peers, workflow, fleet } = services;
  return capability({
    name: "peer",
    routes: { peer: route(PeerIn, (msg, ctx) => handlePeer(msg, ctx, peers, workflow)) },
    migrations: [INBOX_MIGRATION],
    afterHello(ctx) {
      deliverInboxAfterHello(ctx, peers, fleet);
      // Out of the handshake's way: a device that never joined its group joins now.
      joinGroup(ctx.session, peers);
    },
    onClose(session, conn, code) {
      // A device that closes normally had its socket outlive the drain: the rows it was sent are
      // done (a reset by a deploy never reaches this handler, so those rows go out again).
      if ((code === 1000 || code === 1001) && attachedDrain(conn)) inboxOf(session).confirm();
      joinGroup(session, peers);
    },
    describe: (session) => ({ inbox: inboxOf(session).count(session.now()) }),
    rpc: {
      deliver: (session, envelope: PeerEnvelope, access?: DeliveryAccess) => deliverLocal(session, envelope, peers, fleet, access),
      redelivered: (session, to: string, count: number) => receiveRedelivered(session, to, count),
    },
  });
}
