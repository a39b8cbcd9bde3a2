import { log } from "../log.ts";
import type { DeviceSession } from "../session/device-session.ts";
import type { Conn } from "../session/conn.ts";
import type { HandlerCtx } from "../session/route.ts";
import type { DeliveryOutcome, PeerEnvelope, PeerRedelivered } from "./messages.ts";

// The target side of peer messaging: a message for this device goes to its current socket, or to
// its inbox; after the next hello the inbox is delivered oldest first and each original sender is
// told how many of its messages arrived.

export function inboxLimits(session: DeviceSession) {
  return { max: session.settings.PEER_INBOX_MAX, ttlMs: session.settings.PEER_INBOX_TTL_S * 1000 };
}

export function deliverLocal(session: DeviceSession, envelope: PeerEnvelope): DeliveryOutcome {
  const conn = session.current();
  if (!conn) return session.inbox.enqueue(envelope, inboxLimits(session), session.now());
  // Just after a hello the inbox may not be delivered yet: it goes first, so order holds.
  if (!conn.state.inboxDrained) drainInbox(session, conn);
  session.send(conn, envelope);
  return "delivered";
}

/** A `redelivered` count for this device as sender: pushed now, or kept for its next hello. */
export function receiveRedelivered(session: DeviceSession, to: string, count: number): void {
  const notice = { type: "peer", event: "redelivered", to, count } satisfies PeerRedelivered;
  if (session.push(notice)) return;
  session.inbox.enqueueNotice(crypto.randomUUID(), notice, inboxLimits(session).ttlMs, session.now());
}

/** After a hello (out of the handshake's way), a device that never joined its group joins. */
export function joinGroupAfterHello(ctx: HandlerCtx): void {
  joinGroup(ctx.session);
}

export function deliverInboxAfterHello(ctx: HandlerCtx): void {
  drainInbox(ctx.session, ctx.conn);
}

/** Sends the inbox on `conn` oldest first, then tells each original sender how many arrived. */
function drainInbox(session: DeviceSession, conn: Conn): void {
  conn.state.inboxDrained = true;
  conn.save();
  const { messages, notices } = session.inbox.drain(session.now());
  if (messages.length === 0 && notices.length === 0) return;
  const perSender = new Map<string, number>();
  for (const m of messages) {
    session.send(conn, { ...m, redelivery: true } satisfies PeerEnvelope);
    perSender.set(m.from, (perSender.get(m.from) ?? 0) + 1);
  }
  for (const n of notices) session.send(conn, n);
  log.info("peer.inbox_delivered", { deviceId: session.deviceId, messages: messages.length, notices: notices.length });
  for (const [sender, count] of perSender) {
    if (sender === session.deviceId) continue;
    session.rt.defer(
      session.rt.peers.notifyRedelivered(sender, session.deviceId, count).catch((err: unknown) => {
        log.warn("peer.redelivered_notify_failed", { sender, to: session.deviceId, error: err });
      }),
    );
  }
}

/**
 * Joins the device's group once per group key (the device remembers), so later connects cost the
 * group nothing. Talking to the group (tasks, broadcast) also makes a device a member.
 */
export function joinGroup(session: DeviceSession): void {
  const key = session.groupKey;
  if (session.store.get("group") === key) return;
  const deviceId = session.deviceId;
  // Noted at once, so it shares the commit of what the device writes just after its first hello
  // (the idle alarm); forgotten again if the join fails, so the next hello retries.
  session.store.set("group", key);
  session.rt.defer(
    session.rt.peers.join(key, deviceId).catch((err: unknown) => {
      log.warn("group.join_failed", { deviceId, groupKey: key, error: err });
      session.store.delete("group");
    }),
  );
}
