import { describe, expect, it } from "vitest";
import { BACKUP_SLACK_MS, InsightScheduler, MAX_WAIT_FACTOR, type ScheduleHost, type Trigger } from "../../src/coding/schedule.ts";

// When coding insights are produced (src/coding/schedule.ts): debounce with a max wait, urgent
// triggers at once, one run plus one follow-up, the durable backup, stop and reset. A hand-moved
// clock and hand-fired wakes: no real time passes.

const DEBOUNCE = 800;

interface Run {
  trigger: Trigger;
  signal: AbortSignal;
  finish(): void;
}

function harness() {
  const clock = { now: 1_000_000 };
  const wakes: Array<{ at: number; fn: () => void }> = [];
  const alarm = { at: null as number | null, sets: 0 };
  const runs: Run[] = [];
  const host: ScheduleHost = {
    now: () => clock.now,
    debounceMs: () => DEBOUNCE,
    wake: (delayMs, fn) => wakes.push({ at: clock.now + delayMs, fn }),
    arm: (at) => {
      alarm.at = at;
      alarm.sets++;
    },
    disarm: () => {
      alarm.at = null;
    },
    produce: (trigger, signal) =>
      new Promise<void>((resolve) => {
        runs.push({ trigger, signal, finish: resolve });
      }),
  };
  const s = new InsightScheduler(host);
  /** Moves the clock to `to`, firing the wakes due by then in order. */
  const advance = (to: number) => {
    for (;;) {
      wakes.sort((a, b) => a.at - b.at);
      const next = wakes[0];
      if (!next || next.at > to) break;
      wakes.shift();
      clock.now = Math.max(clock.now, next.at);
      next.fn();
    }
    clock.now = to;
  };
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { s, clock, wakes, alarm, runs, advance, settle };
}

describe("InsightScheduler", () => {
  it("debounces a burst into one insight after the last line, with one backup alarm per cycle", () => {
    const h = harness();
    const t0 = h.clock.now;
    for (let i = 0; i < 100; i++) {
      h.clock.now = t0 + i * 5;
      h.s.noted(false);
    }
    expect(h.alarm.sets).toBe(1);
    expect(h.alarm.at).toBe(t0 + DEBOUNCE + BACKUP_SLACK_MS);
    expect(h.wakes).toHaveLength(1); // one outstanding wake, not one per line
    h.advance(t0 + 99 * 5 + DEBOUNCE - 1);
    expect(h.runs).toHaveLength(0);
    h.advance(t0 + 99 * 5 + DEBOUNCE);
    expect(h.runs.map((r) => r.trigger)).toEqual(["debounced"]);
    expect(h.alarm.at).toBeNull();
  });

  it("a build that never pauses still gets an insight every few debounces", () => {
    const h = harness();
    const t0 = h.clock.now;
    for (let t = 0; t <= DEBOUNCE * MAX_WAIT_FACTOR; t += 100) {
      h.advance(t0 + t);
      h.s.noted(false);
    }
    expect(h.runs.map((r) => r.trigger)).toEqual(["debounced"]);
  });

  it("errors trigger at once and take the pending debounce with them", () => {
    const h = harness();
    h.s.noted(false);
    h.s.noted(true);
    expect(h.runs.map((r) => r.trigger)).toEqual(["urgent"]);
    expect(h.s.pending).toBe(false);
    expect(h.alarm.at).toBeNull();
    h.advance(h.clock.now + 5 * DEBOUNCE);
    expect(h.runs).toHaveLength(1);
  });

  it("one run at a time: triggers meanwhile make a single follow-up", async () => {
    const h = harness();
    h.s.noted(true);
    for (let i = 0; i < 20; i++) h.s.noted(true);
    h.s.noted(false);
    h.advance(h.clock.now + DEBOUNCE);
    expect(h.runs).toHaveLength(1);
    h.runs[0]!.finish();
    await h.settle();
    expect(h.runs.map((r) => r.trigger)).toEqual(["urgent", "urgent"]);
    h.runs[1]!.finish();
    await h.settle();
    expect(h.runs).toHaveLength(2);
    expect(h.s.running).toBeNull();
  });

  it("an urgent trigger replaces a debounced insight in flight, never an urgent one", () => {
    const h = harness();
    h.s.noted(false);
    h.advance(h.clock.now + DEBOUNCE);
    expect(h.runs[0]!.trigger).toBe("debounced");
    h.s.noted(true);
    expect(h.runs[0]!.signal.aborted).toBe(true);
    expect(h.runs[1]!.trigger).toBe("urgent");
    h.s.noted(true);
    expect(h.runs[1]!.signal.aborted).toBe(false);
    expect(h.runs).toHaveLength(2);
  });

  it("the backup alarm: re-arms while memory still waits, fires after an eviction", () => {
    const h = harness();
    h.s.noted(false);
    const due = h.clock.now + DEBOUNCE;
    // Early (a later line moved the due time): the alarm only re-arms.
    h.clock.now = due - 100;
    h.s.alarm();
    expect(h.runs).toHaveLength(0);
    expect(h.alarm.at).toBe(due + BACKUP_SLACK_MS);
    // A fresh scheduler (the object was evicted): the alarm is all that is left.
    const fresh = harness();
    fresh.s.alarm();
    expect(fresh.runs.map((r) => r.trigger)).toEqual(["debounced"]);
  });

  it("a runtime whose waits return at once does not spin; the alarm takes over", () => {
    const h = harness();
    h.s.noted(false);
    const [w] = h.wakes.splice(0);
    w!.fn(); // fired without the clock moving
    expect(h.wakes).toHaveLength(0);
    expect(h.runs).toHaveLength(0);
    h.clock.now = h.alarm.at!;
    h.s.alarm();
    expect(h.runs.map((r) => r.trigger)).toEqual(["debounced"]);
  });

  it("stop: the summary supersedes what is pending or running", () => {
    const h = harness();
    h.s.noted(true);
    h.s.noted(false);
    h.s.summary();
    expect(h.runs[0]!.signal.aborted).toBe(true);
    expect(h.runs[1]!.trigger).toBe("summary");
    expect(h.s.pending).toBe(false);
    h.advance(h.clock.now + 5 * DEBOUNCE);
    expect(h.runs).toHaveLength(2);
  });

  it("reset drops everything, optionally letting a summary finish", () => {
    const h = harness();
    h.s.summary();
    h.s.noted(false);
    h.s.reset(true);
    expect(h.runs[0]!.signal.aborted).toBe(false);
    expect(h.s.pending).toBe(false);
    h.s.reset(false);
    expect(h.runs[0]!.signal.aborted).toBe(true);
  });
});
