// Small statistics and pacing helpers for the benchmark.

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles, rounded to 0.01. `null` when there are no samples. */
export function summarize(samples: number[]): Summary | null {
  if (!samples.length) return null;
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), max: r(s[s.length - 1]!), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface PacedRun<T> {
  results: PromiseSettledResult<T>[];
  /** Launches per second actually achieved (the event loop can fall behind the schedule). */
  achievedRate: number;
}

/**
 * Starts `fn(i)` for i in [0, count) at `rate` per second on a fixed schedule (no drift: each start
 * is due at t0 + i/rate, however long earlier calls take) and waits for all of them.
 */
export async function paced<T>(count: number, rate: number, fn: (i: number) => Promise<T>, shouldStop: () => boolean = () => false): Promise<PacedRun<T>> {
  // Settled as they start, so a rejection while later calls are still being paced is never "unhandled".
  const started: Promise<PromiseSettledResult<T>>[] = [];
  const t0 = performance.now();
  let last = t0;
  for (let i = 0; i < count && !shouldStop(); i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait >= 1) await sleep(wait);
    last = performance.now();
    started.push(
      fn(i).then(
        (value): PromiseSettledResult<T> => ({ status: "fulfilled", value }),
        (reason: unknown): PromiseSettledResult<T> => ({ status: "rejected", reason }),
      ),
    );
  }
  const results = await Promise.all(started);
  const span = (last - t0) / 1000;
  return { results, achievedRate: started.length > 1 && span > 0 ? Math.round(((started.length - 1) / span) * 10) / 10 : rate };
}

/** Counts of error kinds, e.g. {"upgrade 503": 2, "ECONNRESET": 1}. */
export function tally(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}
