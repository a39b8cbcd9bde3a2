// When a coding insight is produced (PROTOCOL §8), as pure logic over a small host, so the rules
// are tested without a runtime or a clock.
//
// - Ordinary lines are debounced in memory: the insight comes CODING_INSIGHT_DEBOUNCE_MS after the
//   last of them, but never later than MAX_WAIT_FACTOR debounces after the first one, so a build
//   that prints without pause still gets an insight every few seconds.
// - Errors, failed steps and phase changes trigger at once.
// - One insight runs at a time, plus at most one follow-up: a trigger while one runs asks for a
//   single follow-up that covers everything since. An urgent trigger replaces a debounced insight
//   in flight (its answer would be stale next to the error), never an urgent one (an error storm
//   would otherwise never let one finish).
// - The in-memory wake is lost when the runtime evicts the object, so the first line of each
//   debounce cycle also arms a durable backup (an alarm) a little after the due time. When the
//   in-memory path fires, the backup is cleared; when the backup fires and memory knows of nothing
//   pending or running, the object was evicted in between and the backup produces the insight.
// - `stop` supersedes whatever is pending or running with the summary.

export const MAX_WAIT_FACTOR = 4;
/** The backup alarm fires this long after the due time, so it only acts when memory did not. */
export const BACKUP_SLACK_MS = 1000;
/** A wake this close to the due time counts as on time (timer granularity). */
const EARLY_MS = 5;

/** Why an insight is produced: logged, and decides what replaces what. */
export type Trigger = "debounced" | "urgent" | "reconnect" | "summary";

export interface ScheduleHost {
  now(): number;
  debounceMs(): number;
  /** Calls `fn` after `delayMs`, in memory (lost if the object is evicted). */
  wake(delayMs: number, fn: () => void): void;
  /** The durable backup: set (replacing any) or clear the alarm. */
  arm(at: number): void;
  disarm(): void;
  /** Produces and sends one insight or summary; resolves (never rejects) when done or aborted. */
  produce(trigger: Trigger, signal: AbortSignal): Promise<void>;
}

interface Running {
  trigger: Trigger;
  controller: AbortController;
  done: Promise<void>;
}

export class InsightScheduler {
  private readonly host: ScheduleHost;
  /** When the pending debounced insight is due (null: none pending). */
  private due: number | null = null;
  /** The first line of the pending cycle: the max-wait counts from it. */
  private firstAt: number | null = null;
  /** The time the outstanding in-memory wake aims at (null: none outstanding). */
  private wakeAt: number | null = null;
  private current: Running | null = null;
  private followUp: Trigger | null = null;
  /** Whether a backup may be set; unknown (so true) in a fresh isolate, where one may survive. */
  private armed = true;

  constructor(host: ScheduleHost) {
    this.host = host;
  }

  /** A log, step or phase was stored; `urgent` for errors, failed steps and phase changes. */
  noted(urgent: boolean): void {
    if (urgent) {
      this.fire("urgent");
      return;
    }
    const now = this.host.now();
    const debounce = this.host.debounceMs();
    this.firstAt ??= now;
    const due = Math.min(now + debounce, this.firstAt + debounce * MAX_WAIT_FACTOR);
    // One backup per cycle, not one storage write per line: a backup that fires before the due
    // time only re-arms itself (see alarm()).
    if (this.due === null) this.arm(due + BACKUP_SLACK_MS);
    this.due = due;
    this.wakeFor(now);
  }

  /** An insight now, outside the debounce (a socket said hello into a run with news). */
  now(trigger: "urgent" | "reconnect"): void {
    this.fire(trigger);
  }

  /** `stop`: the summary replaces whatever is pending or running. */
  summary(): void {
    this.cancelPending();
    this.followUp = null;
    this.current?.controller.abort();
    this.start("summary");
  }

  /**
   * The run was reset (`start`, `clear`, a new run after `stop`) or the mode ended: nothing pending
   * or running survives, except, with `keepSummary`, a summary of the previous run on its way.
   */
  reset(keepSummary: boolean): void {
    this.cancelPending();
    this.followUp = null;
    if (this.current && !(keepSummary && this.current.trigger === "summary")) this.current.controller.abort();
  }

  /** The backup alarm fired (and is gone). */
  alarm(): void {
    this.armed = false;
    if (this.due !== null) {
      if (this.host.now() >= this.due - EARLY_MS) this.fire("debounced");
      else this.arm(this.due + BACKUP_SLACK_MS);
      return;
    }
    if (this.current) return;
    // Armed, yet this isolate knows of nothing pending: the object was evicted after the lines
    // arrived. Their history is durable, so the insight can still be made.
    this.fire("debounced");
  }

  /** Settles when nothing runs and no follow-up is queued (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.current) await this.current.done;
  }

  get pending(): boolean {
    return this.due !== null;
  }

  get running(): Trigger | null {
    return this.current?.trigger ?? null;
  }

  private wakeFor(now: number): void {
    const due = this.due;
    if (due === null || (this.wakeAt !== null && this.wakeAt <= due)) return;
    this.wakeAt = due;
    this.host.wake(Math.max(0, due - now), () => this.woke(due, now));
  }

  private woke(aim: number, from: number): void {
    if (this.wakeAt === aim) this.wakeAt = null;
    if (this.due === null) return;
    const now = this.host.now();
    if (now >= this.due - EARLY_MS) {
      this.fire("debounced");
      return;
    }
    // A clock that did not move means a runtime whose waits return at once (the in-memory test
    // runtime): waking again would spin. The backup alarm takes over there.
    if (now > from) this.wakeFor(now);
  }

  private arm(at: number): void {
    this.armed = true;
    this.host.arm(at);
  }

  private cancelPending(): void {
    this.due = null;
    this.firstAt = null;
    // A storage write saved per trigger: an error storm fires many times between two cycles.
    if (this.armed) this.host.disarm();
    this.armed = false;
  }

  private fire(trigger: Exclude<Trigger, "summary">): void {
    this.cancelPending();
    const cur = this.current;
    if (cur) {
      if (trigger === "debounced" || cur.trigger !== "debounced") {
        // Urgent beats debounced in the queue: the follow-up reads the whole history anyway.
        this.followUp = this.followUp === null || this.followUp === "debounced" ? trigger : this.followUp;
        return;
      }
      cur.controller.abort();
    }
    this.start(trigger);
  }

  private start(trigger: Trigger): void {
    const controller = new AbortController();
    const entry: Running = { trigger, controller, done: Promise.resolve() };
    this.current = entry;
    entry.done = this.host
      .produce(trigger, controller.signal)
      .catch(() => {})
      .then(() => {
        if (this.current !== entry) return;
        this.current = null;
        const next = this.followUp;
        this.followUp = null;
        if (next) this.start(next);
      });
  }
}
