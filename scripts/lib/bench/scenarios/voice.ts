import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { join, resolve } from "node:path";
import type WebSocket from "ws";
import { Listener } from "../../../../src/voice/listener.ts";
import { demuxOggOpus } from "../../../../src/voice/ogg.ts";
import { loadOpus, type OpusDecoder, type OpusLib } from "../../../../src/voice/opus.ts";
import type { DeviceClient, Json } from "../../device-client.ts";
import { startFakeProcess, type FakeProcess, type FakeProcessOptions, type FakeTiming, type ProviderKind } from "../fake-process.ts";
import { cpuMs, runQueueWaitMs, workerdProcesses, type CpuSample } from "../proc.ts";
import { deferred, openDevices, round2, within } from "../devices.ts";
import { sleep, summarize, tally, type Summary } from "../stats.ts";
import { echoTarget, type Target } from "../targets.ts";
import type { BenchContext, BenchOptions, Figure, Scenario, ScenarioResult } from "../types.ts";

// Voice turns (PROTOCOL §4, §5) with many devices talking at once, against fake providers of fixed
// latency (the fake OpenAI-compatible server: ASR, streamed LLM, streamed 24 kHz PCM TTS, in a
// process of its own so the clients' work does not delay its answers; this scenario's server points
// ASR_BASE_URL, LLM_BASE_URL and TTS_BASE_URL at it). Every device sends
// `listen start auto`, then the speech fixture (test/fixtures/speech-zh.ogg, Ogg Opus 16 kHz 60 ms
// packets, ~2.9 s of speech and 1 s of silence) one packet per 60 ms on an absolute clock, then
// silence, until `tts start`; it receives the reply's frames until `tts stop`, and starts the next
// turn. The devices start their first turn evenly over --spread ms (default 8 s, about one turn:
// from then on ends of speech are spread as among independent speakers; 0 starts them together).
//
// End of speech: the server's VAD ends the utterance on the packet where VAD_SILENCE_MS of silence
// is complete. The client runs the same Listener (src/voice/listener.ts, same decoder, same energy
// VAD, state carried from turn to turn as the server's is) on the same packets, so it knows which
// packet that is; its send time is the end of speech, the first binary frame's arrival the first
// frame. Overhead = that span minus the providers' fixed latencies on the critical path
// (criticalPathMs: the part of ASR's beyond the early start's head start + LLM first byte + TTS first
// audio). The Worker's own `voice.turn` log line (read from wrangler's output) splits it further.
//
// Bare comparison (bench/worker.ts, `?voice=1`): the same devices, packets and schedule; the bare
// object decodes every uplink packet at 16 kHz and, when the client sends `listen stop` on the
// end-of-speech packet, answers with the same sentences and as many 24 kHz 60 ms frames as ours
// did, re-encoding the utterance at the same Opus settings, paced in real time. CPU per second of
// audio (in + out) of both is the comparable figure; its end → first frame is a floor (no providers,
// no pacing delay after `tts start`).

const ROOT = resolve(import.meta.dirname, "../../../..");
const FIXTURE = join(ROOT, "test/fixtures/speech-zh.ogg");
const FIXTURE_TEXT = "今天天气怎么样";
/** Two sentences, 3.6 s of the fake's speech (60 frames at its 180 ms per character): a short spoken answer. */
const ANSWER = "今天是晴天，最高气温二十五度。出门记得带水！";
export const VAD_SILENCE_MS = 700;
const UP_RATE = 16000;
const DOWN_RATE = 24000;
const FRAME_MS = 60;
const DOWN_FRAME = (DOWN_RATE * FRAME_MS) / 1000;
/** Silence sent after the fixture, at most, while waiting for `tts start`. */
const SILENCE_PACKETS = 50;
const TURN_TIMEOUT_MS = 30_000;

export interface Plan {
  packets: Uint8Array[];
  /** Per turn, the index of the packet on which the server's VAD ends the utterance. */
  endIndex: number[];
}

/** What the bare object is asked to answer: the sentences of ours, with its frame counts. */
interface BareReply {
  sentences: string[];
  frames: number[];
}

export interface TurnRecord {
  device: string;
  turn: number;
  ok: boolean;
  failure: string | null;
  /** End of speech → first binary frame, client clocks. */
  rawMs: number | null;
  frames: number;
  /** Frames that did not decode to exactly 60 ms at the hello's rate. */
  badFrames: number;
  /** Frames after `tts stop`. */
  lateFrames: number;
  sentences: string[];
  framesPerSentence: number[];
  packetsSent: number;
  /** Packets up to the end of speech: what the server decodes. */
  packetsDecoded: number;
  alerts: string[];
}

