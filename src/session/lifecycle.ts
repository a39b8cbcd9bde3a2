import type { ModeName } from "../protocol/messages.ts";
import type { ConnState } from "./conn.ts";

// When each socket next needs attention: idle warning, idle close, heartbeat, the close of a
// replaced socket, or the restart close of a socket another deployed version accepted. Pure, so the
// rules of PROTOCOL §3 are tested without a runtime or a clock.

export const TIMEOUT_GRACE_MS = 10_000;
export const HEARTBEAT_MS = 60_000;
export const REPLACED_CLOSE_MS = 1_500;
/** A socket from another deployed version that is busy (listening, a turn running) is looked at again this often. */
export const STALE_RECHECK_MS = 5_000;

export interface IdleLimits {
  idleTimeoutS: number;
  idleWarningS: number;
}

/** Meeting, working and coding mode run hands-free for long stretches: ×3 idle limit, heartbeats. */
export function isLongMode(mode: ModeName | null): boolean {
  return mode === "meeting" || mode === "working" || mode === "coding";
}

export function idleLimitMs(limits: IdleLimits, mode: ModeName | null): number {
  return limits.idleTimeoutS * 1000 * (isLongMode(mode) ? 3 : 1);
}

export type SocketAction = { kind: "close-replaced" } | { kind: "restart" } | { kind: "timeout" } | { kind: "warn"; seconds: number } | { kind: "heartbeat" };

export interface Plan {
  /** What to do now (possibly nothing). */
  actions: SocketAction[];
  /** When this socket next needs a look, or null for never. */
  next: number | null;
}

/**
 * Whether the socket was accepted by another deployed version than `build` (this instance's
 * CF_VERSION_METADATA id; "" when unknown, and then nothing is stale). After a deploy a hibernated
 * object's sockets stay open and its next event runs the new code: such a session was set up by
 * the old code (its hello, its tool setup), so it is ended with 1012 and the device reconnects at
 * once into a session of the new version (docs/deploy.md).
 */
export function isStale(s: ConnState, build: string): boolean {
  return build !== "" && s.build !== build;
}

/**
 * `lastInbound` is the later of the last frame we processed and the last ping the runtime answered
 * on our behalf (auto-response), so pings that never woke the object still count as activity.
 * `busy`: a turn is waiting on a provider or a tool, which also earns heartbeats (PROTOCOL §3).
 * `build`: this instance's deployed version; a stale socket is closed with 1012 at its first quiet
 * moment (not listening, no turn running), never in the middle of an utterance or a reply.
 */
export function planSocket(s: ConnState, lastInbound: number, mode: ModeName | null, limits: IdleLimits, now: number, busy = false, build = ""): Plan {
  if (s.replacedAt !== null) {
    const at = s.replacedAt + REPLACED_CLOSE_MS;
    return now >= at ? { actions: [{ kind: "close-replaced" }], next: null } : { actions: [], next: at };
  }
  const stale = isStale(s, build);
  if (stale && !busy && s.listen === "idle") return { actions: [{ kind: "restart" }], next: null };
  const plan = planIdle(s, lastInbound, mode, limits, now, busy);
  if (stale && plan.next !== null) plan.next = Math.min(plan.next, now + STALE_RECHECK_MS);
  return plan;
}

function planIdle(s: ConnState, lastInbound: number, mode: ModeName | null, limits: IdleLimits, now: number, busy: boolean): Plan {
  const limit = idleLimitMs(limits, mode);
  const warnAt = lastInbound + limit - limits.idleWarningS * 1000;
  const timeoutAt = lastInbound + limit + TIMEOUT_GRACE_MS;
  if (now >= timeoutAt) return { actions: [{ kind: "timeout" }], next: null };

  const actions: SocketAction[] = [];
  const warned = s.warnedAt !== null && s.warnedAt >= lastInbound;
  let next = timeoutAt;
  if (!warned && limits.idleWarningS > 0) {
    if (now >= warnAt) actions.push({ kind: "warn", seconds: limits.idleWarningS });
    else next = Math.min(next, warnAt);
  }
  if ((busy || isLongMode(mode)) && s.helloAt !== null) {
    const beatAt = s.lastSentAt + HEARTBEAT_MS;
    if (now >= beatAt) {
      actions.push({ kind: "heartbeat" });
      next = Math.min(next, now + HEARTBEAT_MS);
    } else next = Math.min(next, beatAt);
  }
  return { actions, next };
}
