import { Fleet } from "./connections.ts";
import { paced, sleep, tally } from "./stats.ts";
import { failureKind, type Target } from "./targets.ts";
import type { BenchContext } from "./types.ts";

// Helpers of the messaging scenarios (peer, inbox, fanout, finalize): connected devices that must
// all be there before a measurement starts, the operator API of the bench server, and waiting.

/** The bench server's operator token (scripts/bench.ts sets ADMIN_TOKEN to it). */
export const ADMIN_TOKEN = "bench-admin-token";

/**
 * Prepares (ours: OTA check) and opens one socket per id at the ramp rate, all with the hello.
 * Throws, with every socket closed, when any of them failed: these scenarios need all of them.
 */
export async function openDevices(ctx: BenchContext, target: Target, ids: string[]): Promise<Fleet> {
  const { ramp, timeoutMs } = ctx.options;
  const prep = await paced(ids.length, ramp, (i) => target.prepare(ids[i]!), ctx.stopped);
  const prepFailures = tally(prep.results.flatMap((r) => (r.status === "rejected" ? [failureKind(r.reason)] : [])));
  if (Object.keys(prepFailures).length) throw new Error(`${target.name}: OTA checks failed ${JSON.stringify(prepFailures)}`);
  const fleet = new Fleet(target);
  await fleet.open(ids, ramp, timeoutMs, ctx.stopped);
  if (fleet.failures.length || fleet.clients.length < ids.length) {
    await fleet.closeAll();
    throw new Error(`${target.name}: ${ids.length - fleet.clients.length} of ${ids.length} devices did not connect ${JSON.stringify(fleet.failureTally())}`);
  }
  return fleet;
}

/** GET on the bench server's operator API (`/api/...`), JSON. */
export async function adminGet<T>(ctx: BenchContext, path: string): Promise<T> {
  const res = await fetch(new URL(path, ctx.server.url), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

/** Polls `check` every `everyMs` until it is true; false after `timeoutMs`. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** A promise with its resolve, for waits completed by message taps. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves to `fallback` when `p` has not settled within `ms`. */
export function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))]).finally(() => clearTimeout(timer));
}

export const round2 = (x: number) => Math.round(x * 100) / 100;
