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

/**
 * The operator API allows 600 requests a minute per token (API_RATE_LIMIT in wrangler.toml, PROTOCOL
 * §1.1) and the bench has one token. Its API calls therefore stay under API_BUDGET in any 60 s (the
 * server counts in windows of a minute, so no window can see more), waiting when the last 60 s used
 * it up; a 429 all the same waits its Retry-After and tries again. Waits happen before a request is
 * sent, so they never count in a request's measured time.
 */
export const API_BUDGET = 550;
const API_WINDOW_MS = 60_000;
const apiSent: number[] = [];

/** Waits until `n` more operator API requests fit in the budget (1: the next one). */
export async function apiHeadroom(ctx: BenchContext, n = 1): Promise<void> {
  const need = Math.min(n, API_BUDGET);
  for (;;) {
    const now = performance.now();
    while (apiSent.length && apiSent[0]! <= now - API_WINDOW_MS) apiSent.shift();
    if (apiSent.length + need <= API_BUDGET) return;
    const wait = apiSent[apiSent.length + need - API_BUDGET - 1]! + API_WINDOW_MS - now;
    if (wait > 5000) ctx.log(`operator API: ${apiSent.length} requests in the last minute, waiting ${Math.round(wait / 1000)} s (limit 600 a minute)`);
    await sleep(wait + 1);
  }
}

/** One request to the bench server's operator API (`/api/...`), once the budget has room for it. */
export async function adminRequest(ctx: BenchContext, path: string, init: RequestInit = {}): Promise<Response> {
  await apiHeadroom(ctx);
  apiSent.push(performance.now());
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
  return fetch(new URL(path, ctx.server.url), { ...init, headers });
}

/** `adminRequest`, and after a 429 the same again once its Retry-After has passed (twice at most). */
export async function adminFetch(ctx: BenchContext, path: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await adminRequest(ctx, path, init);
    if (res.status !== 429 || attempt >= 2) return res;
    await res.arrayBuffer();
    const s = Number(res.headers.get("retry-after")) || 60;
    ctx.log(`operator API answered 429 to ${path}: waiting ${s} s (Retry-After)`);
    await sleep(s * 1000);
  }
}

/** GET on the bench server's operator API (`/api/...`), JSON. */
export async function adminGet<T>(ctx: BenchContext, path: string): Promise<T> {
  const res = await adminFetch(ctx, path);
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
