import { recordVoiceTurn } from "../fleet/voice-turns.ts";
import type { FleetPort } from "../fleet/port.ts";
import { profileOf } from "../profile/profile.ts";
import { ProviderError, type ChatMessage } from "../llm/chat-stream.ts";
import { log } from "../log.ts";
import { encodeFrame } from "../protocol/binary.ts";
import { CLOSE, type AlertOut } from "../protocol/messages.ts";
import { attached, type HandlerCtx } from "../session/capability.ts";
import type { OpusEncoder, OpusLib } from "./opus.ts";
import { AlertError, type Turn } from "../session/turns.ts";
import type { ToolSource, TurnTool } from "../tools/tool.ts";
import { firstRoundRequest, type RoundsOutcome, runRounds } from "./chat-rounds.ts";
import type { Clock } from "./clock.ts";
import { cancelEarlyAsr, startEarlyAsr, type EarlyAsr } from "./early-asr.ts";
import { cancelEarlyReply, startEarlyReply, withEarlyReply, type EarlyReply } from "./early-reply.ts";
import { ChatHistory } from "./history.ts";
import { Listener, UPLINK_RATE, type Utterance } from "./listener.ts";
import { TurnMetrics, type TurnTrigger } from "./metrics.ts";
import { downlinkFrameMs } from "./pacer.ts";
import { systemPrompt } from "./prompt.ts";
import { providersFor } from "./providers/index.ts";
import type { Tts } from "./providers/tts.ts";
import type { AiRunner } from "./providers/workers-ai.ts";
import { Reply } from "./reply.ts";
import { SentenceSplitter, splitSentences } from "./sentences.ts";

// A voice turn (PROTOCOL §5, §5.1) on the session's turn runner: recognise the utterance, show it
// (`stt`), offer it to the capabilities (meeting transcript, working-mode command), else answer it:
// the LLM streamed into sentences, each spoken as soon as it is whole. Failures of a provider are
// an alert naming it; the session goes on.

export interface VoiceServices {
  /** libopus, instantiated once per isolate on first use. */
  opus(): OpusLib;
  clock: Clock;
  /** The Workers AI binding, when the Worker has one. */
  ai?: AiRunner;
  /** Who offers tools to chat turns (the device's MCP tools, server tools), in the order offered. */
  tools?: readonly ToolSource[];
  /** The fleet registry, for the voice figures of GET /api/stats. */
  fleet?: FleetPort;
}

/** One socket's voice state that cannot be serialised: codecs, the capture, the running turn. */
export interface VoiceConn {
  listener: Listener | null;
  encoder: { rate: number; codec: OpusEncoder } | null;
  active: ActiveTurn | null;
  /** Recognition of the utterance so far, started in the pause that may end it. */
  early: EarlyAsr | null;
}

export interface ActiveTurn {
  turn: Turn;
  metrics: TurnMetrics;
  /** The utterance is being offered to the capabilities: replies run inside this turn. */
  dispatching: boolean;
  /** A reply is playing: realtime speech now is a barge-in; other modes' audio is not speech. */
  replying: boolean;
  /** The first LLM round started in the pause, until chat takes it (or the turn ends). */
  earlyReply: EarlyReply | null;
}

/** Downlink Opus: complexity 5 at 24 kbps costs 0.2 ms per 60 ms frame (VOICE.md §1). */
const DOWNLINK_OPUS = { complexity: 5, bitrate: 24_000, application: "audio" } as const;

export function newVoiceConn(): VoiceConn {
  return { listener: null, encoder: null, active: null, early: null };
}

export function freeVoiceConn(vc: VoiceConn): void {
  vc.early = cancelEarlyAsr(vc.early);
  vc.listener?.free();
  vc.encoder?.codec.free();
  vc.listener = null;
  vc.encoder = null;
}

/**
 * Frees the codecs a socket is not using right now. Their memory lives in the isolate's one wasm
 * instance, shared by every object in it, and an object can be evicted without its sockets
 * closing: codecs kept only while a turn runs or the device listens cannot leak that way.
 */
export function releaseIdleCodecs(vc: VoiceConn): void {
  if (vc.listener && vc.listener.listening === null) {
    vc.listener.free();
    vc.listener = null;
  }
  if (vc.encoder && vc.active === null) {
    vc.encoder.codec.free();
    vc.encoder = null;
  }
}

