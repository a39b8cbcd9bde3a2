import { llmFor } from "../llm/client.ts";
import { capability, route, type HandlerCtx, type Session } from "../session/capability.ts";
import { MODE } from "../session/device-store.ts";
import { handleCoding } from "./handler.ts";
import { CodingIn } from "./messages.ts";
import { produceInsight, type InsightDeps } from "./produce.ts";
import { InsightScheduler } from "./schedule.ts";
import { CODING_MIGRATION, codingStore } from "./store.ts";

// Coding mode (PROTOCOL §8): a badge watches a build. Log lines, steps and phases go into a
// bounded history in the device's SQLite; signals and stats follow from it; insights come debounced
// (errors, failed steps and phase changes at once) from the LLM, screened and completed by the
// heuristic; `stop` sends the summary.
//
// Insights run with `session.defer`, not on the turn runner: the runner holds one turn per socket,
// and an insight must neither cancel nor be cancelled by a voice turn or an `abort` on that socket.

export const INSIGHT_TIMER = "coding-insight";

export function codingCapability(deps: Partial<InsightDeps> = {}) {
  const insightDeps: InsightDeps = { llm: deps.llm ?? llmFor, ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}) };
  // Per capability instance (and so per object): the in-memory half of the debounce.
  const key = {};
  const schedulerOf = (session: Session): InsightScheduler =>
    session.local(
      key,
      () =>
        new InsightScheduler({
          now: () => session.now(),
          debounceMs: () => session.settings.CODING_INSIGHT_DEBOUNCE_MS,
          wake: (delayMs, fn) => session.later(fn, delayMs),
          arm: (at) => session.timers.set(INSIGHT_TIMER, at),
          disarm: () => session.timers.clear(INSIGHT_TIMER),
          produce: (trigger, signal) => {
            const work = produceInsight(session, insightDeps, trigger, signal);
            session.defer(work);
            return work;
          },
        }),
    );

  /** A socket said hello during a run: it gets the latest insight, fresh if the run moved on. */
  function afterHello(ctx: HandlerCtx): void {
    const { session } = ctx;
    if (session.mode !== "coding") return;
    // This work runs after the hello reply: a device quick enough may already have started the
    // mode on this very socket, and then there is nothing to catch up on.
    const since = session.store.get(MODE)?.startedAt ?? 0;
    if (ctx.conn.state.helloAt !== null && since >= ctx.conn.state.helloAt) return;
    const run = codingStore(session).run();
    if (run.seq === 0) return;
    if (run.last && run.last.seq === run.seq && (run.last.msg.event === "summary") === run.stopped) {
      ctx.reply(run.last.msg);
      return;
    }
    const scheduler = schedulerOf(session);
    if (run.stopped) scheduler.summary();
    else scheduler.now("reconnect");
  }

  function endRun(session: Session): void {
    schedulerOf(session).reset(false);
    codingStore(session).drop();
  }

  return capability({
    name: "coding",
    routes: { coding: route(CodingIn, (msg, ctx) => handleCoding(msg, ctx, schedulerOf(ctx.session))) },
    migrations: [CODING_MIGRATION],
    afterHello,
    modes: { coding: { end: (session) => endRun(session) } },
    timers: {
      [INSIGHT_TIMER]: (session) => {
        if (session.mode === "coding") schedulerOf(session).alarm();
      },
    },
    /** GET /api/devices/:id during a run: how far it got and whether an insight is on its way. */
    describe(session) {
      if (session.mode !== "coding") return {};
      const run = codingStore(session).run();
      const s = schedulerOf(session);
      return {
        coding: {
          lines: codingStore(session).entries().length,
          phase: run.phase,
          stopped: run.stopped,
          stats: run.stats.stats,
          insight: s.running ? "running" : s.pending ? "pending" : "idle",
        },
      };
    },
  });
}
