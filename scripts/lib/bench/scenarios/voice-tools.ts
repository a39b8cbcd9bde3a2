import type { DeviceClient, Json } from "../../device-client.ts";
import { boardTools } from "../../device-mcp.ts";
import { linkMcp } from "../../device-mcp-link.ts";
import { pollUntil, round2 } from "../devices.ts";
import { sleep, summarize, tally, type Summary } from "../stats.ts";
import type { BenchContext, Figure, Scenario } from "../types.ts";
import { criticalPathMs, runVoice, workerEvents, type VariantRun, type VoiceVariant } from "./voice.ts";

// The voice scenario (voice.ts: same devices, fixture, schedule, fake providers and figures) with
// one device tool round in every turn (PROTOCOL §13). The devices announce `features.mcp` in their
// hello (the firmware hello does) and run the simulator's firmware-faithful MCP server
// (device-mcp.ts through linkMcp: numeric ids, ~8,000-byte `tools/list` pages with a name cursor;
// BOARD_TOOLS board tools beside the built-in ones make the listing two pages, as a board with extra
// tools has); nobody talks before the Worker logged `mcp.ready` for every device. In each turn the
// fake LLM's first round calls `self.audio_speaker.set_volume {"volume":50}` (at its fixed --llm-ms),
// the device answers the `tools/call` after a fixed --tool-ms, the second round speaks the same
// answer as the plain scenario (again --llm-ms), then TTS.
//
// Overhead = end of speech → first frame minus what is fixed on the critical path: ASR, two LLM
// rounds, TTS (criticalPathMs in voice.ts) and the device's tool latency. The tool's own row: the
// call as the Worker timed it (`voice.tool` ms) beyond that latency, i.e. our side of the round trip
// (the frame out and back through the dev proxy, the answer's parse) plus the bench process's
// lateness in answering, which is shown on its own.
//
// Bare comparison: the plain voice scenario's bare object (bench/worker.ts `?voice=1`), with no
// tools, no MCP and one answer; it gets the same packets and is asked for the same reply, so the CPU
// per second of audio compares ours with a tool round against a bare turn without one.

const TOOL = "self.audio_speaker.set_volume";
const TOOL_ARGS = { volume: 50 };
/** Board tools beside the built-in ones: 24 listed tools, two `tools/list` pages. */
const BOARD_TOOLS = 20;
const SETUP_TIMEOUT_MS = 15_000;

/** The simulated devices' side of the tool calls (the talkers' phase only). */
interface DeviceSide {
  received: number;
  answered: number;
  /** How much later than the fixed latency each answer was ready (the bench process's timers). */
  lateMs: number[];
}

/** Links a firmware-like MCP server to each device; its set_volume answers after `delayMs`. */
function linkDevices(clients: DeviceClient[], delayMs: number, side: DeviceSide | null): void {
  for (const c of clients) {
    const { server } = linkMcp(c, { extraTools: boardTools(BOARD_TOOLS) });
    const i = server.tools.findIndex((t) => t.name === TOOL);
    const tool = server.tools[i]!;
    server.tools[i] = {
      ...tool,
      async call(args, device) {
        if (side) side.received++;
        const t0 = performance.now();
        await sleep(delayMs);
        if (side) side.lateMs.push(performance.now() - t0 - delayMs);
        const out = await tool.call(args, device);
        if (side) side.answered++;
        return out;
      },
    };
  }
}

/** Devices of `ids` without an `mcp.ready` line in the Worker's output. */
export function notReady(output: string, ids: string[]): string[] {
  const ready = workerEvents(output, "mcp.ready", new Set(ids));
  return ids.filter((id) => !ready.has(id));
}

/** The tool calls of the talking devices, as the Worker logged them (`voice.tool`). */
export interface ToolCallLog {
  name: string;
  kind: string | null;
  ms: number;
  ok: boolean;
  code: string | null;
}

/** The figures of the tool round: calls made, answered, failed, and the round trip beyond `deviceMs`. */
export function toolFigures(calls: ToolCallLog[], side: DeviceSide, expected: number, oneRoundTurns: number, loggedTurns: number, deviceMs: number) {
  const ok = calls.filter((c) => c.ok);
  const beyond = summarize(ok.map((c) => c.ms - deviceMs));
  const late = summarize(side.lateMs);
  const failed = calls.length - ok.length;
  const ms = (s: Summary | null, k: "p50" | "p99") => (s ? round2(s[k]) : null);
  const figures: Figure[] = [
    { name: `tool round trip as the Worker saw it, beyond the device's ${deviceMs} ms, p50`, unit: "ms", ours: ms(beyond, "p50"), echo: null },
    { name: "tool round trip beyond the device's latency, p99", unit: "ms", ours: ms(beyond, "p99"), echo: null },
    { name: "  of which the simulated device answering late (bench timers), p50", unit: "ms", ours: ms(late, "p50"), echo: null },
    { name: "  of which the simulated device answering late, p99", unit: "ms", ours: ms(late, "p99"), echo: null },
    {
      name: `tool calls made (voice.tool; of ${expected} turns)`,
      unit: "count",
      ours: calls.length,
      echo: null,
      checks: [{ text: `${expected}`, pass: calls.length === expected }],
    },
    {
      name: "tool calls answered by the devices",
      unit: "count",
      ours: side.answered,
      echo: null,
      checks: [{ text: `${expected}`, pass: side.answered === expected }],
    },
    { name: "tool calls failed (voice.tool ok:false)", unit: "count", ours: failed, echo: null, checks: [{ text: "0", pass: failed === 0 }] },
    {
      name: `turns with exactly one tool round and call (of ${loggedTurns} logged)`,
      unit: "count",
      ours: oneRoundTurns,
      echo: null,
      checks: [{ text: `${loggedTurns}`, pass: oneRoundTurns === loggedTurns }],
    },
  ];
  return { figures, beyond, late, failed };
}

