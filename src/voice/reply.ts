import type { Clock } from "./clock.ts";
import { emotionOf } from "./emotion.ts";
import { FrameChunker, Pacer } from "./pacer.ts";
import type { Tts } from "./providers/tts.ts";
import { AsyncQueue } from "./queue.ts";
import { speakable } from "./speakable.ts";

// One spoken reply (PROTOCOL §4, §5): `tts start` → (`sentence_start` → frames)… → `tts stop`.
// Sentences arrive one by one (from the LLM stream); each is synthesized while the one before it
// plays, up to SYNTH_AHEAD ahead, and played in order through the pacer. Nothing is sent once the
// turn's signal aborts: a barge-in's `tts stop` is the last thing the device hears of this reply.
// Without TTS (not configured, or failed mid-reply) sentences are shown as text, without frames.

/** Sentences synthesized beyond the one playing. */
export const SYNTH_AHEAD = 2;
/** `tts stop` waits this long after the last frame's play time (xinnan waits ~420 ms). */
export const TTS_STOP_TAIL_MS = 400;

export interface ReplyPort {
  clock: Clock;
  signal: AbortSignal;
  sessionId: string;
  send(msg: object): void;
  /** Encodes one PCM frame and sends it in the socket's binary framing. */
  frame(pcm: Int16Array): void;
  /** null: text only. */
  tts: Tts | null;
  sampleRate: number;
  frameMs: number;
  voice?: string;
  ttsTimeoutMs: number;
  /** TTS failed: the turn tells the device once; the rest of the reply is text. */
  ttsFailed(err: unknown): void;
}

interface Entry {
  text: string;
  audio: AsyncQueue<Int16Array> | null;
}

export interface ReplyStats {
  ttsStartAt: number | null;
  /** From the first synthesis request to its first audio. */
  ttsFirstAudioMs: number | null;
  firstFrameAt: number | null;
  frames: number;
}

export class Reply {
  private readonly port: ReplyPort;
  private readonly entries: Entry[] = [];
  private ended = false;
  private wake: (() => void) | null = null;
  private synthesized = 0;
  private playing = 0;
  private tts: Tts | null;
  private pacer: Pacer | null = null;
  private emotionSent = false;
  private player: Promise<void> | null = null;
  /** Sentences whose audio (or text, without TTS) went out completely. */
  readonly spoken: string[] = [];
  readonly stats: ReplyStats = { ttsStartAt: null, ttsFirstAudioMs: null, firstFrameAt: null, frames: 0 };

  constructor(port: ReplyPort) {
    this.port = port;
    this.tts = port.tts;
  }

  private get aborted(): boolean {
    return this.port.signal.aborted;
  }

  private send(msg: Record<string, unknown>): void {
    if (!this.aborted) this.port.send({ ...msg, session_id: this.port.sessionId });
  }

  /** `tts start`, once: early, so the firmware has switched to speaking before the first frame. */
  start(): void {
    if (this.stats.ttsStartAt !== null || this.aborted) return;
    this.stats.ttsStartAt = this.port.clock.now();
    this.pacer = new Pacer(this.port.clock, this.port.frameMs, this.stats.ttsStartAt);
    this.send({ type: "tts", state: "start" });
    this.player = this.play();
  }

  /** Queues a sentence (display text); synthesis starts when it is close enough to play. */
  add(sentence: string): void {
    if (this.ended) return;
    this.start();
    this.entries.push({ text: sentence, audio: null });
    this.pump();
    this.notify();
  }

  /** No more sentences: resolves once everything played and `tts stop` went out (or on abort). */
  async finish(): Promise<void> {
    this.ended = true;
    this.start();
    this.notify();
    await this.player;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private pump(): void {
    const tts = this.tts;
    if (!tts) return;
    while (this.synthesized < this.entries.length && this.synthesized <= this.playing + SYNTH_AHEAD) {
      const entry = this.entries[this.synthesized++]!;
      const speech = speakable(entry.text);
      if (!speech) continue;
      entry.audio = new AsyncQueue<Int16Array>();
      void this.synthesize(tts, speech, entry.audio, this.synthesized === 1);
    }
  }

  private async synthesize(tts: Tts, text: string, out: AsyncQueue<Int16Array>, first: boolean): Promise<void> {
    const at = this.port.clock.now();
    try {
      const req = {
        text,
        sampleRate: this.port.sampleRate,
        signal: this.port.signal,
        timeoutMs: this.port.ttsTimeoutMs,
        ...(this.port.voice ? { voice: this.port.voice } : {}),
      };
      for await (const pcm of tts.synthesize(req)) {
        if (first && this.stats.ttsFirstAudioMs === null) this.stats.ttsFirstAudioMs = this.port.clock.now() - at;
        out.push(pcm);
      }
      out.end();
    } catch (err) {
      out.fail(err);
    }
  }

  private async next(i: number): Promise<Entry | null> {
    while (i >= this.entries.length) {
      if (this.ended || this.aborted) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    return this.aborted ? null : this.entries[i]!;
  }

  private async play(): Promise<void> {
    const onAbort = () => this.notify();
    this.port.signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (let i = 0; ; i++) {
        const entry = await this.next(i);
        if (!entry) break;
        this.playing = i;
        this.pump();
        if (await this.playEntry(entry)) this.spoken.push(entry.text);
        if (this.aborted) return;
      }
      if (this.aborted) return;
      const pacer = this.pacer!;
      await this.port.clock.sleep(pacer.playEnd + TTS_STOP_TAIL_MS - this.port.clock.now(), this.port.signal);
      this.send({ type: "tts", state: "stop" });
    } finally {
      this.port.signal.removeEventListener("abort", onAbort);
    }
  }

  private sentenceStart(text: string): void {
    if (!this.emotionSent) {
      this.emotionSent = true;
      const e = emotionOf(text);
      this.send({ type: "llm", emotion: e.emotion, text: e.emoji });
    }
    this.send({ type: "tts", state: "sentence_start", text });
  }

  /** True when the sentence went out whole. */
  private async playEntry(entry: Entry): Promise<boolean> {
    if (!entry.audio || !this.tts) {
      this.sentenceStart(entry.text);
      return !this.aborted;
    }
    const pacer = this.pacer!;
    const chunker = new FrameChunker(Math.round((this.port.sampleRate * this.port.frameMs) / 1000));
    let started = false;
    const out = async (frame: Int16Array): Promise<boolean> => {
      if (!(await pacer.ready(this.port.signal))) return false;
      if (!started) {
        started = true;
        this.sentenceStart(entry.text);
      }
      this.port.frame(frame);
      pacer.sent();
      this.stats.frames++;
      this.stats.firstFrameAt ??= this.port.clock.now();
      return true;
    };
    try {
      for await (const pcm of entry.audio) {
        for (const frame of chunker.push(pcm)) if (!(await out(frame))) return false;
      }
      const last = chunker.flush();
      if (last && !(await out(last))) return false;
    } catch (err) {
      if (this.aborted) return false;
      this.tts = null;
      this.port.ttsFailed(err);
      if (!started) this.sentenceStart(entry.text);
      return !this.aborted;
    }
    if (!started) this.sentenceStart(entry.text); // a sentence that synthesized to nothing
    return true;
  }
}