export function listenerOf(vc: VoiceConn, services: VoiceServices, ctx: HandlerCtx): Listener {
  const s = ctx.session.settings;
  vc.listener ??= new Listener(services.opus(), { silenceMs: s.VAD_SILENCE_MS, fallbackMs: s.MANUAL_LISTEN_FALLBACK_MS });
  return vc.listener;
}

/** Runs `body` as the socket's turn, with its metrics logged once at the end. */
export function startVoiceTurn(
  ctx: HandlerCtx,
  vc: VoiceConn,
  services: VoiceServices,
  trigger: TurnTrigger,
  body: (turn: Turn, active: ActiveTurn) => Promise<void>,
): void {
  const metrics = new TurnMetrics(trigger, ctx.now);
  ctx.session.turns.start(ctx.conn, "the voice turn", async (turn) => {
    const active: ActiveTurn = { turn, metrics, dispatching: false, replying: false, earlyReply: null };
    vc.active = active;
    try {
      await body(turn, active);
    } catch (err) {
      if (!turn.signal.aborted) metrics.failed = true;
      throw err;
    } finally {
      if (vc.active === active) vc.active = null;
      active.earlyReply = cancelEarlyReply(active.earlyReply);
      metrics.interrupted ||= turn.signal.aborted;
      metrics.log(ctx.session.deviceId);
      // GET /api/stats counts turns and their time to the first frame (the fleet registry).
      if (services.fleet) recordVoiceTurn(ctx.session, services.fleet, metrics.firstFrameMs);
      releaseIdleCodecs(vc);
    }
  });
}

function providerAlert(err: unknown): Error {
  return err instanceof ProviderError ? new AlertError(`${err.provider} failed: ${err.message}`) : (err as Error);
}

function alert(ctx: HandlerCtx, message: string): void {
  ctx.reply({ type: "alert", status: "error", message, emotion: "sad", session_id: ctx.conn.state.sessionId } satisfies AlertOut & { session_id: string });
}

function asrLanguage(ctx: HandlerCtx): string {
  return profileOf(ctx.session).language || ctx.session.settings.ASR_LANGUAGE;
}

/**
 * Starts recognising the utterance so far in a pause that may end it (early-asr.ts), where
 * ASR_EARLY_START allows and a recogniser is configured; a newer pause replaces an older one.
 */
export function recogniseEarly(ctx: HandlerCtx, vc: VoiceConn, services: VoiceServices, audio: Int16Array): void {
  vc.early = cancelEarlyAsr(vc.early);
  const s = ctx.session.settings;
  if (!s.ASR_EARLY_START) return;
  const asr = providersFor(s, services.ai).asr;
  if (!asr.ok) return;
  const language = asrLanguage(ctx);
  const early = startEarlyAsr(asr.value, audio, { timeoutMs: s.ASR_TIMEOUT_MS, now: services.clock.now(), ...(language ? { language } : {}) });
  vc.early = early;
  // Outside any mode an utterance goes to chat: its first LLM round can start on this answer too.
  if (s.LLM_EARLY_START && ctx.session.mode === null) {
    early.result.then(
      (text) => replyEarly(ctx, vc, services, early, text),
      () => {},
    );
  }
}

/** Starts the first LLM round chat would make for `text` while the pause lasts (early-reply.ts). */
async function replyEarly(ctx: HandlerCtx, vc: VoiceConn, services: VoiceServices, early: EarlyAsr, text: string): Promise<void> {
  const stillPaused = () => vc.early === early && !early.controller.signal.aborted;
  if (!text || !stillPaused()) return;
  const s = ctx.session.settings;
  const llm = providersFor(s, services.ai).llm;
  if (!llm.ok) return;
  const tools = await turnTools(ctx, services);
  if (!stillPaused()) return;
  const at = ctx.session.now();
  const messages = chatMessages(ctx, text, tools, at);
  early.reply = startEarlyReply(llm.value, (signal) => firstRoundRequest(chatRequestPort(ctx, signal), messages, tools), services.clock.now(), at);
}

