// End-of-turn detection (VOICE.md §3). The TurnDetector interface is what the pipeline uses, so
// WebRTC VAD or a semantic end-of-turn model can replace the energy detector below.

export interface CapturedSpeech {
  /** The utterance at the detector's sample rate, pre-roll included. */
  audio: Int16Array;
  /** Voiced time inside it. */
  speechMs: number;
}

/**
 * `speech_pause`: the speaker has been silent for tailMs, so if the silence lasts until the end of
 * the turn, `audio` is exactly what speech_end will carry (recognition may start now).
 * `speech_resume`: voice came back after a pause; that audio is no longer the utterance.
 */
export type VadEvent =
  | { type: "speech_start" }
  | ({ type: "speech_pause" } & CapturedSpeech)
  | { type: "speech_resume" }
  | ({ type: "speech_end"; reason: "silence" | "max_length" } & CapturedSpeech);

export interface TurnDetector {
  /** Mono PCM at the configured rate, in chunks of any length. */
  push(pcm: Int16Array): VadEvent[];
  /** Ends the utterance now (listen stop, end frame): what was captured, or null if nobody spoke. */
  finish(): CapturedSpeech | null;
  /** Forgets the utterance and the pre-roll; keeps what it learned of the room. */
  reset(): void;
  /** Changes the silence that ends an utterance (Infinity: only finish() or the length cap). */
  setSilenceMs(ms: number): void;
  readonly speaking: boolean;
}

export interface EnergyVadConfig {
  sampleRate: number;
  /** Silence that ends an utterance; Infinity: only finish() or the length cap end it. */
  silenceMs: number;
  /** Audio kept from before the start, so the first syllable reaches ASR whole. */
  preRollMs: number;
  /** Voiced time before an utterance counts: coughs and clicks below it never raise an event. */
  minSpeechMs: number;
  maxUtteranceMs: number;
  /** Silence kept after the last voiced sub-frame in speech_end audio. */
  tailMs: number;
  /** dB above the noise floor for a sub-frame to vote for a start... */
  startDb: number;
  /** ...and to count as voiced once started (hysteresis). */
  stayDb: number;
  /** The floor never goes below this (dBFS): digital silence and DTX comfort noise stay silent. */
  minFloorDb: number;
  /** How fast the floor may rise while idle; it falls within ~100 ms. */
  floorRiseDbPerSec: number;
}

export const ENERGY_VAD_DEFAULTS: Readonly<EnergyVadConfig> = Object.freeze({
  sampleRate: 16000,
  silenceMs: 700,
  preRollMs: 600,
  minSpeechMs: 300,
  maxUtteranceMs: 30_000,
  tailMs: 300,
  startDb: 9,
  stayDb: 5,
  minFloorDb: -60,
  floorRiseDbPerSec: 2,
});

const SUB_MS = 20;
/** A start needs VOTES voiced sub-frames among the last WINDOW (as xinnan does with Silero). */
const VOTES = 3;
const WINDOW = 5;
/** Share of the gap closed per sub-frame when the level is below the floor. */
const FLOOR_FALL = 0.3;

type State = "idle" | "pending" | "speaking";

/**
 * Energy on 20 ms sub-frames against an adaptive noise floor. An utterance begins ("pending") when
 * 3 of the last 5 sub-frames are startDb above the floor; speech_start is emitted once it holds
 * minSpeechMs of voice, so a click never interrupts a reply. Per sample it costs a multiply-add and
 * two array writes; buffers grow only when an utterance outgrows them.
 */
export class EnergyVad implements TurnDetector {
  readonly config: Readonly<EnergyVadConfig>;
  private readonly sub: number;
  private silenceSubs: number;
  private readonly ring: Int16Array;
  private ringPos = 0;
  private ringFill = 0;
  private utter = new Int16Array(0);
  private utterLen = 0;
  private subFill = 0;
  private subSum = 0;
  private floor: number | null = null;
  private state: State = "idle";
  /** Bit i set: the i-th most recent sub-frame voted. */
  private votes = 0;
  private voicedSubs = 0;
  private quietRun = 0;
  private lastVoicedEnd = 0;
  /** Pre-roll samples at the head of the utterance. */
  private preLen = 0;
  /** A speech_pause went out and no voice came since. */
  private paused = false;
  /** Smoothed level of the voiced sub-frames, dBFS. */
  private level: number | null = null;

  constructor(config: Partial<EnergyVadConfig> = {}) {
    this.config = Object.freeze({ ...ENERGY_VAD_DEFAULTS, ...config });
    const c = this.config;
    this.sub = Math.round((c.sampleRate * SUB_MS) / 1000);
    this.silenceSubs = Math.ceil(c.silenceMs / SUB_MS);
    this.ring = new Int16Array(Math.round((c.sampleRate * c.preRollMs) / 1000));
  }

  get speaking(): boolean {
    return this.state === "speaking";
  }

  /** The current noise floor estimate in dBFS (for logs). */
  get noiseFloorDb(): number {
    return this.floor ?? this.config.minFloorDb;
  }

  /** Manual mode uses Infinity until its fallback hands the turn to the VAD. */
  setSilenceMs(ms: number): void {
    this.silenceSubs = Math.ceil(ms / SUB_MS);
  }

