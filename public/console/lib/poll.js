// Live state by polling with the Authorization header (a stream would need a token in the URL,
// which the console never puts there). A poller skips ticks while the tab is hidden, never runs
// two fetches at once, and can be nudged to run now after an action.

/**
 * @param {number} intervalMs
 * @param {() => Promise<void>} fn
 * @param {(err: unknown) => void} [onError]
 */
export function poller(intervalMs, fn, onError = () => {}) {
  let timer = 0;
  let running = false;
  let again = false;
  let stopped = true;

  async function tick() {
    clearTimeout(timer);
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      if (!document.hidden) await fn();
    } catch (err) {
      onError(err);
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      void tick();
    } else timer = setTimeout(tick, intervalMs);
  }

  // Back in view: catch up at once instead of waiting out the interval.
  const onVisible = () => {
    if (!document.hidden && !stopped) void tick();
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      document.addEventListener("visibilitychange", onVisible);
      void tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
    /** Runs a tick now (after an action whose effect should show at once). */
    now() {
      if (!stopped) void tick();
    },
  };
}
