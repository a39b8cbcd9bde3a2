import { reportFleet } from "../fleet/capability.ts";
import type { FleetPort } from "../fleet/port.ts";
import { log } from "../log.ts";
import { attached, fact, type HandlerCtx, type Session } from "../session/capability.ts";
import type { Conn } from "../session/conn.ts";
import { CONFIRM_AFTER_MS, Inbox } from "./inbox.ts";
import { aclFrom, mayMessage } from "./acl.ts";
import type { DeliveryAccess, DeliveryOutcome, PeerEnvelope, PeerRedelivered } from "./messages.ts";
import type { PeerPort } from "./port.ts";

// The target side of peer messaging: a direct message passes the ACL with this device's own group,
// then goes to its current socket, or to its inbox; after the next hello the inbox is delivered
// oldest first and each original sender is told how many of its messages arrived.

/** The group key this device has joined, and the name it gave there (see joinGroup). */
const JOINED_GROUP = fact<string>("group");
const JOINED_NAME = fact<string>("group-name");

const INBOX = {};
export function inboxOf(session: Session): Inbox {
  return session.local(INBOX, () => new Inbox(session.sql, session.schema));
}

export function inboxLimits(session: Session) {
  return { max: session.settings.PEER_INBOX_MAX, ttlMs: session.settings.PEER_INBOX_TTL_S * 1000 };
}

/** Whether the inbox has been delivered on this socket; until then new messages queue behind it. */
const drained = (conn: Conn) => attached(conn, "peer", () => ({ drained: false }));

/** Whether this socket got the inbox. */
export function attachedDrain(conn: Conn): boolean {
  return drained(conn).drained;
}

export function deliverLocal(session: Session, envelope: PeerEnvelope, peers: PeerPort, fleet: FleetPort, access?: DeliveryAccess): DeliveryOutcome {
  if (access && !mayMessage(aclFrom(session.settings.PEER_ACL).acl, envelope.from, access.senderGroup, session.deviceId, session.groupKey)) {
    return "unauthorized";
  }
  const conn = session.current();
  if (!conn) {
    const inbox = inboxOf(session);
    const outcome = inbox.enqueue(envelope, inboxLimits(session), session.now());
    // The registry's count (GET /api/stats) follows; a burst becomes one write.
    if (outcome === "enqueued") reportFleet(session, fleet, { inbox: inbox.count(session.now()) });
    return outcome;
  }
  // Just after a hello the inbox may not be delivered yet: it goes first, so order holds.
  if (!drained(conn).drained) drainInbox(session, conn, peers);
  session.send(conn, envelope);
  return "delivered";
}

/** A `redelivered` count for this device as sender: pushed now, or kept for its next hello. */
export function receiveRedelivered(session: Session, to: string, count: number): void {
  const notice = { type: "peer", event: "redelivered", to, count } satisfies PeerRedelivered;
  if (session.push(notice)) return;
  inboxOf(session).enqueueNotice(crypto.randomUUID(), notice, inboxLimits(session).ttlMs, session.now());
}

export function deliverInboxAfterHello(ctx: HandlerCtx, peers: PeerPort, fleet: FleetPort): void {
  if (drainInbox(ctx.session, ctx.conn, peers)) reportFleet(ctx.session, fleet, { inbox: 0 });
}

/** Sends the inbox on `conn` oldest first, then tells each original sender how many arrived; true when it held messages. */
function drainInbox(session: Session, conn: Conn, peers: PeerPort): boolean {
  drained(conn).drained = true;
  conn.save();
  const { messages, notices } = inboxOf(session).drain(session.now());
  if (messages.length === 0 && notices.length === 0) return false;
  const perSender = new Map<string, number>();
  for (const m of messages) {
    session.send(conn, { ...m, redelivery: true } satisfies PeerEnvelope);
    perSender.set(m.from, (perSender.get(m.from) ?? 0) + 1);
  }
  for (const n of notices) session.send(conn, n);
  // Deleted once the socket has outlived the send; a drain cut by the object's reset (a deploy)
  // stays and goes out again after the next hello, same ids (at least once, see inbox.ts).
  session.later(() => {
    if (conn.open) inboxOf(session).confirm();
  }, CONFIRM_AFTER_MS);
  log.info("peer.inbox_delivered", { deviceId: session.deviceId, messages: messages.length, notices: notices.length });
  for (const [sender, count] of perSender) {
    if (sender === session.deviceId) continue;
    session.defer(
      peers.notifyRedelivered(sender, session.deviceId, count).catch((err: unknown) => {
        log.warn("peer.redelivered_notify_failed", { sender, to: session.deviceId, error: err });
      }),
    );
  }
  return true;
}

/**
 * Joins the device's group once per group key (the device remembers), so later connects cost the
 * group nothing. Talking to the group (tasks, broadcast) also makes a device a member. When the
 * device's group changed (its profile, DEVICE_GROUPS) it leaves the group it had joined.
 */
export function joinGroup(session: Session, peers: PeerPort): void {
  const key = session.groupKey;
  const name = session.overrides().alias;
  const previous = session.store.get(JOINED_GROUP);
  // A new profile alias is told too: the group names task owners with it (else DEVICE_ALIASES).
  if (previous === key && (session.store.get(JOINED_NAME) ?? null) === name) return;
  const deviceId = session.deviceId;
  // Noted at once, so it shares the commit of what the device writes just after its first hello
  // (the idle alarm); forgotten again if the join fails, so the next hello retries.
  session.store.set(JOINED_GROUP, key);
  if (name === null) session.store.delete(JOINED_NAME);
  else session.store.set(JOINED_NAME, name);
  session.defer(
    peers.join(key, deviceId, name).catch((err: unknown) => {
      log.warn("group.join_failed", { deviceId, groupKey: key, error: err });
      session.store.delete(JOINED_GROUP);
    }),
  );
  if (previous && previous !== key) {
    session.defer(peers.leave(previous, deviceId).catch((err: unknown) => log.warn("group.leave_failed", { deviceId, groupKey: previous, error: err })));
  }
}