/** Recognises an utterance the listener captured and hands the text on. */
export async function speechTurn(
  ctx: HandlerCtx,
  vc: VoiceConn,
  services: VoiceServices,
  active: ActiveTurn,
  u: Utterance,
  early: EarlyAsr | null,
): Promise<void> {
  const { session, conn } = ctx;
  const s = session.settings;
  const { turn, metrics } = active;
  metrics.audioMs = u.audioMs;
  let text = "";
  try {
    const asr = providersFor(s, services.ai).asr;
    if (!asr.ok) throw new AlertError(asr.reason);
    const t0 = services.clock.now();
    if (early) {
      const cancel = () => early.controller.abort(turn.signal.reason);
      if (turn.signal.aborted) cancel();
      else turn.signal.addEventListener("abort", cancel, { once: true });
      try {
        text = await early.result;
      } finally {
        turn.signal.removeEventListener("abort", cancel);
      }
      metrics.asrHeadStartMs = t0 - early.startedAt;
      active.earlyReply = early.reply;
      early.reply = null;
    } else {
      const language = asrLanguage(ctx);
      text = await asr.value.transcribe(u.audio, UPLINK_RATE, {
        signal: turn.signal,
        timeoutMs: s.ASR_TIMEOUT_MS,
        ...(language ? { language } : {}),
      });
    }
    metrics.asrMs = services.clock.now() - t0;
  } catch (err) {
    throw providerAlert(err);
  } finally {
    // Recognition is over: the listen state leaves `finalizing`.
    if (conn.state.listen === "finalizing") {
      const again = !text && conn.state.listenMode === "auto" && !turn.signal.aborted;
      conn.state.listen = again ? "listening" : "idle";
      if (again) listenerOf(vc, services, ctx).start("auto");
      conn.save();
    }
  }
  if (!text || turn.signal.aborted) return;
  ctx.reply({ type: "stt", text, session_id: conn.state.sessionId });
  active.dispatching = true;
  try {
    await session.utterance(ctx, text, "speech");
  } finally {
    active.dispatching = false;
  }
}

interface VoiceExt extends Record<string, unknown> {
  /** The "no TTS" alert went out on this socket (once per session). */
  ttsAlerted: boolean;
}

function replyFor(ctx: HandlerCtx, vc: VoiceConn, services: VoiceServices, active: ActiveTurn): Reply {
  const { session, conn } = ctx;
  const s = session.settings;
  const tts = providersFor(s, services.ai).tts;
  let ttsProvider: Tts | null = tts.ok ? tts.value : null;
  const alertTtsOnce = (message: string) => {
    const ext = attached<VoiceExt>(conn, "voice", () => ({ ttsAlerted: false }));
    if (ext.ttsAlerted) return;
    ext.ttsAlerted = true;
    conn.save();
    alert(ctx, message);
  };
  if (!tts.ok) alertTtsOnce(tts.reason);
  // The device profile's voice wins over TTS_VOICE (PROTOCOL §11).
  const voice = profileOf(session).voice || s.TTS_VOICE;
  const rate = s.DOWNLINK_SAMPLE_RATE;
  const frameMs = downlinkFrameMs(conn.state.frameDuration);
  let sent = 0;
  const reply = new Reply({
    clock: services.clock,
    signal: active.turn.signal,
    sessionId: conn.state.sessionId,
    send: (msg) => ctx.reply(msg),
    frame(pcm) {
      if (!vc.encoder || vc.encoder.rate !== rate) {
        vc.encoder?.codec.free();
        vc.encoder = { rate, codec: services.opus().encoder(rate, DOWNLINK_OPUS) };
      }
      conn.sendBinary(encodeFrame(conn.state.binary, vc.encoder.codec.encode(pcm), (sent++ * frameMs) >>> 0));
    },
    tts: ttsProvider,
    sampleRate: rate,
    frameMs,
    ...(voice ? { voice } : {}),
    ttsTimeoutMs: s.TTS_TIMEOUT_MS,
    ttsFailed(err) {
      ttsProvider = null;
      alertTtsOnce(err instanceof ProviderError ? `${err.provider} failed: ${err.message}` : "TTS failed");
    },
  });
  active.metrics.reply = reply.stats;
  return reply;
}

/** Joins sentences as they were written: no space between CJK sentences. */
function joined(sentences: readonly string[]): string {
  return sentences.reduce((acc, s) => (acc && /[\p{Script=Han}\u3000-\u303f\uff00-\uffef]$/u.test(acc) ? acc + s : acc ? `${acc} ${s}` : s), "");
}

