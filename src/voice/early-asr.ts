import { cancelEarlyReply, type EarlyReply } from "./early-reply.ts";
import type { Asr } from "./providers/asr.ts";
import { UPLINK_RATE } from "./listener.ts";

// Recognition started before the turn ends (ASR_EARLY_START). Once the speaker has been silent for
// the VAD's tail (300 ms), the audio the recogniser would get at the end of the turn is fixed: if
// the silence lasts to VAD_SILENCE_MS, the utterance is exactly those samples. So the request goes
// out then, and the turn that follows uses its answer instead of asking again: the recogniser's
// whole latency, up to VAD_SILENCE_MS − 300 ms of it, leaves the path between the end of speech
// and the reply. Voice that comes back, an abort or a closing socket cancels it; an utterance of
// other samples (the device ended the turn, the length cap) never uses it.

export interface EarlyAsr {
  /** Samples sent: the answer is used only for an utterance of exactly these. */
  readonly samples: number;
  readonly startedAt: number;
  readonly controller: AbortController;
  readonly result: Promise<string>;
  /** The reply's first LLM round, started on this answer while the pause lasts (early-reply.ts). */
  reply: EarlyReply | null;
}

export interface EarlyAsrOptions {
  timeoutMs: number;
  language?: string;
  now: number;
}

export function startEarlyAsr(asr: Asr, audio: Int16Array, opts: EarlyAsrOptions): EarlyAsr {
  const controller = new AbortController();
  const result = asr.transcribe(audio, UPLINK_RATE, {
    signal: controller.signal,
    timeoutMs: opts.timeoutMs,
    ...(opts.language ? { language: opts.language } : {}),
  });
  // Nobody may await a cancelled speculation: its failure must not surface as unhandled.
  result.catch(() => {});
  return { samples: audio.length, startedAt: opts.now, controller, result, reply: null };
}

export function cancelEarlyAsr(early: EarlyAsr | null): null {
  early?.controller.abort(new DOMException("the speaker went on", "AbortError"));
  if (early) early.reply = cancelEarlyReply(early.reply);
  return null;
}

/** The early request if it recognised exactly `audio`; otherwise it is cancelled and null. */
export function earlyAnswerFor(early: EarlyAsr | null, audio: Int16Array): EarlyAsr | null {
  if (early && early.samples === audio.length) return early;
  cancelEarlyAsr(early);
  return null;
}
