import { startFakeOpenAI, type FakeOpenAI } from "../../../fake-openai.ts";
import type { DeviceClient, Json } from "../../device-client.ts";
import { openDevices, round2 } from "../devices.ts";
import { sleep, summarize } from "../stats.ts";
import type { Figure, Scenario } from "../types.ts";

// Coding mode (PROTOCOL §8) under load: `coders` devices in coding mode each forward `linesPerS`
// build log lines a second, BATCH lines per `log` message (what a forwarder reading a CI log does;
// one line per message would hit the 50 messages/s limit of §10 at 100 lines/s). Every
// ERROR_EVERY_MS each device's batch carries one TypeScript error line, which must trigger an
// insight at once. Measured: from the send of that batch to the first insight whose errorCount
// includes that error, minus the fake LLM's FIXED latency (LLM_BASE_URL of this scenario's server
// points at a fake OpenAI-compatible server answering every request after `llmMs`), and the ack of
// every log message. Sends and errors are staggered across devices, as in a fleet. The
// first WARMUP_MS are not counted (objects start, LLM clients are created). No bare comparison:
// like finalize, the figure is measured against a floor, the fake LLM's fixed time.

const BATCH = 10;
const ERROR_EVERY_MS = 1500;
const WARMUP_MS = 2000;
const SETTLE_MS = 5000;
const INSIGHT = {
  insights: ["The build stops at a missing name in a widget module"],
  risks: ["The bundle will not build until it is declared"],
  actions: ["Declare or import the missing widget name"],
  nextSteps: ["Re-run tsc --noEmit after the fix"],
};

interface Sample {
  n: number;
  t0: number;
  counted: boolean;
  /** Send → the insight that counts this error. */
  ms?: number;
  /** Send → the ack of the message that carried it (the rest is the insight's own path). */
  ackMs?: number;
}

interface Coder {
  client: DeviceClient;
  /** Send time of each unacknowledged message, and its error sample if it carried one. */
  sentAt: Array<{ at: number; sample: Sample | null }>;
  acks: number[];
  errors: number;
  samples: Sample[];
  insights: number;
  refused: number;
}

function infoLine(device: number, n: number): string {
  return `[build] compiled module ${n} of device ${device} (${(n % 97) + 3} kB) in ${(n % 40) + 2} ms`;
}

function errorLine(n: number): string {
  return `src/widgets/widget-${n}.ts(12,5): error TS2304: Cannot find name 'widget${n}'.`;
}

