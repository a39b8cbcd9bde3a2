import { log } from "../log.ts";
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
  asrMs: number | null = null;
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
    const firstFrameMs = r?.firstFrameAt != null ? r.firstFrameAt - this.endAt : null;
    const providerMs = (this.asrMs ?? 0) + (this.llmFirstSentenceMs ?? this.llmFirstTokenMs ?? 0) + (r?.ttsFirstAudioMs ?? 0);
    return {
      deviceId,
      trigger: this.trigger,
      audioMs: this.audioMs,
      asrMs: this.asrMs,
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

  log(deviceId: string): void {
    log.info("voice.turn", this.fields(deviceId));
  }
}
