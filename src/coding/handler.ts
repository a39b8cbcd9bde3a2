import { log } from "../log.ts";
import { errorReply } from "../protocol/errors.ts";
import type { HandlerCtx } from "../session/capability.ts";
import { entriesFromMessage } from "./history.ts";
import type { CodingAck, CodingIn } from "./messages.ts";
import type { InsightScheduler } from "./schedule.ts";
import { codingStore } from "./store.ts";

// The `coding` messages of PROTOCOL §8. Each is stored first, then acknowledged, then handed to
// the scheduler, which decides when the insight comes (schedule.ts) and produces it detached from
// this frame (produce.ts).
//
// Run boundaries (where §8 is silent): `start` and `clear` empty the history and the stats;
// `stop` sends the summary and closes the run, and the next log/step/phase (or `start`) after it
// opens a fresh one, so one build's errors are not counted into the next. A repeated `stop` with
// nothing new resends the summary without asking the LLM again.

const NOT_IN_MODE = 'coding mode is not active: send {"type":"mode","state":"start","mode":"coding"} first';

function ack(ctx: HandlerCtx, event: CodingAck["event"]): void {
  ctx.reply({ type: "coding", status: "ok", event } satisfies CodingAck);
}

export function handleCoding(msg: CodingIn, ctx: HandlerCtx, scheduler: InsightScheduler): void {
  const { session } = ctx;
  if (session.mode !== "coding") {
    ctx.reply(errorReply("NOT_IN_MODE", NOT_IN_MODE));
    return;
  }
  const store = codingStore(session);
  switch (msg.event) {
    case "start":
    case "clear": {
      const before = store.run();
      store.reset();
      // A summary of the previous run still on its way is let through on `start`.
      scheduler.reset(msg.event === "start");
      ack(ctx, msg.event);
      log.info(msg.event === "start" ? "coding.run_start" : "coding.cleared", { deviceId: session.deviceId, droppedLines: before.seq });
      return;
    }
    case "stop": {
      const run = store.run();
      ack(ctx, "stop");
      if (run.stopped && run.last?.msg.event === "summary" && run.last.seq === run.seq) {
        ctx.reply(run.last.msg);
        return;
      }
      store.markStopped();
      scheduler.summary();
      return;
    }
    default: {
      if (store.run().stopped) {
        store.reset();
        scheduler.reset(true);
      }
      const before = store.run();
      const added = entriesFromMessage(msg, ctx.now);
      const run = added.length ? store.append(added) : before;
      ack(ctx, msg.event);
      if (!added.length) return; // blank lines and separators only
      const phaseChanged = msg.event === "phase" && run.phase !== before.phase;
      scheduler.noted(phaseChanged || added.some((e) => e.level === "error"));
    }
  }
}