  push(pcm: Int16Array): VadEvent[] {
    const events: VadEvent[] = [];
    for (let i = 0; i < pcm.length; i++) {
      const s = pcm[i] ?? 0;
      if (this.ring.length > 0) {
        this.ring[this.ringPos] = s;
        this.ringPos = this.ringPos + 1 === this.ring.length ? 0 : this.ringPos + 1;
        if (this.ringFill < this.ring.length) this.ringFill++;
      }
      if (this.state !== "idle") this.append(s);
      this.subSum += s * s;
      if (++this.subFill === this.sub) {
        const db = Math.max(-100, 10 * Math.log10(this.subSum / this.sub / 1073741824));
        this.subFill = 0;
        this.subSum = 0;
        this.step(db, events);
      }
    }
    return events;
  }

  finish(): CapturedSpeech | null {
    if (this.state === "idle") return null;
    const out = { audio: this.utter.slice(0, this.utterLen), speechMs: this.voicedSubs * SUB_MS };
    this.toIdle();
    return out;
  }

  reset(): void {
    this.toIdle();
    this.ringFill = 0;
    this.ringPos = 0;
    this.subFill = 0;
    this.subSum = 0;
  }

  private step(db: number, events: VadEvent[]): void {
    const c = this.config;
    if (this.floor === null) this.floor = Math.max(c.minFloorDb, db);
    const floor = this.floor;
    const votes = db >= floor + c.startDb;
    const voiced = db >= floor + c.stayDb;

    if (db < floor) this.floor = Math.max(c.minFloorDb, floor + (db - floor) * FLOOR_FALL);
    else if (this.state === "idle" && !votes) this.floor = floor + Math.min(db - floor, (c.floorRiseDbPerSec * SUB_MS) / 1000);

    if (this.state === "idle") {
      this.votes = ((this.votes << 1) | (votes ? 1 : 0)) & ((1 << WINDOW) - 1);
      if (popcount(this.votes) >= VOTES) this.begin();
      return;
    }

    if (voiced) {
      if (this.paused) {
        this.paused = false;
        events.push({ type: "speech_resume" });
      }
      this.voicedSubs++;
      this.quietRun = 0;
      this.lastVoicedEnd = this.utterLen;
      this.level = this.level === null ? db : this.level + (db - this.level) * 0.05;
    } else {
      this.quietRun++;
    }

    if (this.state === "pending" && this.voicedSubs * SUB_MS >= c.minSpeechMs) {
      this.state = "speaking";
      events.push({ type: "speech_start" });
    }

    const tail = Math.round((c.tailMs * c.sampleRate) / 1000);
    // Only where silence ends the turn: a turn the device ends (manual) keeps its trailing audio.
    if (this.state === "speaking" && !this.paused && this.quietRun < this.silenceSubs && Number.isFinite(this.silenceSubs)) {
      if (this.utterLen >= this.lastVoicedEnd + tail) {
        this.paused = true;
        events.push({ type: "speech_pause", audio: this.utter.slice(0, this.lastVoicedEnd + tail), speechMs: this.voicedSubs * SUB_MS });
      }
    }

    if (this.quietRun >= this.silenceSubs) {
      if (this.state === "speaking") {
        const end = Math.min(this.utterLen, this.lastVoicedEnd + tail);
        events.push({ type: "speech_end", reason: "silence", audio: this.utter.slice(0, end), speechMs: this.voicedSubs * SUB_MS });
      }
      this.toIdle();
      return;
    }

    if (this.utterLen - this.preLen >= (c.maxUtteranceMs * c.sampleRate) / 1000) {
      if (this.state === "speaking") {
        events.push({ type: "speech_end", reason: "max_length", audio: this.utter.slice(0, this.utterLen), speechMs: this.voicedSubs * SUB_MS });
        // A sound that lasts past the cap is the room now (a vacuum cleaner): start from its level.
        this.floor = Math.max(this.floor, this.level ?? c.minFloorDb);
      }
      this.toIdle();
    }
  }

  /** Starts an utterance with the pre-roll the ring holds. */
  private begin(): void {
    if (this.utter.length < this.baseCapacity()) this.utter = new Int16Array(this.baseCapacity());
    const start = this.ringFill < this.ring.length ? 0 : this.ringPos;
    for (let i = 0; i < this.ringFill; i++) this.utter[i] = this.ring[(start + i) % this.ring.length] ?? 0;
    this.utterLen = this.ringFill;
    this.preLen = this.ringFill;
    this.state = "pending";
    // The sub-frames that voted are voiced time already.
    this.voicedSubs = popcount(this.votes);
    this.quietRun = 0;
    this.lastVoicedEnd = this.utterLen;
    this.level = null;
  }

  /** Pre-roll plus 2 s: most utterances never reallocate. */
  private baseCapacity(): number {
    return this.ring.length + this.config.sampleRate * 2;
  }

  private append(s: number): void {
    if (this.utterLen === this.utter.length) {
      const grown = new Int16Array(Math.max(this.sub, this.utter.length * 2));
      grown.set(this.utter);
      this.utter = grown;
    }
    this.utter[this.utterLen++] = s;
  }

  private toIdle(): void {
    this.state = "idle";
    this.paused = false;
    this.votes = 0;
    this.voicedSubs = 0;
    this.quietRun = 0;
    this.utterLen = 0;
    this.lastVoicedEnd = 0;
    // A long utterance's buffer (up to ~1 MB at the cap) is not kept for every idle device.
    if (this.utter.length > this.baseCapacity()) this.utter = new Int16Array(0);
  }
}

function popcount(bits: number): number {
  let n = 0;
  for (let b = bits; b; b &= b - 1) n++;
  return n;
}
