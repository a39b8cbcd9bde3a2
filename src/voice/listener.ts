import type { OpusDecoder, OpusLib } from "./opus.ts";
import { EnergyVad, type TurnDetector } from "./vad.ts";

// One socket's capture (PROTOCOL §4, §5): uplink Opus decoded to 16 kHz and fed to the turn
// detector while the device listens. Who ends the utterance depends on the listen mode: the device
// (`listen stop`, a 0-byte frame) in manual mode, the VAD after VAD_SILENCE_MS in auto and
// realtime mode. Manual mode falls back to the VAD once MANUAL_LISTEN_FALLBACK_MS of audio arrived
// with no boundary (a button that never reports its release). Audio time, not wall time, drives
// every decision, so a burst of late packets is judged by what it contains.

export const UPLINK_RATE = 16000;

export type ListenMode = "auto" | "manual" | "realtime";
export type EndTrigger = "vad" | "listen_stop" | "end_frame" | "fallback";

export interface Utterance {
  audio: Int16Array;
  trigger: EndTrigger;
  /** Audio received since the listen started (what the device sent, not just the speech). */
  audioMs: number;
  speechMs: number;
}

/** `speech_pause` carries the utterance as it will be if the silence lasts (see EnergyVad). */
export type ListenerEvent =
  | { type: "speech_start" }
  | { type: "speech_pause"; audio: Int16Array }
  | { type: "speech_resume" }
  | { type: "utterance"; utterance: Utterance };

export interface ListenerConfig {
  silenceMs: number;
  fallbackMs: number;
}

export class Listener {
  private readonly decoder: OpusDecoder;
  private readonly vad: TurnDetector;
  private readonly config: ListenerConfig;
  private mode: ListenMode | null = null;
  private audioMs = 0;
  private fellBack = false;

  constructor(lib: OpusLib, config: ListenerConfig) {
    this.decoder = lib.decoder(UPLINK_RATE);
    this.vad = new EnergyVad({ sampleRate: UPLINK_RATE, silenceMs: config.silenceMs });
    this.config = config;
  }

  /** The mode capture runs in, or null when the device is not listening. */
  get listening(): ListenMode | null {
    return this.mode;
  }

  get speaking(): boolean {
    return this.mode !== null && this.vad.speaking;
  }

  start(mode: ListenMode): void {
    this.mode = mode;
    this.audioMs = 0;
    this.fellBack = false;
    this.vad.reset();
    this.vad.setSilenceMs(mode === "manual" ? Number.POSITIVE_INFINITY : this.config.silenceMs);
  }

  /** Decodes one uplink packet while listening; what the VAD saw in it. */
  audio(packet: Uint8Array): ListenerEvent[] {
    if (this.mode === null) return [];
    const pcm = this.decoder.decode(packet);
    this.audioMs += (pcm.length * 1000) / UPLINK_RATE;
    if (this.mode === "manual" && !this.fellBack && this.audioMs >= this.config.fallbackMs) {
      this.fellBack = true;
      this.vad.setSilenceMs(this.config.silenceMs);
    }
    const out: ListenerEvent[] = [];
    for (const e of this.vad.push(pcm)) {
      if (e.type === "speech_end") {
        out.push({ type: "utterance", utterance: this.ended(this.fellBack ? "fallback" : "vad", e.audio, e.speechMs) });
        if (this.mode === null) break;
      } else if (e.type === "speech_pause") out.push({ type: "speech_pause", audio: e.audio });
      else out.push(e);
    }
    return out;
  }

  /** The device ended the utterance (`listen stop`, a 0-byte frame): what was said, if anything. */
  stop(trigger: "listen_stop" | "end_frame"): Utterance | null {
    if (this.mode === null) return null;
    const captured = this.vad.finish();
    const u = captured ? this.ended(trigger, captured.audio, captured.speechMs) : null;
    if (trigger === "listen_stop") this.mode = null;
    return u;
  }

  /** Stops capturing without an utterance (abort, a new mode). */
  cancel(): void {
    this.vad.reset();
    this.mode = null;
  }

  free(): void {
    this.decoder.free();
  }

  private ended(trigger: EndTrigger, audio: Int16Array, speechMs: number): Utterance {
    const u = { audio, trigger, audioMs: Math.round(this.audioMs), speechMs };
    // Realtime keeps the microphone open: the next utterance is captured while this one is answered.
    if (this.mode === "realtime") this.audioMs = 0;
    else this.mode = null;
    return u;
  }
}