export interface VoiceTurnLog {
  deviceId: string;
  audioMs: number | null;
  asrMs: number | null;
  /** The first LLM round had started this long before chat asked for it (LLM_EARLY_START), or null. */
  llmHeadStartMs?: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstAudioMs: number | null;
  firstFrameMs: number | null;
  serverOverheadMs: number | null;
  frames: number;
  /** PROTOCOL §13: LLM rounds that ended in tool calls, the calls, those that failed, their time. */
  toolRounds?: number;
  toolCalls?: number;
  toolErrors?: number;
  toolMs?: number;
}

interface PhaseResult {
  turns: TurnRecord[];
  cpu: CpuSample | null;
  wallMs: number;
  /** This process's event-loop delay while talking (timers late by this much). */
  loopDelayP99Ms: number;
  /** This process's CPU while talking (the clients), ms. */
  clientCpuMs: number;
  /** The fake providers' process CPU while talking, ms. */
  fakeCpuMs: number | null;
  /** The fake's own time per request while talking (arrival → answer start minus its latency), ms. */
  fakeTimings: Record<ProviderKind, FakeTiming[]>;
  /** The worker workerd's threads runnable but waiting for a CPU while talking, ms (other load). */
  workerWaitMs: number | null;
  warmup: TurnRecord | null;
  connectFailures: string | null;
}

export function planTurns(lib: OpusLib, turns: number): Plan {
  const fixture = demuxOggOpus(readFileSync(FIXTURE));
  const enc = lib.encoder(UP_RATE, { complexity: 0, dtx: true, bitrate: "auto" });
  const silence = Array.from({ length: SILENCE_PACKETS }, () => enc.encode(new Int16Array((UP_RATE * FRAME_MS) / 1000)));
  enc.free();
  const packets = [...fixture.packets, ...silence];
  // A 0-byte frame means "end of speech" on the wire: none may be in the stream.
  if (packets.some((p) => p.length === 0)) throw new Error("an uplink packet is empty");
  const listener = new Listener(lib, { silenceMs: VAD_SILENCE_MS, fallbackMs: 5000 });
  const endIndex: number[] = [];
  try {
    for (let t = 0; t < turns; t++) {
      listener.start("auto");
      const i = packets.findIndex((p) => listener.audio(p).some((e) => e.type === "utterance"));
      if (i < 0) throw new Error(`turn ${t}: the VAD never ends the fixture's utterance`);
      endIndex.push(i);
    }
  } finally {
    listener.free();
  }
  return { packets, endIndex };
}

const HEAD = ["stt", "tts start", "llm", "sentence_start", "frame"];

/** The wire order of PROTOCOL §4/§5: stt, tts start, llm, (sentence_start, frames)…, tts stop. */
export function orderOk(order: string[]): boolean {
  const once = (k: string) => order.filter((o) => o === k).length === 1;
  const sentencesHaveFrames = order.every((o, i) => o !== "sentence_start" || order[i + 1] === "frame");
  return HEAD.every((h, i) => order[i] === h) && order.at(-1) === "tts stop" && ["stt", "tts start", "llm", "tts stop"].every(once) && sentencesHaveFrames;
}

