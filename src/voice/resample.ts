// Sample-rate conversion for speech: TTS servers answer at 22,050 or 24,000 Hz, the device wants its
// hello rate; ASR gets 16 kHz. A Kaiser-windowed sinc (16 zero crossings a side, β = 8, cutoff at
// 92% of the lower Nyquist frequency) in a polyphase table: aliasing stays around −70 dB, which
// linear interpolation (−25 dB on sibilants when downsampling) does not reach, and the cost is
// ~40–60 multiply-adds per output sample, negligible next to Opus. Output sample n sits exactly on
// input time n·from/to (zero-phase filter, no delay), so one-shot and streaming results are equal.

const ZERO_CROSSINGS = 16;
const KAISER_BETA = 8;
const ROLLOFF = 0.92;
/** Above this many phases (odd rate pairs) positions are rounded to the nearest of MAX_PHASES. */
const MAX_PHASES = 1024;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (series; converges fast for β ≤ 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

interface Kernel {
  /** Up (L) and down (M) factors of the reduced ratio to/from. */
  up: number;
  down: number;
  phases: number;
  /** Taps per phase reach from input index i − half + 1 to i + half. */
  half: number;
  table: Float64Array;
}

const kernels = new Map<string, Kernel>();

function kernel(from: number, to: number): Kernel {
  const key = `${from}:${to}`;
  const cached = kernels.get(key);
  if (cached) return cached;
  const g = gcd(from, to);
  const up = to / g;
  const down = from / g;
  const phases = Math.min(up, MAX_PHASES);
  const fc = ROLLOFF * Math.min(1, to / from);
  const reach = ZERO_CROSSINGS / fc;
  const half = Math.ceil(reach);
  const taps = 2 * half;
  const table = new Float64Array(phases * taps);
  const i0beta = besselI0(KAISER_BETA);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const x = frac + half - 1 - j;
      const r = x / reach;
      let h = 0;
      if (Math.abs(r) < 1) {
        const w = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0beta;
        const y = Math.PI * fc * x;
        h = (y === 0 ? 1 : Math.sin(y) / y) * w;
      }
      table[p * taps + j] = h;
      sum += h;
    }
    // Unity gain at DC for every phase, or the fractional positions would ripple in level.
    for (let j = 0; j < taps; j++) table[p * taps + j] = (table[p * taps + j] ?? 0) / sum;
  }
  const k: Kernel = { up, down, phases, half, table };
  kernels.set(key, k);
  return k;
}

function checkRate(rate: number): void {
  if (!Number.isInteger(rate) || rate < 1000 || rate > 384000) throw new RangeError(`resample: bad sample rate ${rate}`);
}

/**
 * Converts chunks as they arrive (a TTS body), with no discontinuity at chunk borders: each push
 * returns the samples whose filter window is complete, flush() the rest (the stream then starts
 * over). Latency is `half` input samples, under 1.5 ms at 16–48 kHz.
 */
export class StreamResampler {
  readonly from: number;
  readonly to: number;
  private readonly k: Kernel | null;
  /** Input kept for the windows still to come; buf[0] is input sample `bufStart`. */
  private buf = new Int16Array(0);
  private bufStart = 0;
  private received = 0;
  private produced = 0;

  constructor(from: number, to: number) {
    checkRate(from);
    checkRate(to);
    this.from = from;
    this.to = to;
    this.k = from === to ? null : kernel(from, to);
  }

  push(chunk: Int16Array): Int16Array {
    if (!this.k) return chunk;
    if (chunk.length === 0) return new Int16Array(0);
    const joined = new Int16Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    this.buf = joined;
    this.received += chunk.length;
    // Output n needs input up to floor(n·M/L) + half, one more when its phase rounds up.
    const { up, down, half } = this.k;
    const last = Math.floor(((this.received - 2 - half) * up) / down);
    return this.run(Math.max(this.produced, last + 1));
  }

  flush(): Int16Array {
    if (!this.k) return new Int16Array(0);
    const { up, down } = this.k;
    const total = Math.floor((2 * this.received * up + down) / (2 * down));
    const out = this.run(total);
    this.buf = new Int16Array(0);
    this.bufStart = 0;
    this.received = 0;
    this.produced = 0;
    return out;
  }

  /** Produces outputs up to (not including) `end`; input beyond what arrived counts as zero. */
  private run(end: number): Int16Array {
    const k = this.k;
    if (!k || end <= this.produced) return new Int16Array(0);
    const { up, down, phases, half, table } = k;
    const taps = 2 * half;
    const out = new Int16Array(end - this.produced);
    const buf = this.buf;
    const base = this.bufStart;
    for (let n = this.produced, o = 0; n < end; n++, o++) {
      const pos = n * down;
      let i = Math.floor(pos / up);
      let p = pos - i * up;
      if (phases !== up) {
        p = Math.round((p * phases) / up);
        if (p === phases) {
          p = 0;
          i++;
        }
      }
      const first = i - half + 1 - base;
      const row = p * taps;
      let acc = 0;
      const jStart = Math.max(0, -first);
      const jEnd = Math.min(taps, buf.length - first);
      for (let j = jStart; j < jEnd; j++) acc += (buf[first + j] ?? 0) * (table[row + j] ?? 0);
      out[o] = acc >= 32767 ? 32767 : acc <= -32768 ? -32768 : Math.round(acc);
    }
    this.produced = end;
    // Keep only what the next window reaches back to.
    const nextFirst = Math.floor((end * down) / up) - half;
    const drop = Math.min(buf.length, Math.max(0, nextFirst - base));
    if (drop > 0) {
      this.buf = buf.slice(drop);
      this.bufStart = base + drop;
    }
    return out;
  }
}

/** One-shot conversion; the result has round(length × to / from) samples. */
export function resample(input: Int16Array, from: number, to: number): Int16Array {
  if (from === to) {
    checkRate(from);
    return input.slice();
  }
  const r = new StreamResampler(from, to);
  const head = r.push(input);
  const tail = r.flush();
  const out = new Int16Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
