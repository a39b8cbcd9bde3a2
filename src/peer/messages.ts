import { z } from "zod";

// Peer messages (PROTOCOL §9): device → server request, server → device deliveries and receipts.

export const PeerIn = z.looseObject({
  type: z.literal("peer"),
  id: z.string().max(128).optional(),
  to: z.array(z.string().max(128), { error: 'to must be an array of device ids, "broadcast" or "group:<key>"' }).min(1).max(100),
  category: z.string().max(64).optional(),
  payload: z.record(z.string(), z.unknown(), { error: "payload must be an object" }),
});
export type PeerIn = z.infer<typeof PeerIn>;

export const PeerEnvelope = z.object({
  type: z.literal("peer"),
  event: z.literal("message"),
  id: z.string(),
  from: z.string(),
  fromName: z.string(),
  category: z.string(),
  payload: z.record(z.string(), z.unknown()),
  ts: z.number(),
  redelivery: z.literal(true).optional(),
  relay: z.string().optional(),
});
export type PeerEnvelope = z.infer<typeof PeerEnvelope>;

export const FAILURE_CODES = ["UNAUTHORIZED", "QUEUE_FULL", "INVALID_TARGET"] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export const PeerReceipt = z.object({
  type: z.literal("peer"),
  event: z.literal("receipt"),
  status: z.literal("ok"),
  id: z.string(),
  ref: z.string().optional(),
  delivered: z.array(z.string()),
  enqueued: z.array(z.string()),
  failed: z.array(z.object({ id: z.string(), code: z.enum(FAILURE_CODES) })),
  elapsedMs: z.number(),
});
export type PeerReceipt = z.infer<typeof PeerReceipt>;

export const PeerRedelivered = z.object({
  type: z.literal("peer"),
  event: z.literal("redelivered"),
  to: z.string(),
  count: z.number().int().positive(),
});
export type PeerRedelivered = z.infer<typeof PeerRedelivered>;

export type DeliveryOutcome = "delivered" | "enqueued" | "queue_full" | "unauthorized";

/**
 * A direct message's sender as the ACL sees it (PEER_ACL): checked by the target's own object,
 * which knows its group (a profile's group included). Absent for operator sends and broadcasts,
 * whose checks come before.
 */
export interface DeliveryAccess {
  senderGroup: string;
}