async function runTurn(c: DeviceClient, dec: OpusDecoder, plan: Plan, turn: number, bare: BareReply | null): Promise<TurnRecord> {
  const endIdx = plan.endIndex[turn]!;
  const rec: TurnRecord = {
    device: c.deviceId,
    turn,
    ok: false,
    failure: null,
    rawMs: null,
    frames: 0,
    badFrames: 0,
    lateFrames: 0,
    sentences: [],
    framesPerSentence: [],
    packetsSent: 0,
    packetsDecoded: endIdx + 1,
    alerts: [],
  };
  const order: string[] = [];
  let ttsStarted = false;
  let stopped = false;
  let endAt: number | undefined;
  let firstFrameAt: number | undefined;
  const done = deferred();
  const untap = c.tap((m: Json) => {
    switch (m.type) {
      case "stt":
      case "llm":
        order.push(m.type);
        return true;
      case "alert":
        rec.alerts.push(String(m.message));
        return true;
      case "tts":
        if (m.state === "start") ttsStarted = true;
        else if (m.state === "sentence_start") {
          rec.sentences.push(String(m.text));
          rec.framesPerSentence.push(0);
        } else if (m.state === "stop") {
          stopped = true;
          done.resolve();
        }
        order.push(m.state === "sentence_start" ? "sentence_start" : `tts ${String(m.state)}`);
        return true;
    }
    return false;
  });
  const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
    if (!isBinary) return;
    firstFrameAt ??= performance.now();
    const b = data as Buffer;
    rec.frames++;
    if (stopped) rec.lateFrames++;
    if (rec.framesPerSentence.length) rec.framesPerSentence[rec.framesPerSentence.length - 1]!++;
    if (dec.decode(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).length !== DOWN_FRAME) rec.badFrames++;
    if (order.at(-1) !== "frame") order.push("frame");
  };
  c.ws.on("message", onMessage);
  try {
    c.send({ type: "listen", state: "start", mode: "auto" });
    const t0 = performance.now();
    for (let i = 0; i < plan.packets.length && c.isOpen; i++) {
      // Ours: the device stops sending once it switches to speaking; bare: at the end of speech.
      if (bare ? i > endIdx : ttsStarted) break;
      const wait = t0 + i * FRAME_MS - performance.now();
      if (wait >= 1) await sleep(wait);
      c.sendRaw(plan.packets[i]!);
      rec.packetsSent++;
      if (i === endIdx) {
        endAt = performance.now();
        if (bare) c.send({ type: "listen", state: "stop", reply: bare });
      }
    }
    const finished = await within(done.promise, TURN_TIMEOUT_MS, "timeout" as const);
    if (endAt !== undefined && firstFrameAt !== undefined) rec.rawMs = round2(firstFrameAt - endAt);
    rec.failure =
      finished === "timeout"
        ? `no tts stop within ${TURN_TIMEOUT_MS} ms (${order.join(",") || "nothing"})`
        : endAt === undefined
          ? "the server ended the utterance before the packet the client's VAD predicted"
          : rec.alerts.length
            ? `alert: ${rec.alerts[0]}`
            : !orderOk(order)
              ? `wire order ${order.join(",")}`
              : rec.lateFrames
                ? `${rec.lateFrames} frames after tts stop`
                : null;
    rec.ok = rec.failure === null;
    return rec;
  } finally {
    untap();
    c.ws.off("message", onMessage);
    c.binary.length = 0;
  }
}

async function talker(
  c: DeviceClient,
  lib: OpusLib,
  plan: Plan,
  turns: number,
  startAt: number,
  bare: BareReply | null,
  stopped: () => boolean,
): Promise<TurnRecord[]> {
  const wait = startAt - performance.now();
  if (wait >= 1) await sleep(wait);
  const dec = lib.decoder(DOWN_RATE);
  const out: TurnRecord[] = [];
  try {
    for (let t = 0; t < turns && !stopped() && c.isOpen; t++) out.push(await runTurn(c, dec, plan, t, bare));
  } finally {
    dec.free();
  }
  return out;
}

async function phase(
  ctx: BenchContext,
  target: Target,
  lib: OpusLib,
  plan: Plan,
  bare: BareReply | null,
  fake: FakeProcess,
  prepare?: VoiceVariant["prepare"],
): Promise<PhaseResult> {
  const { talkers, turns, spreadMs } = ctx.options;
  // One device, one turn, not counted: the isolate's first turn loads libopus and the provider clients.
  const warmFleet = await openDevices(ctx, target, ctx.ids(`vwarm-${target.name[0]}`, 1));
  let warmup: TurnRecord | null = null;
  try {
    await prepare?.(ctx, warmFleet.clients, "warmup");
    warmup = (await talker(warmFleet.clients[0]!, lib, plan, 1, performance.now(), bare, ctx.stopped))[0] ?? null;
  } finally {
    await warmFleet.closeAll();
  }
  let fleet: Awaited<ReturnType<typeof openDevices>>;
  try {
    fleet = await openDevices(ctx, target, ctx.ids(`voice-${target.name[0]}`, talkers));
  } catch (err) {
    return {
      turns: [],
      cpu: null,
      wallMs: 0,
      loopDelayP99Ms: 0,
      clientCpuMs: 0,
      fakeCpuMs: null,
      fakeTimings: { asr: [], llm: [], tts: [] },
      workerWaitMs: null,
      warmup,
      connectFailures: (err as Error).message,
    };
  }
  try {
    await prepare?.(ctx, fleet.clients, "talkers");
  } catch (err) {
    await fleet.closeAll();
    throw err;
  }
  ctx.log(`voice: ${target.name}: ${talkers} devices talking, ${turns} turns each`);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const c0 = ctx.cpu();
  const self0 = process.cpuUsage();
  await fake.resetTimings();
  const fake0 = cpuMs(fake.pid);
  const workerPid = workerdProcesses(ctx.server.pid, ctx.server.port).find((p) => p.role === "worker")?.pid;
  const wait0 = workerPid === undefined ? null : runQueueWaitMs(workerPid);
  const t0 = performance.now();
  const perDevice = await Promise.all(fleet.clients.map((c, i) => talker(c, lib, plan, turns, t0 + (i * spreadMs) / talkers, bare, ctx.stopped)));
  const wallMs = performance.now() - t0;
  const c1 = ctx.cpu();
  const self = process.cpuUsage(self0);
  const fake1 = cpuMs(fake.pid);
  const fakeTimings = await fake.timings();
  const wait1 = workerPid === undefined ? null : runQueueWaitMs(workerPid);
  loop.disable();
  await fleet.closeAll();
  const cpu = c0 && c1 ? { workerMs: c1.workerMs - c0.workerMs, proxyMs: c1.proxyMs - c0.proxyMs } : null;
  return {
    turns: perDevice.flat(),
    cpu,
    wallMs,
    loopDelayP99Ms: round2(loop.percentile(99) / 1e6),
    clientCpuMs: (self.user + self.system) / 1000,
    fakeCpuMs: fake0 !== null && fake1 !== null ? fake1 - fake0 : null,
    fakeTimings,
    workerWaitMs: wait0 !== null && wait1 !== null ? wait1 - wait0 : null,
    warmup,
    connectFailures: null,
  };
}

