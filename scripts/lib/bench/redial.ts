import { FIRMWARE_HELLO, type DeviceClient, type Json } from "../device-client.ts";
import { sleep } from "./stats.ts";
import { failureKind, type Target } from "./targets.ts";

// A device that comes back after its server went away, as the badge firmware does: on close code
// 1012 (server restarting, PROTOCOL §3) it redials at once, as does a device waking up; on any
// other loss it waits 1 s, then
// doubles the wait up to 30 s, each wait ±25 % so a fleet does not come back in lockstep. Each
// attempt is the firmware's start-up path: the OTA check (a fresh token and WebSocket URL; the
// bare echo target has none), then the upgrade and the hello. A failed OTA check, a refused
// upgrade or a missing hello reply count as a failed attempt and back off the same way.

export const FIRST_RETRY_MS = 1000;
export const MAX_RETRY_MS = 30_000;
export const JITTER = 0.25;

export function backoffMs(failures: number, random = Math.random()): number {
  const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
  return Math.round(base * (1 - JITTER + 2 * JITTER * random));
}

/** The wait before the first attempt: none after 1012 or on waking up (no close code). */
export function firstWaitMs(closeCode: number | null, random = Math.random()): number {
  return closeCode === 1012 || closeCode === null ? 0 : backoffMs(0, random);
}

export interface RedialOptions {
  timeoutMs: number;
  /** Give up after this long (ms from the loss). */
  deadlineMs: number;
  stopped: () => boolean;
  /** Sees each text message of each socket first (true consumes it), set before the hello. */
  tap?: (msg: Json, at: number) => boolean;
}

export interface Comeback {
  id: string;
  /** When the connection was lost (or the device woke), performance.now(). */
  lostAt: number;
  /** The close code that ended the old socket (null for a device that was asleep and wakes). */
  closeCode: number | null;
  /** When the hello reply arrived on the new socket, performance.now(); null if it never did. */
  backAt: number | null;
  /** When the attempt that succeeded (or the last one) started. */
  lastAttemptAt: number | null;
  attempts: number;
  failures: string[];
  client: DeviceClient | null;
}

/** Redials until the device has a socket with a hello reply again, or the deadline passes. */
export async function redial(target: Target, id: string, lostAt: number, closeCode: number | null, opts: RedialOptions): Promise<Comeback> {
  const out: Comeback = { id, lostAt, closeCode, backAt: null, lastAttemptAt: null, attempts: 0, failures: [], client: null };
  let wait = firstWaitMs(closeCode);
  for (;;) {
    if (wait > 0) await sleep(wait);
    if (opts.stopped() || performance.now() - lostAt > opts.deadlineMs) return out;
    out.attempts++;
    out.lastAttemptAt = performance.now();
    try {
      await target.prepare(id);
      const { client } = await target.open(id, opts.timeoutMs, { hello: false });
      if (opts.tap) client.tap(opts.tap);
      client.send(FIRMWARE_HELLO);
      try {
        await client.next((m) => m.type === "hello", opts.timeoutMs);
      } catch (err) {
        client.ws.terminate();
        throw err;
      }
      out.backAt = performance.now();
      out.client = client;
      return out;
    } catch (err) {
      out.failures.push(failureKind(err));
      wait = backoffMs(out.failures.length);
    }
  }
}
