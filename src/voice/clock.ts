// Time for pacing audio. The pacer needs real sleeps (a reply is played in real time), which only
// the voice pipeline and provider deadlines may use: everything else in the session runs on alarms.

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (the caller checks which). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    });
  },
};