/** Speaks a fixed text (a greeting, a working-mode confirmation) in the running turn. */
export async function say(ctx: HandlerCtx, vc: VoiceConn, services: VoiceServices, active: ActiveTurn, text: string): Promise<void> {
  const reply = replyFor(ctx, vc, services, active);
  active.replying = true;
  try {
    for (const sentence of splitSentences(text)) reply.add(sentence);
    await reply.finish();
  } finally {
    active.replying = false;
  }
}

/** The chat request's messages: system prompt (with the time), the recent history, the utterance. */
function chatMessages(ctx: HandlerCtx, text: string, tools: readonly TurnTool[], at: number): ChatMessage[] {
  const { session } = ctx;
  const s = session.settings;
  const profile = profileOf(session);
  const history = new ChatHistory(session.sql, session.schema);
  return [
    { role: "system", content: systemPrompt(profile.prompt || s.CHAT_SYSTEM_PROMPT, at, s.TIMEZONE_OFFSET_MIN, tools.length > 0) },
    ...history.recent(s.CHAT_HISTORY_TURNS).map((m) => ({ role: m.role, content: m.content })),
    { role: "user", content: text },
  ];
}

/** Settings, model (the profile's over LLM_MODEL, PROTOCOL §11) and signal of the chat rounds. */
function chatRequestPort(ctx: HandlerCtx, signal: AbortSignal) {
  const llmModel = profileOf(ctx.session).llmModel;
  return { settings: ctx.session.settings, signal, ...(llmModel ? { model: llmModel } : {}) };
}

/** The tools every source offers for this turn; a source that fails offers none. */
async function turnTools(ctx: HandlerCtx, services: VoiceServices): Promise<TurnTool[]> {
  const out: TurnTool[] = [];
  for (const source of services.tools ?? []) {
    try {
      out.push(...(await source(ctx)));
    } catch (err) {
      log.warn("voice.tools_unavailable", { deviceId: ctx.session.deviceId, error: err });
    }
  }
  return out;
}

/**
 * Answers an utterance with the LLM, spoken sentence by sentence in one reply, whatever tool rounds
 * it takes (chat-rounds.ts); history keeps what was heard, never the tool traffic.
 */
export async function chat(ctx: HandlerCtx, vc: VoiceConn, services: VoiceServices, active: ActiveTurn, text: string): Promise<void> {
  const { session } = ctx;
  const s = session.settings;
  const { turn, metrics } = active;
  const early = active.earlyReply;
  active.earlyReply = null;
  const llm = providersFor(s, services.ai).llm;
  if (!llm.ok) {
    cancelEarlyReply(early);
    throw new AlertError(llm.reason);
  }
  const history = new ChatHistory(session.sql, session.schema);
  const reply = replyFor(ctx, vc, services, active);
  reply.start();
  active.replying = true;
  const tools = await turnTools(ctx, services);
  // The time the early request's prompt stated (a second or less ago), so that a minute turning over
  // in the pause does not make the two requests differ.
  const messages = chatMessages(ctx, text, tools, early?.askedAt ?? session.now());
  let failed = false;
  let end: RoundsOutcome["end"] = null;
  try {
    try {
      const port = {
        ...chatRequestPort(ctx, turn.signal),
        deviceId: session.deviceId,
        llm: withEarlyReply(llm.value, early, (e, adopted) => {
          if (adopted) metrics.llmHeadStartMs = services.clock.now() - e.startedAt;
          // Its input tokens were spent for nothing: say so where operators can find it.
          else log.debug("voice.early_reply_unused", { deviceId: session.deviceId, reason: "the turn's request differs" });
        }),
        clock: services.clock,
        metrics,
        splitter: new SentenceSplitter(),
        say: (sentence: string) => reply.add(sentence),
      };
      end = (await runRounds(port, messages, tools)).end;
      if (end) for (const sentence of splitSentences(end.goodbye)) reply.add(sentence);
    } catch (err) {
      if (turn.signal.aborted) return;
      failed = true;
      metrics.failed = true;
      const e = providerAlert(err);
      if (!(e instanceof AlertError)) throw e;
      alert(ctx, e.message);
    }
    await reply.finish();
    // end_conversation: the goodbye was played and `tts stop` went out; the conversation is over.
    if (end && !turn.signal.aborted) ctx.conn.close(CLOSE.normal, "conversation ended");
  } finally {
    active.replying = false;
    if (!failed) history.append(text, joined(reply.spoken), session.now(), s.CHAT_HISTORY_TURNS);
  }
}