export const voiceToolsScenario: Scenario = {
  name: "voice-tools",
  title:
    "voice turns with one device tool round each (set_volume, the device answering after --tool-ms): overhead beyond the providers and the tool; bare = the plain voice scenario's bare object (no tools)",
  ownServer: true,
  run(ctx: BenchContext) {
    const deviceMs = ctx.options.toolMs;
    const side: DeviceSide = { received: 0, answered: 0, lateMs: [] };
    let setup: { ms: number; notReady: string[]; pages: Record<string, number>; tools: Record<string, number> } | null = null;
    const variant: VoiceVariant = {
      llmRounds: 2,
      extra: { ms: deviceMs, text: `the device's tool ${deviceMs}` },
      minus: "providers and tool",
      fake: { toolRound: { tool: TOOL, arguments: TOOL_ARGS } },
      async prepare(ctx, clients, phase) {
        linkDevices(clients, deviceMs, phase === "talkers" ? side : null);
        const ids = clients.map((c) => c.deviceId);
        const t0 = performance.now();
        await pollUntil(() => notReady(ctx.server.output(), ids).length === 0, SETUP_TIMEOUT_MS, 200);
        if (phase !== "talkers") return;
        const output = ctx.server.output();
        const ready = [...workerEvents(output, "mcp.ready", new Set(ids)).values()].map((l) => l.at(-1)!);
        const count = (k: string) => tally(ready.map((r) => String(r[k])));
        setup = { ms: Math.round(performance.now() - t0), notReady: notReady(output, ids), pages: count("pages"), tools: count("tools") };
        ctx.log(`voice-tools: MCP set up on ${ids.length - setup.notReady.length} of ${ids.length} devices (pages ${JSON.stringify(setup.pages)})`);
      },
      report(ctx, run: VariantRun) {
        const { talkers, turns } = ctx.options;
        const calls = [...workerEvents(run.output, "voice.tool", run.ids).values()].flat() as unknown as ToolCallLog[];
        const oneRound = run.logged.filter(({ log }) => log.toolRounds === 1 && log.toolCalls === 1).length;
        const t = toolFigures(calls, side, talkers * turns, oneRound, run.logged.length, deviceMs);
        // Both LLM rounds' time beyond their fixed latency on the path (the first one's head start
        // taken off): chat asking for the first round → first token, less the tool call's own time.
        const onPath = criticalPathMs(ctx.options, 2).llmMs;
        const llmRounds = summarize(
          run.logged.flatMap(({ rec, log }) =>
            rec.ok && log.llmFirstTokenMs !== null && typeof log.toolMs === "number" ? [log.llmFirstTokenMs - log.toolMs - onPath] : [],
          ),
        );
        const notes: string[] = [];
        if (setup?.notReady.length) notes.push(`${setup.notReady.length} devices had no mcp.ready before talking: their turns have no device tools`);
        if (t.failed) {
          notes.push(`failed tool calls by code: ${JSON.stringify(tally(calls.filter((c) => !c.ok).map((c) => c.code ?? "?")))}`);
        }
        if (side.received !== side.answered) notes.push(`the devices received ${side.received} tools/call and answered ${side.answered}`);
        return {
          figures: [
            ...t.figures,
            {
              name: `both LLM rounds beyond their ${onPath} ms on the path (first token less the tool call), as the Worker saw it, p50`,
              unit: "ms",
              ours: llmRounds?.p50 ?? null,
              echo: null,
            },
            {
              name: "devices with MCP set up before talking (mcp.ready)",
              unit: "count",
              ours: setup ? talkers - setup.notReady.length : null,
              echo: null,
              checks: [{ text: `${talkers}`, pass: setup !== null && setup.notReady.length === 0 }],
            },
          ],
          details: {
            toolRound: {
              tool: TOOL,
              arguments: TOOL_ARGS,
              deviceMs,
              boardTools: BOARD_TOOLS,
              setup,
              beyondDeviceMs: t.beyond,
              deviceLateMs: t.late,
              llmRoundsBeyondFixedMs: llmRounds,
              calls: calls.length,
              received: side.received,
              answered: side.answered,
            } satisfies Json,
          },
          notes,
        };
      },
    };
    return runVoice(ctx, variant);
  },
};
