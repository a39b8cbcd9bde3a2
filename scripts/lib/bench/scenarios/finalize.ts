import { startFakeOpenAI, type FakeOpenAI } from "../../../fake-openai.ts";
import type { Json } from "../../device-client.ts";
import { deferred, openDevices, round2, within } from "../devices.ts";
import { summarize } from "../stats.ts";
import type { Figure, Scenario } from "../types.ts";

// Meeting finalize (PROTOCOL §6.1), the overhead beyond the LLM's own time: a fake OpenAI-compatible
// server answers every request after a FIXED delay (LLM_BASE_URL of this scenario's server points
// at it); a device in meeting mode sends its segments in snippets of 100, then
// {"type":"meeting","phase":"finalize"}; measured from that send to the `summary` message, minus the
// fixed delay (the raw figure too). A fresh device per meeting; the first meeting warms the path
// (LLM client, R2) and is not counted. The progress messages split the time: before the LLM
// (segments read, prompt), the LLM call as the Worker saw it, after it (summary stored, R2 archive
// with retention).
// No bare comparison: the figure is already "beyond the floor" (the LLM's fixed time), and a bare
// object would have to re-implement the archive to be comparable.

const BATCH = 100;
const SUMMARY = {
  title: "Release planning",
  bullets: ["The release moves to Friday", "Testing starts on Wednesday"],
  decisions: ["Ship on Friday"],
  actions: ["Alice prepares the release notes"],
  risks: ["The payment provider may be late"],
  nextSteps: ["Review the checklist on Thursday"],
};

interface Meeting {
  rawMs: number;
  /** finalize send → finalize ack. */
  ackMs: number | null;
  /** finalize send → progress llm_start. */
  beforeLlmMs: number | null;
  /** progress llm_start → llm_done: the LLM call as the Worker saw it. */
  llmMs: number | null;
  /** progress llm_done → summary: summary stored, R2 archive and retention. */
  afterLlmMs: number | null;
  degraded: string | null;
  ingestMs: number;
}