/** The Worker's log lines of one `event` for these devices (from wrangler's output), in order per device. */
export function workerEvents(output: string, event: string, ids: Set<string>): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  const marker = `"${event}"`;
  for (const line of output.split("\n")) {
    const at = line.indexOf('{"level"');
    if (at < 0 || !line.includes(marker)) continue;
    let rec: Json;
    try {
      rec = JSON.parse(line.slice(at)) as Json;
    } catch {
      continue;
    }
    if (rec.event !== event || typeof rec.deviceId !== "string" || !ids.has(rec.deviceId)) continue;
    const list = out.get(rec.deviceId) ?? [];
    list.push(rec);
    out.set(rec.deviceId, list);
  }
  return out;
}

/** The `voice.turn` lines the Worker logged for these devices, in order per device. */
export function turnLogs(output: string, ids: Set<string>): Map<string, VoiceTurnLog[]> {
  return workerEvents(output, "voice.turn", ids) as unknown as Map<string, VoiceTurnLog[]>;
}

/** The reply ours gave most often (sentences and frames per sentence), for the bare object. */
function commonReply(turns: TurnRecord[]): BareReply | null {
  const counts = tally(turns.filter((t) => t.ok).map((t) => JSON.stringify({ sentences: t.sentences, frames: t.framesPerSentence })));
  const best = Object.entries(counts).sort((a, b) => b[1] - a[1])[0];
  return best ? (JSON.parse(best[0]) as BareReply) : null;
}

const audioS = (turns: TurnRecord[]) => ({
  inS: round2(turns.reduce((a, t) => a + t.packetsDecoded, 0) * (FRAME_MS / 1000)),
  outS: round2(turns.reduce((a, t) => a + t.frames, 0) * (FRAME_MS / 1000)),
});

/** A fixed time on a turn's critical path, with how it adds up (for the notes and row names). */
export interface FixedTime {
  ms: number;
  text: string;
}

/**
 * ASR_EARLY_START (set on for this scenario's server): recognition starts once the speaker has been
 * silent for the VAD's 300 ms tail, VAD_SILENCE_MS − 300 ms before the turn ends
 * (src/voice/early-asr.ts), so that much of the recogniser's latency is off the critical path.
 */
export const ASR_HEAD_START_MS = VAD_SILENCE_MS - 300;

/**
 * The providers' fixed time on a turn's critical path, end of speech → first frame: what the
 * overhead figures subtract. The one place that says which provider waits the device's answer
 * waits for: the part of ASR's latency beyond its head start; each of `llmRounds` LLM rounds to its
 * first byte (a round that ends in tool calls, then the one that speaks), where with `llmEarly`
 * (LLM_EARLY_START, src/voice/early-reply.ts) the first round starts when that early recognition
 * answers, so only what of ASR + that round lies beyond the head start is on the path; TTS to its
 * first audio. `asrMs`, `llmMs`: their shares.
 */
export function criticalPathMs(
  o: Pick<BenchOptions, "asrMs" | "llmMs" | "ttsMs">,
  llmRounds = 1,
  asrHeadStartMs = ASR_HEAD_START_MS,
  llmEarly = asrHeadStartMs > 0,
): FixedTime & { asrMs: number; llmMs: number } {
  const asr = Math.max(0, o.asrMs - asrHeadStartMs);
  const asrText = asrHeadStartMs > 0 ? `ASR ${asr} (${o.asrMs}, sent ${asrHeadStartMs} ms before the end of speech)` : `ASR ${asr}`;
  const first = llmEarly ? Math.max(0, o.asrMs + o.llmMs - asrHeadStartMs) - asr : o.llmMs;
  const llm = first + (llmRounds - 1) * o.llmMs;
  const rounds = llmRounds === 1 ? `${o.llmMs}` : `${llmRounds} × ${o.llmMs}`;
  const llmText = llmEarly ? `LLM ${llm} (${rounds}, the first started on that early answer)` : `LLM ${rounds}`;
  return { ms: asr + llm + o.ttsMs, asrMs: asr, llmMs: llm, text: `${asrText} + ${llmText} + TTS ${o.ttsMs}` };
}

