import type { DeliveryAccess, DeliveryOutcome, PeerEnvelope } from "./messages.ts";

// How a device's session reaches other devices and groups. The Durable Object implements it with
// typed RPC to other objects; tests can implement it in memory.

export interface BroadcastResult {
  /** Set when the sender broadcast too recently; nothing was sent. */
  retryAfterMs?: number;
  delivered: string[];
  enqueued: string[];
  queueFull: string[];
}

export interface PeerPort {
  deliver(target: string, envelope: PeerEnvelope, access?: DeliveryAccess): Promise<DeliveryOutcome>;
  broadcast(groupKey: string, from: string, envelope: PeerEnvelope): Promise<BroadcastResult>;
  notifyRedelivered(sender: string, to: string, count: number): Promise<void>;
  /**
   * Joins the device to its group under its name (once per device, group key and name; the device
   * remembers). Only the device's own object calls it, so the group takes its word (a profile's
   * group and alias included).
   */
  join(groupKey: string, deviceId: string, name: string | null): Promise<void>;
  /** The device's group changed: it is no longer a member of `groupKey`. */
  leave(groupKey: string, deviceId: string): Promise<void>;
}