export const finalizeScenario: Scenario = {
  name: "finalize",
  title: "meeting finalize overhead beyond the LLM",
  // Its server needs LLM_BASE_URL of the fake LLM, which only exists once the scenario runs.
  ownServer: true,
  async run(ctx) {
    const { segments, meetings, llmMs, timeoutMs } = ctx.options;
    const notes: string[] = ["no bare comparison: the overhead is already measured against a floor, the fake LLM's fixed latency"];
    let llm: FakeOpenAI | undefined;
    const runs: Meeting[] = [];
    let warm: Meeting | undefined;
    try {
      llm = await startFakeOpenAI({ answer: JSON.stringify(SUMMARY) });
      llm.setMode("slow", { delayMs: llmMs });
      await ctx.restart({ LLM_BASE_URL: llm.url });
      const ids = ctx.ids("meet", meetings + 1);
      ctx.log(`finalize: ${meetings + 1} meetings (first one warm-up) of ${segments} segments, LLM fixed at ${llmMs} ms`);
      for (const [i, id] of ids.entries()) {
        if (ctx.stopped()) break;
        const fleet = await openDevices(ctx, ctx.ours, [id]);
        const c = fleet.clients[0]!;
        try {
          const mode = await c.request({ type: "mode", state: "start", mode: "meeting" }, "mode", timeoutMs);
          if (mode.status !== "ok") throw new Error(`mode start answered ${JSON.stringify(mode)}`);
          const i0 = performance.now();
          for (let at = 0; at < segments; at += BATCH) {
            const items = Array.from({ length: Math.min(BATCH, segments - at) }, (_, k) => ({
              tag: "asr",
              speakerId: `s${(at + k) % 4}`,
              text: `Segment ${at + k}: we go through the release checklist and agree who owns each open item.`,
            }));
            const reply = c.next((m) => m.type === "meeting" && m.phase === "snippet", timeoutMs);
            c.send({ type: "meeting", phase: "snippet", items });
            const ack = await reply;
            if (ack.status !== "ok" || ack.count !== items.length) throw new Error(`snippet answered ${JSON.stringify(ack)}`);
          }
          const ingestMs = performance.now() - i0;
          const marks: Record<string, number> = {};
          const summary = deferred<Json>();
          c.tap((m, at) => {
            if (m.type !== "meeting") return false;
            if (m.phase === "finalize") marks.ack = at;
            else if (m.phase === "progress") marks[String(m.stage)] = at;
            else if (m.phase === "summary") {
              marks.summary = at;
              summary.resolve(m);
            } else return false;
            return true;
          });
          const t0 = performance.now();
          c.send({ type: "meeting", phase: "finalize" });
          const s = await within(summary.promise, timeoutMs + llmMs, null);
          if (!s) throw new Error(`no summary within ${timeoutMs + llmMs} ms of the finalize`);
          const span = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? round2(b - a) : null);
          const m: Meeting = {
            rawMs: round2(marks.summary! - t0),
            ackMs: span(t0, marks.ack),
            beforeLlmMs: span(t0, marks.llm_start),
            llmMs: span(marks.llm_start, marks.llm_done),
            afterLlmMs: span(marks.llm_done, marks.summary),
            degraded: typeof s.degraded === "string" ? s.degraded : null,
            ingestMs: round2(ingestMs),
          };
          if (i === 0) warm = m;
          else runs.push(m);
        } finally {
          await fleet.closeAll();
        }
      }
    } finally {
      await llm?.close();
    }

    const degraded = runs.filter((r) => r.degraded);
    if (degraded.length)
      notes.push(`${degraded.length} summaries were degraded (${degraded.map((r) => r.degraded).join(", ")}): the LLM path was not measured as intended`);
    if (warm) notes.push(`warm-up meeting (not counted): ${warm.rawMs} ms raw, ${warm.afterLlmMs} ms after the LLM`);
    const raw = summarize(runs.map((r) => r.rawMs));
    const over = summarize(runs.map((r) => r.rawMs - llmMs));
    const part = (k: "beforeLlmMs" | "llmMs" | "afterLlmMs" | "ackMs") => summarize(runs.flatMap((r) => (r[k] === null ? [] : [r[k]])));
    const [before, call, after, ack] = [part("beforeLlmMs"), part("llmMs"), part("afterLlmMs"), part("ackMs")];
    const ok = (v: number | undefined) => v !== undefined && v < 50 && degraded.length === 0;
    const figures: Figure[] = [
      {
        name: `finalize → summary minus the LLM's ${llmMs} ms, p50 (${runs.length} meetings of ${segments} segments)`,
        unit: "ms",
        ours: over?.p50 ?? null,
        echo: null,
        checks: [{ text: "< 50 ms", pass: ok(over?.p50) }],
      },
      { name: "overhead max", unit: "ms", ours: over?.max ?? null, echo: null, checks: [{ text: "< 50 ms", pass: ok(over?.max) }] },
      { name: "finalize → summary raw p50", unit: "ms", ours: raw?.p50 ?? null, echo: null },
      { name: "finalize → summary raw max", unit: "ms", ours: raw?.max ?? null, echo: null },
      { name: "of which finalize → ack p50", unit: "ms", ours: ack?.p50 ?? null, echo: null },
      { name: "of which before the LLM (read, prompt) p50", unit: "ms", ours: before?.p50 ?? null, echo: null },
      { name: "of which the LLM call as the Worker saw it p50", unit: "ms", ours: call?.p50 ?? null, echo: null },
      { name: "of which after the LLM (store, R2 archive) p50", unit: "ms", ours: after?.p50 ?? null, echo: null },
    ];
    return { figures, details: { segments, batch: BATCH, llmMs, warmup: warm ?? null, meetings: runs, rawMs: raw, overheadMs: over }, notes };
  },
};