export const codingScenario: Scenario = {
  name: "coding",
  title: "coding mode: insight after an error line, under a stream of log lines",
  ownServer: true,
  async run(ctx) {
    const { coders: count, linesPerS, codingS, llmMs, timeoutMs } = ctx.options;
    const notes: string[] = ["no bare comparison: the insight latency is measured against a floor, the fake LLM's fixed latency"];
    const tickMs = (BATCH * 1000) / linesPerS;
    const errorEveryTicks = Math.max(1, Math.round(ERROR_EVERY_MS / tickMs));
    let llm: FakeOpenAI | undefined;
    const coders: Coder[] = [];
    let cpu0 = null as ReturnType<typeof ctx.cpu>;
    let cpu1 = null as ReturnType<typeof ctx.cpu>;
    let lines = 0;
    let ticks = 0;
    let late = 0;
    try {
      llm = await startFakeOpenAI({ answer: JSON.stringify(INSIGHT) });
      llm.setMode("slow", { delayMs: llmMs });
      await ctx.restart({ LLM_BASE_URL: llm.url });
      const fleet = await openDevices(ctx, ctx.ours, ctx.ids("code", count));
      try {
        ctx.log(
          `coding: ${count} devices × ${linesPerS} lines/s (${BATCH} per message) for ${codingS} s, an error line every ${ERROR_EVERY_MS} ms each, LLM fixed at ${llmMs} ms`,
        );
        for (const client of fleet.clients) {
          const mode = await client.request({ type: "mode", state: "start", mode: "coding" }, "mode", timeoutMs);
          if (mode.status !== "ok") throw new Error(`mode start answered ${JSON.stringify(mode)}`);
          const started = await client.request({ type: "coding", event: "start" }, "coding", timeoutMs);
          if (started.status !== "ok") throw new Error(`coding start answered ${JSON.stringify(started)}`);
          const c: Coder = { client, sentAt: [], acks: [], errors: 0, samples: [], insights: 0, refused: 0 };
          client.tap((m: Json, at: number) => {
            if (m.type === "coding" && m.status === "ok") {
              const sent = c.sentAt.shift();
              if (sent) {
                c.acks.push(at - sent.at);
                if (sent.sample) sent.sample.ackMs = at - sent.at;
              }
            } else if (m.type === "coding" && m.event === "insight") {
              c.insights++;
              const errors = Number((m.stats as Json | undefined)?.errorCount ?? 0);
              for (const s of c.samples) if (s.ms === undefined && errors >= s.n) s.ms = at - s.t0;
            } else if (m.type === "error" || (m.type === "coding" && m.status === "error")) {
              c.refused++;
              c.sentAt.shift();
            }
            return true; // nothing is kept: a long stream
          });
          coders.push(c);
        }

        cpu0 = ctx.cpu();
        const t0 = performance.now();
        const total = Math.round((codingS * 1000) / tickMs);
        // Each device sends once per tick, the devices spread evenly over the tick: a fleet's
        // forwarders are not synchronised, and 20 sends in the same millisecond would measure a
        // queue this scenario does not intend to build.
        const slotMs = tickMs / count;
        for (let slot = 0; slot < total * count && !ctx.stopped(); slot++) {
          const k = Math.floor(slot / count);
          const i = slot % count;
          const c = coders[i]!;
          const wait = t0 + slot * slotMs - performance.now();
          if (wait >= 1) await sleep(wait);
          else if (wait < -tickMs) late++;
          if (!c.client.isOpen) continue;
          const withError = (k + Math.round((i * errorEveryTicks) / count)) % errorEveryTicks === errorEveryTicks - 1;
          const batch = Array.from({ length: BATCH }, (_, j) => infoLine(i, k * BATCH + j));
          if (withError) batch[BATCH >> 1] = errorLine(k);
          const at = performance.now();
          const sample = withError ? { n: ++c.errors, t0: at, counted: at - t0 >= WARMUP_MS } : null;
          if (sample) c.samples.push(sample);
          c.sentAt.push({ at, sample });
          c.client.send({ type: "coding", event: "log", text: batch.join("\n") });
          lines += BATCH;
          if (i === count - 1) ticks++;
        }
        const sendS = (performance.now() - t0) / 1000;
        const done = () => coders.every((c) => c.samples.every((s) => s.ms !== undefined) && c.sentAt.length === 0);
        const deadline = performance.now() + SETTLE_MS + llmMs;
        while (!done() && performance.now() < deadline) await sleep(50);
        cpu1 = ctx.cpu();
        notes.push(`sent ${lines} lines in ${round2(sendS)} s (${Math.round(lines / sendS)} lines/s over ${count} devices)`);
        if (late) notes.push(`${late} sends were more than one tick late (the client fell behind)`);
      } finally {
        await fleet.closeAll();
      }
    } finally {
      await llm?.close();
    }

    const counted = coders.flatMap((c) => c.samples.filter((s) => s.counted));
    const got = counted.flatMap((s) => (s.ms === undefined ? [] : [s.ms]));
    const missing = counted.length - got.length;
    const raw = summarize(got);
    const over = summarize(got.map((ms) => ms - llmMs));
    const acks = summarize(coders.flatMap((c) => c.acks));
    const errorAcks = summarize(counted.flatMap((s) => (s.ackMs === undefined ? [] : [s.ackMs])));
    const afterAck = summarize(counted.flatMap((s) => (s.ms === undefined || s.ackMs === undefined ? [] : [s.ms - s.ackMs - llmMs])));
    const refused = coders.reduce((a, c) => a + c.refused, 0);
    const insights = coders.reduce((a, c) => a + c.insights, 0);
    const errors = coders.reduce((a, c) => a + c.errors, 0);
    const cpuPerLine = cpu0 && cpu1 && lines ? round2((cpu1.workerMs - cpu0.workerMs) / lines) : null;
    if (missing) notes.push(`${missing} error lines got no insight that counted them within ${SETTLE_MS + llmMs} ms`);
    const ok = (v: number | undefined) => v !== undefined && v < 50 && missing === 0;
    const figures: Figure[] = [
      {
        name: `error line → insight minus the LLM's ${llmMs} ms, p99 (${got.length} errors, ${count} devices × ${linesPerS} lines/s)`,
        unit: "ms",
        ours: over?.p99 ?? null,
        echo: null,
        checks: [{ text: "< 50 ms", pass: ok(over?.p99) }],
      },
      { name: "error line → insight minus the LLM, p50", unit: "ms", ours: over?.p50 ?? null, echo: null },
      { name: "error line → insight raw p50", unit: "ms", ours: raw?.p50 ?? null, echo: null },
      { name: "error line → insight raw p99", unit: "ms", ours: raw?.p99 ?? null, echo: null },
      { name: "error line → insight raw max", unit: "ms", ours: raw?.max ?? null, echo: null },
      { name: "of which the error's message → its ack, p99", unit: "ms", ours: errorAcks?.p99 ?? null, echo: null },
      { name: "of which ack → insight minus the LLM, p99", unit: "ms", ours: afterAck?.p99 ?? null, echo: null },
      { name: `log message (${BATCH} lines) → ack p50`, unit: "ms", ours: acks?.p50 ?? null, echo: null },
      { name: "log message → ack p99", unit: "ms", ours: acks?.p99 ?? null, echo: null },
      { name: "error lines without an insight", unit: "count", ours: missing, echo: null, checks: [{ text: "0", pass: missing === 0 }] },
      { name: "messages refused", unit: "count", ours: refused, echo: null, checks: [{ text: "0", pass: refused === 0 }] },
      { name: "insights per error line (the debounce at work)", unit: "ratio", ours: errors ? round2(insights / errors) : null, echo: null },
      { name: "worker workerd CPU per log line", unit: "ms", ours: cpuPerLine, echo: null },
    ];
    return {
      figures,
      details: {
        coders: count,
        linesPerS,
        batch: BATCH,
        codingS,
        errorEveryMs: ERROR_EVERY_MS,
        warmupMs: WARMUP_MS,
        llmMs,
        ticks,
        lines,
        errors,
        insights,
        rawMs: raw,
        overheadMs: over,
        ackMs: acks,
        errorAckMs: errorAcks,
        afterAckMs: afterAck,
        samplesMs: got.map(round2),
      },
      notes,
    };
  },
};