/** What a variant of the voice scenario (voice-tools.ts) changes; the plain scenario is PLAIN. */
export interface VoiceVariant {
  /** LLM rounds before the first spoken word: 1 for a plain answer, 2 for a tool round and then the answer. */
  llmRounds: number;
  /** Fixed time on the critical path that is no provider's (the device's tool latency), or null. */
  extra: FixedTime | null;
  /** What the overhead rows subtract, in their names ("providers"). */
  minus: string;
  /** More options for the fake providers' process (its tool round). */
  fake?: Partial<FakeProcessOptions>;
  /** Ours only: after the devices connected (the warm-up device, then the talkers), before anyone talks. */
  prepare?(ctx: BenchContext, clients: DeviceClient[], phase: "warmup" | "talkers"): Promise<void>;
  /** The variant's own figures (placed after the raw rows), details and notes. */
  report?(ctx: BenchContext, run: VariantRun): { figures: Figure[]; details: Record<string, unknown>; notes: string[] };
}

/** What a variant's report sees of our phase. */
export interface VariantRun {
  /** wrangler's output after our phase (the Worker's log lines). */
  output: string;
  /** The talking devices (not the warm-up one). */
  ids: Set<string>;
  turns: TurnRecord[];
  /** Turns matched with their `voice.turn` line. */
  logged: { rec: TurnRecord; log: VoiceTurnLog }[];
}

const PLAIN: VoiceVariant = { llmRounds: 1, extra: null, minus: "providers" };

export const voiceScenario: Scenario = {
  name: "voice",
  title: "voice turns of many devices at once: overhead beyond the providers, CPU per second of audio",
  // Its server needs the fake providers' URL, which only exists once the scenario runs.
  ownServer: true,
  run: (ctx) => runVoice(ctx, PLAIN),
};

