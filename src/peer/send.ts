import { aliasOf, groupOf, type Settings } from "../config/settings.ts";
import { log } from "../log.ts";
import { aclFrom, mayBroadcast } from "./acl.ts";
import { deliverWithRetry } from "./deliver.ts";
import type { FailureCode, PeerEnvelope, PeerReceipt } from "./messages.ts";
import type { PeerPort } from "./port.ts";
import { parseTargets } from "./targets.ts";

// The sender side (PROTOCOL §9): targets normalised, ACL applied, then each target reached by RPC;
// the receipt says where every target stands. A group target goes through its GroupObject, which
// enforces the broadcast rate limit before it fans out.

/** Sender id of messages posted through the operator API without a `from`. */
export const OPERATOR = "operator";

export interface SendRequest {
  from: string;
  ref?: string | undefined;
  to: readonly string[];
  category?: string | undefined;
  payload: Record<string, unknown>;
  /** API sends skip the ACL: the operator may reach any device. */
  trusted?: boolean;
  /** The sender's own group and name when its session knows them (its profile wins over the settings). */
  fromGroup?: string;
  fromName?: string;
}

export type SendResult = { ok: true; receipt: PeerReceipt; envelope: PeerEnvelope } | { ok: false; code: "RATE_LIMITED"; retryAfterMs: number };

export function newEnvelope(req: SendRequest, settings: Settings, now: number): PeerEnvelope {
  return {
    type: "peer",
    event: "message",
    id: crypto.randomUUID(),
    from: req.from,
    fromName: req.from === OPERATOR ? "operator" : (req.fromName ?? aliasOf(settings, req.from)),
    category: (req.category ?? "chat").trim().toLowerCase() || "chat",
    payload: req.payload,
    ts: now,
  };
}

export async function sendPeer(
  req: SendRequest,
  envelope: PeerEnvelope,
  settings: Settings,
  port: PeerPort,
  startedAt: number,
  now: () => number,
): Promise<SendResult> {
  const senderGroup = req.fromGroup ?? groupOf(settings, req.from);
  const { acl } = aclFrom(settings.PEER_ACL);
  const delivered: string[] = [];
  const enqueued: string[] = [];
  const failed: Array<{ id: string; code: FailureCode }> = [];
  const reached = new Set<string>();
  const targets = parseTargets(req.to, senderGroup);

  // Groups first: a rate-limited broadcast stops the whole message before anything is sent.
  for (const t of targets) {
    if (t.kind !== "group") continue;
    if (!req.trusted && !mayBroadcast(acl, req.from, senderGroup, t.key)) {
      failed.push({ id: t.raw, code: "UNAUTHORIZED" });
      continue;
    }
    const r = await port.broadcast(t.key, req.from, envelope);
    if (r.retryAfterMs !== undefined) return { ok: false, code: "RATE_LIMITED", retryAfterMs: r.retryAfterMs };
    // A device in two targeted groups is reported once, under the first outcome.
    const first = (id: string) => !reached.has(id) && reached.add(id);
    for (const id of r.delivered) if (first(id)) delivered.push(id);
    for (const id of r.enqueued) if (first(id)) enqueued.push(id);
    for (const id of r.queueFull) if (first(id)) failed.push({ id, code: "QUEUE_FULL" });
  }

  const direct = targets.filter((t) => t.kind === "device" && !reached.has(t.id)) as Array<{ kind: "device"; id: string }>;
  const outcomes = await Promise.all(
    direct.map(async (t) => {
      // The target's object judges the ACL (deliverLocal) with its own group: its profile may name
      // another than the settings. Operator sends and an open ACL need no judging.
      const access = req.trusted || acl.allowAll ? undefined : { senderGroup };
      return { id: t.id, outcome: await deliverWithRetry(port.deliver, t.id, envelope, access) };
    }),
  );
  for (const { id, outcome } of outcomes) {
    if (outcome === "delivered") delivered.push(id);
    else if (outcome === "enqueued") enqueued.push(id);
    else failed.push({ id, code: outcome === "queue_full" ? "QUEUE_FULL" : "UNAUTHORIZED" });
  }
  for (const t of targets) if (t.kind === "invalid") failed.push({ id: t.raw, code: "INVALID_TARGET" });

  const receipt: PeerReceipt = {
    type: "peer",
    event: "receipt",
    status: "ok",
    id: envelope.id,
    ...(req.ref !== undefined ? { ref: req.ref } : {}),
    delivered,
    enqueued,
    failed,
    elapsedMs: now() - startedAt,
  };
  // One line per message: debug, so a busy fleet's logs carry it only when asked (LOG_LEVEL=debug).
  log.debug("peer.sent", {
    id: envelope.id,
    from: req.from,
    category: envelope.category,
    delivered: delivered.length,
    enqueued: enqueued.length,
    failed: failed.length,
    elapsedMs: receipt.elapsedMs,
  });
  return { ok: true, receipt, envelope };
}
