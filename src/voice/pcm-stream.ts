import { S16leReader } from "./pcm.ts";
import { mayBeRiff, readWavHeader } from "./wav.ts";

// A TTS response body as samples. OpenAI answers raw s16le at 24 kHz for response_format "pcm";
// compatible servers often answer a WAV at their own rate (22,050 Hz is common). The first bytes
// decide: "RIFF" means a WAV header to read (its rate and channels win), anything else raw PCM at
// the rate the caller expects.

export class PcmStream {
  private mode: "sniff" | "header" | "data" = "sniff";
  private head = new Uint8Array(0);
  private reader = new S16leReader(1);
  /** Data bytes still expected when the WAV header gave a length; null: to the end. */
  private remaining: number | null = null;
  private rate: number;
  private wav = false;

  constructor(defaultRate: number) {
    this.rate = defaultRate;
  }

  /** Final once push() has returned samples: the WAV header's rate, else the default. */
  get sampleRate(): number {
    return this.rate;
  }

  /** Whether the body turned out to be a WAV file. */
  get isWav(): boolean {
    return this.wav;
  }

  /** Mono samples decodable so far. Throws on a WAV that is not 16-bit PCM. */
  push(bytes: Uint8Array): Int16Array {
    if (this.mode === "data") return this.data(bytes);
    const joined = new Uint8Array(this.head.byteLength + bytes.byteLength);
    joined.set(this.head);
    joined.set(bytes, this.head.byteLength);
    if (this.mode === "sniff") {
      if (joined.byteLength < 4 && mayBeRiff(joined)) {
        this.head = joined;
        return new Int16Array(0);
      }
      if (!mayBeRiff(joined)) {
        this.head = new Uint8Array(0);
        this.mode = "data";
        return this.data(joined);
      }
      this.mode = "header";
      this.wav = true;
    }
    const h = readWavHeader(joined);
    if (h.status === "invalid") throw new Error(`TTS audio: ${h.reason}`);
    if (h.status === "more") {
      this.head = joined;
      return new Int16Array(0);
    }
    this.head = new Uint8Array(0);
    this.mode = "data";
    this.rate = h.sampleRate;
    this.reader = new S16leReader(h.channels);
    this.remaining = h.dataBytes;
    return this.data(joined.subarray(h.dataOffset));
  }

  /**
   * Call once at the end of the body (one PcmStream per body). Returns samples held back; an odd
   * trailing byte or a WAV header that never completed yields nothing.
   */
  flush(): Int16Array {
    // A body shorter than "RIFF" that matched its first letters was raw PCM after all.
    const tail = this.mode === "sniff" ? this.reader.push(this.head) : new Int16Array(0);
    this.head = new Uint8Array(0);
    this.reader.flush();
    return tail;
  }

  private data(bytes: Uint8Array): Int16Array {
    let chunk = bytes;
    if (this.remaining !== null) {
      // Trailing chunks after the data (a LIST at the end) are not audio.
      chunk = bytes.subarray(0, Math.min(bytes.byteLength, this.remaining));
      this.remaining -= chunk.byteLength;
    }
    return this.reader.push(chunk);
  }
}