/** The voice scenario, plain or a variant of it. */
export async function runVoice(ctx: BenchContext, variant: VoiceVariant): Promise<ScenarioResult> {
  const { talkers, turns, asrMs, llmMs, ttsMs } = ctx.options;
  const path = criticalPathMs(ctx.options, variant.llmRounds);
  const extraMs = variant.extra?.ms ?? 0;
  const fixedMs = path.ms + extraMs;
  const fixedText = `${path.text}${variant.extra ? ` + ${variant.extra.text}` : ""}`;
  // Chat asking for the first LLM round → its first spoken token (a round started in the pause has
  // had its head start), with any tool rounds and the device's wait in between.
  const llmSpan: FixedTime =
    variant.llmRounds === 1 && !variant.extra
      ? { ms: path.llmMs, text: `${path.llmMs} ms` }
      : {
          ms: path.llmMs + extraMs,
          text: `${path.llmMs + extraMs} ms (${variant.llmRounds} rounds${variant.extra ? ` + ${variant.extra.text}` : ""})`,
        };
  const notes: string[] = [];
  const lib = loadOpus(new WebAssembly.Module(readFileSync(join(ROOT, "node_modules/@evan/opus/wasm/opus.wasm"))));
  const plan = planTurns(lib, turns);
  let fake: FakeProcess | undefined;
  let ours: PhaseResult;
  let echo: PhaseResult | null = null;
  let logs = new Map<string, VoiceTurnLog[]>();
  let output = "";
  let bare: BareReply | null = null;
  try {
    fake = await startFakeProcess({ answer: ANSWER, asrAnswer: FIXTURE_TEXT, latency: { asr: asrMs, llm: llmMs, tts: ttsMs }, ...variant.fake });
    await ctx.restart(
      {
        ASR_BASE_URL: fake.url,
        LLM_BASE_URL: fake.url,
        TTS_BASE_URL: fake.url,
        TTS_MODEL: "tts-1",
        VAD_SILENCE_MS: String(VAD_SILENCE_MS),
        // As criticalPathMs counts ASR and the first LLM round.
        ASR_EARLY_START: "true",
        LLM_EARLY_START: "true",
      },
      { workerLogs: true },
    );
    ctx.log(
      `voice: ${talkers} talkers × ${turns} turns; fixed on the critical path ${fixedText} ms; end of speech on packet ${plan.endIndex.join("/")} of the fixture`,
    );
    ours = await phase(ctx, ctx.ours, lib, plan, null, fake, variant.prepare);
    // Give wrangler a moment to print the last turns' log lines.
    await sleep(500);
    output = ctx.server.output();
    logs = turnLogs(output, new Set(ours.turns.map((t) => t.device)));
    ctx.log(`voice: ours: ${ours.turns.filter((t) => t.ok).length} of ${ours.turns.length} turns completed`);
    bare = commonReply(ours.turns);
    // After ours (whose sentences it needs), on the idle server: the speech cache is warm for both.
    if (bare && !ctx.stopped())
      echo = await phase(
        ctx,
        echoTarget(() => ctx.server.url, { voice: true }),
        lib,
        plan,
        bare,
        fake,
      );
    else if (!bare) notes.push("no bare comparison: no turn of ours completed, so there is no reply to match");
  } finally {
    await fake?.close();
  }

  // Client-side turns matched with the Worker's log lines (the k-th line of a device is its k-th turn).
  const logged: { rec: TurnRecord; log: VoiceTurnLog }[] = [];
  let unmatched = 0;
  const byDevice = new Map<string, TurnRecord[]>();
  for (const t of ours.turns) byDevice.set(t.device, [...(byDevice.get(t.device) ?? []), t]);
  for (const [device, recs] of byDevice) {
    const lines = logs.get(device) ?? [];
    if (lines.length !== recs.length) {
      unmatched += recs.length;
      continue;
    }
    for (const [i, rec] of recs.entries()) logged.push({ rec, log: lines[i]! });
  }
  if (unmatched) notes.push(`${unmatched} turns without a matching voice.turn log line (wrangler output lost or cut): not in the Worker's breakdown`);
  const vadMismatch = logged.filter(({ rec, log }) => log.audioMs !== rec.packetsDecoded * FRAME_MS).length;
  if (vadMismatch) notes.push(`${vadMismatch} turns where the server's VAD ended on another packet than the client predicted: their end of speech is off`);

  const okOurs = ours.turns.filter((t) => t.ok);
  const okEcho = echo?.turns.filter((t) => t.ok) ?? [];
  const raw = {
    ours: summarize(okOurs.flatMap((t) => (t.rawMs === null ? [] : [t.rawMs]))),
    echo: summarize(okEcho.flatMap((t) => (t.rawMs === null ? [] : [t.rawMs]))),
  };
  const over = summarize(okOurs.flatMap((t) => (t.rawMs === null ? [] : [t.rawMs - fixedMs])));
  const okLogged = logged.filter((l) => l.rec.ok);
  const field = (k: keyof VoiceTurnLog) => summarize(okLogged.flatMap(({ log }) => (typeof log[k] === "number" ? [log[k] as number] : [])));
  const serverOver = field("serverOverheadMs");
  const serverFirst = field("firstFrameMs");
  const [asr, llmFirst, ttsFirst] = [field("asrMs"), field("llmFirstTokenMs"), field("ttsFirstAudioMs")];
  const beyond = (s: Summary | null, fixed: number) => (s ? round2(s.p50 - fixed) : null);
  const fk = (k: ProviderKind, f: keyof FakeTiming) => summarize(ours.fakeTimings[k].map((t) => t[f]));
  const fakeOwn = { asr: fk("asr", "ownMs"), asrUpload: fk("asr", "uploadMs"), llm: fk("llm", "ownMs"), tts: fk("tts", "ownMs") };
  // What the client sees beyond the Worker's own span: the uplink packet and the first frame through
  // the dev proxy, and the client's own timers.
  const transport = summarize(okLogged.flatMap(({ rec, log }) => (rec.rawMs !== null && log.firstFrameMs !== null ? [rec.rawMs - log.firstFrameMs] : [])));
  // The log has no first-sentence time, but serverOverheadMs subtracts it: when the overhead is
  // above 0 (not clamped), first sentence = firstFrame − overhead − ASR − TTS first audio.
  const sentenceGap = summarize(
    okLogged.flatMap(({ log: l }) =>
      l.serverOverheadMs && l.firstFrameMs !== null && l.asrMs !== null && l.ttsFirstAudioMs !== null && l.llmFirstTokenMs !== null
        ? [l.firstFrameMs - l.serverOverheadMs - l.asrMs - l.ttsFirstAudioMs - l.llmFirstTokenMs]
        : [],
    ),
  );

  const failures = (p: PhaseResult | null) => (p ? tally(p.turns.filter((t) => !t.ok).map((t) => (t.failure ?? "?").slice(0, 100))) : {});
  const failedOurs = ours.turns.length - okOurs.length;
  const failedEcho = echo ? echo.turns.length - okEcho.length : null;
  if (failedOurs) notes.push(`ours: failed turns ${JSON.stringify(failures(ours))}`);
  if (failedEcho) notes.push(`bare: failed turns ${JSON.stringify(failures(echo))}`);
  if (ours.connectFailures) notes.push(`ours: ${ours.connectFailures}`);
  if (echo?.connectFailures) notes.push(`bare: ${echo.connectFailures}`);
  const expected = talkers * turns;
  const audio = { ours: audioS(ours.turns), echo: echo ? audioS(echo.turns) : null };
  const perAudioS = (p: PhaseResult | null, a: { inS: number; outS: number } | null, k: "workerMs" | "proxyMs") =>
    p?.cpu && a && a.inS + a.outS > 0 ? round2(p.cpu[k] / (a.inS + a.outS)) : null;
  const share = (ms: number | undefined, p: PhaseResult | null) => (ms !== undefined && p && p.wallMs > 0 ? Math.round((ms / p.wallMs) * 1000) / 10 : null);
  const coreShare = (p: PhaseResult | null) => share(p?.cpu?.workerMs, p);
  const extraPackets = ours.turns.reduce((a, t) => a + t.packetsSent - t.packetsDecoded, 0);
  notes.push(
    `overhead = end of speech → first frame minus the ${fixedMs} ms fixed on the critical path (${fixedText}); bare end → first frame is a floor with no providers`,
  );
  if (extraPackets) notes.push(`ours also received ${extraPackets} packets sent after the end of speech, before tts start (not decoded; not in audio in)`);
  const loopWorst = Math.max(ours.loopDelayP99Ms, echo?.loopDelayP99Ms ?? 0);
  if (loopWorst > 10) notes.push(`the bench process's event loop was late by up to ${loopWorst} ms (p99): client timestamps carry that much noise`);
  if (!echo?.cpu) notes.push("no bare CPU figures");

  const ms = (s: Summary | null, k: "p50" | "p99") => s?.[k] ?? null;
  const own = variant.report?.(ctx, { output, ids: new Set(ours.turns.map((t) => t.device)), turns: ours.turns, logged }) ?? {
    figures: [],
    details: {},
    notes: [],
  };
  const n = okOurs.length;
  const figures: Figure[] = [
    {
      name: `end of speech → first frame minus ${variant.minus}, p50 (${n} turns, ${talkers} talking)`,
      unit: "ms",
      ours: ms(over, "p50"),
      echo: ms(raw.echo, "p50"),
      checks: [{ text: "< 30 ms", pass: over !== null && over.p50 < 30 }],
    },
    {
      name: `end of speech → first frame minus ${variant.minus}, p99`,
      unit: "ms",
      ours: ms(over, "p99"),
      echo: ms(raw.echo, "p99"),
      checks: [{ text: "< 80 ms", pass: over !== null && over.p99 < 80 }],
    },
    { name: "end of speech → first frame raw p50", unit: "ms", ours: ms(raw.ours, "p50"), echo: ms(raw.echo, "p50") },
    { name: "end of speech → first frame raw p99", unit: "ms", ours: ms(raw.ours, "p99"), echo: ms(raw.echo, "p99") },
    ...own.figures,
    { name: "Worker's serverOverheadMs p50 (voice.turn)", unit: "ms", ours: ms(serverOver, "p50"), echo: null },
    { name: "Worker's serverOverheadMs p99", unit: "ms", ours: ms(serverOver, "p99"), echo: null },
    { name: "Worker's firstFrameMs p50", unit: "ms", ours: ms(serverFirst, "p50"), echo: null },
    { name: `ASR beyond its ${path.asrMs} ms on the critical path, as the Worker saw it, p50`, unit: "ms", ours: beyond(asr, path.asrMs), echo: null },
    { name: "  of which the WAV's upload to the fake, p50", unit: "ms", ours: ms(fakeOwn.asrUpload, "p50"), echo: null },
    { name: "  of which in the fake (body in → answer out), p50", unit: "ms", ours: ms(fakeOwn.asr, "p50"), echo: null },
    { name: `LLM first token beyond its fixed ${llmSpan.text}, as the Worker saw it, p50`, unit: "ms", ours: beyond(llmFirst, llmSpan.ms), echo: null },
    { name: "  of which in the fake, p50", unit: "ms", ours: ms(fakeOwn.llm, "p50"), echo: null },
    {
      name: "turns whose first LLM round started in the pause (the rest have all of it on the path)",
      unit: "count",
      ours: okLogged.filter(({ log }) => typeof log.llmHeadStartMs === "number").length,
      echo: null,
    },
    { name: "LLM first token → first whole sentence, p50", unit: "ms", ours: ms(sentenceGap, "p50"), echo: null },
    { name: `TTS first audio beyond its fixed ${ttsMs} ms, as the Worker saw it, p50`, unit: "ms", ours: beyond(ttsFirst, ttsMs), echo: null },
    { name: "  of which in the fake, p50", unit: "ms", ours: ms(fakeOwn.tts, "p50"), echo: null },
    { name: "client-seen minus Worker's firstFrameMs p50 (proxy, client)", unit: "ms", ours: ms(transport, "p50"), echo: null },
    {
      name: `turns completed (of ${expected})`,
      unit: "count",
      ours: okOurs.length,
      echo: echo ? okEcho.length : null,
      checks: [{ text: `${expected}`, pass: okOurs.length === expected }],
    },
    { name: "turns failed", unit: "count", ours: failedOurs, echo: failedEcho, checks: [{ text: "0", pass: failedOurs === 0 }] },
    {
      name: "reply frames received",
      unit: "count",
      ours: ours.turns.reduce((a, t) => a + t.frames, 0),
      echo: echo ? echo.turns.reduce((a, t) => a + t.frames, 0) : null,
    },
    {
      name: "frames not decoding to 60 ms at 24 kHz",
      unit: "count",
      ours: ours.turns.reduce((a, t) => a + t.badFrames, 0),
      echo: echo ? echo.turns.reduce((a, t) => a + t.badFrames, 0) : null,
      checks: [{ text: "0", pass: ours.turns.every((t) => t.badFrames === 0) }],
    },
    { name: "audio in (uplink decoded)", unit: "s", ours: audio.ours.inS, echo: audio.echo?.inS ?? null },
    { name: "audio out (downlink frames)", unit: "s", ours: audio.ours.outS, echo: audio.echo?.outS ?? null },
    {
      name: "worker workerd CPU per second of audio (in + out)",
      unit: "ms",
      ours: perAudioS(ours, audio.ours, "workerMs"),
      echo: perAudioS(echo, audio.echo, "workerMs"),
    },
    {
      name: "dev proxy workerd CPU per second of audio",
      unit: "ms",
      ours: perAudioS(ours, audio.ours, "proxyMs"),
      echo: perAudioS(echo, audio.echo, "proxyMs"),
    },
    { name: "worker workerd CPU while talking, share of one core", unit: "%", ours: coreShare(ours), echo: coreShare(echo) },
    {
      name: "bench clients' process CPU, share of one core",
      unit: "%",
      ours: share(ours.clientCpuMs, ours),
      echo: share(echo?.clientCpuMs, echo),
    },
    { name: "fake providers' process CPU, share of one core", unit: "%", ours: share(ours.fakeCpuMs ?? undefined, ours), echo: null },
    {
      name: "worker workerd waiting for a CPU (machine busy), share of wall time",
      unit: "%",
      ours: share(ours.workerWaitMs ?? undefined, ours),
      echo: share(echo?.workerWaitMs ?? undefined, echo),
    },
  ];
  const strip = (p: PhaseResult | null) => (p ? { ...p, turns: p.turns.slice(0, 5), failures: failures(p) } : null);
  // Every turn of ours in one line each: client raw span beside the Worker's own fields.
  const perTurn = logged.map(({ rec, log }) => ({
    device: rec.device,
    turn: rec.turn,
    ok: rec.ok,
    rawMs: rec.rawMs,
    audioMs: log.audioMs,
    asrMs: log.asrMs,
    llmHeadStartMs: log.llmHeadStartMs ?? null,
    llmFirstTokenMs: log.llmFirstTokenMs,
    ttsFirstAudioMs: log.ttsFirstAudioMs,
    firstFrameMs: log.firstFrameMs,
    serverOverheadMs: log.serverOverheadMs,
    toolCalls: log.toolCalls,
    toolMs: log.toolMs,
  }));
  return {
    figures,
    details: {
      talkers,
      turns,
      providers: { asrMs, llmMs, ttsMs, answer: ANSWER, asrAnswer: FIXTURE_TEXT },
      criticalPath: { ms: fixedMs, text: fixedText },
      vadSilenceMs: VAD_SILENCE_MS,
      endOfSpeechPacket: plan.endIndex,
      spreadMs: ctx.options.spreadMs,
      bareReply: bare,
      overheadMs: over,
      fakeOwnMs: fakeOwn,
      rawMs: raw,
      worker: {
        llmFirstTokenToSentenceMs: sentenceGap,
        serverOverheadMs: serverOver,
        firstFrameMs: serverFirst,
        asrMs: asr,
        llmFirstTokenMs: llmFirst,
        ttsFirstAudioMs: ttsFirst,
        transportMs: transport,
      },
      audio,
      ours: strip(ours),
      echo: strip(echo),
      perTurn,
      ...own.details,
    },
    notes: [...notes, ...own.notes],
  };
}
