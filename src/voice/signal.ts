// Synthetic signals and measurements for tests, the device simulator and benchmarks: tones, seeded
// noise, the level of one frequency, and waveform SNR after a codec's delay.

/** A sine at `freq` Hz, `ms` long, peak `amplitude` (0–32767), starting at sample `offset`. */
export function tone(freq: number, ms: number, sampleRate: number, amplitude = 8000, offset = 0): Int16Array {
  const n = Math.round((ms * sampleRate) / 1000);
  const out = new Int16Array(n);
  const w = (2 * Math.PI * freq) / sampleRate;
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin(w * (i + offset)));
  return out;
}

/** Deterministic white noise (uniform) at an RMS level of `dbfs`. */
export function whiteNoise(ms: number, sampleRate: number, dbfs: number, seed = 1): Int16Array {
  const n = Math.round((ms * sampleRate) / 1000);
  const out = new Int16Array(n);
  // Uniform on [−a, a] has RMS a/√3.
  const a = Math.min(32767, 32768 * 10 ** (dbfs / 20) * Math.sqrt(3));
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = Math.round((u * 2 - 1) * a);
  }
  return out;
}

/** Amplitude of the component at `freq` (Goertzel): ≈ the peak of a sine at that frequency. */
export function toneAmplitude(pcm: Int16Array, freq: number, sampleRate: number): number {
  const n = pcm.length;
  if (n === 0) return 0;
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = (pcm[i] ?? 0) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / n;
}

/** The lag (test sample i ↔ reference sample i − lag) in ±maxLag with the highest correlation. */
export function bestLag(reference: Int16Array, test: Int16Array, maxLag: number): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let score = 0;
    const start = Math.max(0, lag);
    const end = Math.min(test.length, reference.length + lag);
    for (let i = start; i < end; i++) score += (test[i] ?? 0) * (reference[i - lag] ?? 0);
    if (score > bestScore) {
      bestScore = score;
      best = lag;
    }
  }
  return best;
}

/**
 * Waveform SNR in dB of `test` against `reference` after aligning them at the best lag (codecs and
 * filters delay the signal), over the overlap. Perceptual codecs score lower than they sound.
 */
export function snrDb(reference: Int16Array, test: Int16Array, maxLag = 960): number {
  const lag = bestLag(reference, test, maxLag);
  let signal = 0;
  let noise = 0;
  const start = Math.max(0, lag);
  const end = Math.min(test.length, reference.length + lag);
  for (let i = start; i < end; i++) {
    const r = reference[i - lag] ?? 0;
    const d = r - (test[i] ?? 0);
    signal += r * r;
    noise += d * d;
  }
  if (noise === 0) return Number.POSITIVE_INFINITY;
  return 10 * Math.log10(signal / noise);
}
