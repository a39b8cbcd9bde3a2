// Signed 16-bit little-endian PCM, the one sample format of the voice pipeline: Opus decodes to it,
// ASR takes it in WAV, TTS servers stream it. Reads go through DataView so that nothing depends on
// the host's byte order or on the alignment of network chunks.

/** s16le bytes to samples; a trailing odd byte is ignored (use S16leReader for streams). */
export function pcmFromBytes(bytes: Uint8Array): Int16Array {
  const n = bytes.byteLength >> 1;
  const out = new Int16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** Samples to s16le bytes. */
export function pcmToBytes(pcm: Int16Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(pcm.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) view.setInt16(i * 2, pcm[i] ?? 0, true);
  return out;
}

/**
 * s16le from a byte stream cut anywhere (fetch chunks do not respect sample or frame borders).
 * With two channels, frames are mixed down to mono by averaging.
 */
export class S16leReader {
  private readonly frameBytes: number;
  private readonly carry: Uint8Array;
  private carried = 0;
  readonly channels: number;

  constructor(channels = 1) {
    if (!Number.isInteger(channels) || channels < 1 || channels > 8) throw new RangeError(`pcm: ${channels} channels not supported`);
    this.channels = channels;
    this.frameBytes = channels * 2;
    this.carry = new Uint8Array(this.frameBytes);
  }

  push(bytes: Uint8Array): Int16Array {
    let input = bytes;
    if (this.carried > 0) {
      const joined = new Uint8Array(this.carried + bytes.byteLength);
      joined.set(this.carry.subarray(0, this.carried));
      joined.set(bytes, this.carried);
      input = joined;
    }
    const frames = Math.floor(input.byteLength / this.frameBytes);
    const used = frames * this.frameBytes;
    this.carried = input.byteLength - used;
    this.carry.set(input.subarray(used));
    return framesToMono(input, frames, this.channels);
  }

  /** Drops an incomplete trailing frame; returns how many bytes were dropped. */
  flush(): number {
    const dropped = this.carried;
    this.carried = 0;
    return dropped;
  }
}

function framesToMono(bytes: Uint8Array, frames: number, channels: number): Int16Array {
  const out = new Int16Array(frames);
  const view = new DataView(bytes.buffer, bytes.byteOffset, frames * channels * 2);
  if (channels === 1) {
    for (let i = 0; i < frames; i++) out[i] = view.getInt16(i * 2, true);
    return out;
  }
  for (let i = 0, o = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++, o += 2) sum += view.getInt16(o, true);
    out[i] = Math.round(sum / channels);
  }
  return out;
}

/**
 * RMS level in dBFS (a full-scale square wave is 0 dB, a full-scale sine −3 dB). Floored at
 * −100 so silence stays a finite number in JSON logs.
 */
export function rmsDb(pcm: Int16Array): number {
  if (pcm.length === 0) return -100;
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) {
    const s = pcm[i] ?? 0;
    sum += s * s;
  }
  return Math.max(-100, 10 * Math.log10(sum / pcm.length / (32768 * 32768)));
}

/** Joins sample chunks into one array. */
export function concatPcm(chunks: readonly Int16Array[]): Int16Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Int16Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Milliseconds of audio in `samples` at `sampleRate`. */
export function pcmMs(samples: number, sampleRate: number): number {
  return (samples * 1000) / sampleRate;
}
