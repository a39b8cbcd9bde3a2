import { log } from "../log.ts";
import { recordTurn } from "../metrics/analytics.ts";
import type { EndTrigger } from "./listener.ts";
import type { ReplyStats } from "./reply.ts";

// One `voice.turn` log line per turn (PROTOCOL §5.1, §13): where the time went between the end of
// speech and the first frame, provider time split from ours (`serverOverheadMs`). Time spent in
// tool calls is provider time: `llmFirstSentenceMs` runs from the first LLM request to the first
// sentence, across tool rounds and their waits, so a turn whose first words follow a tool call
// counts the call (and the LLM rounds around it) as provider time, not ours.

export type TurnTrigger = EndTrigger | "typed" | "wake";

export class TurnMetrics {
  readonly trigger: TurnTrigger;
  /** End of speech (or the typed message's arrival): the zero of firstFrameMs. */
  readonly endAt: number;
  audioMs: number | null = null;
  /** Until the recogniser answered, from the end of speech (0 if it already had). */
  asrMs: number | null = null;
  /** How long before the end of speech recognition started (ASR_EARLY_START), when it did. */
  asrHeadStartMs: number | null = null;
  /** How long before chat asked for it the first LLM round had started (LLM_EARLY_START), when it had. */
  llmHeadStartMs: number | null = null;
  llmFirstTokenMs: number | null = null;
  /** Until the first whole sentence: speech waits for it, so it is provider time too. */
  llmFirstSentenceMs: number | null = null;
  reply: ReplyStats | null = null;
  interrupted = false;
  /** LLM rounds that ended in tool calls, the calls, those that failed, and time spent in them. */
  toolRounds = 0;
  toolCalls = 0;
  toolErrors = 0;
  toolMs = 0;

  constructor(trigger: TurnTrigger, endAt: number) {
    this.trigger = trigger;
    this.endAt = endAt;
  }

  fields(deviceId: string): Record<string, unknown> {
    const r = this.reply;
    const firstFrameMs = this.firstFrameMs;
    const providerMs = (this.asrMs ?? 0) + (this.llmFirstSentenceMs ?? this.llmFirstTokenMs ?? 0) + (r?.ttsFirstAudioMs ?? 0);
    return {
      deviceId,
      trigger: this.trigger,
      audioMs: this.audioMs,
      asrMs: this.asrMs,
      asrHeadStartMs: this.asrHeadStartMs,
      llmHeadStartMs: this.llmHeadStartMs,
      llmFirstTokenMs: this.llmFirstTokenMs,
      ttsFirstAudioMs: r?.ttsFirstAudioMs ?? null,
      firstFrameMs,
      serverOverheadMs: firstFrameMs === null ? null : Math.max(0, firstFrameMs - providerMs),
      frames: r?.frames ?? 0,
      interrupted: this.interrupted,
      toolRounds: this.toolRounds,
      toolCalls: this.toolCalls,
      toolErrors: this.toolErrors,
      toolMs: this.toolMs,
    };
  }

  /** End of speech → first reply frame sent; null when no frame went out. */
  get firstFrameMs(): number | null {
    const at = this.reply?.firstFrameAt;
    return at == null ? null : at - this.endAt;
  }

  /** A provider or the turn itself failed (the device heard an alert). */
  failed = false;

  get outcome(): "ok" | "interrupted" | "failed" {
    return this.failed ? "failed" : this.interrupted ? "interrupted" : "ok";
  }

  /** The log line, and the same figures as an Analytics Engine data point (a no-op without one). */
  log(deviceId: string): void {
    const f = this.fields(deviceId);
    log.info("voice.turn", f);
    recordTurn({
      deviceId,
      trigger: this.trigger,
      outcome: this.outcome,
      firstFrameMs: f.firstFrameMs as number | null,
      asrMs: this.asrMs,
      llmFirstTokenMs: this.llmFirstTokenMs,
      ttsFirstAudioMs: f.ttsFirstAudioMs as number | null,
      serverOverheadMs: f.serverOverheadMs as number | null,
      audioMs: this.audioMs,
      frames: f.frames as number,
      toolCalls: this.toolCalls,
      toolMs: this.toolMs,
    });
  }
}
