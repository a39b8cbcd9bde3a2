import { log } from "../log.ts";
import type { EndTrigger } from "./listener.ts";
import type { ReplyStats } from "./reply.ts";

// One `voice.turn` log line per turn (PROTOCOL §5.1): where the time went between the end of
// speech and the first frame, provider time split from ours (`serverOverheadMs`).

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
    };
  }

  log(deviceId: string): void {
    log.info("voice.turn", this.fields(deviceId));
  }
}
