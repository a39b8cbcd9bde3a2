import { describe, expect, it } from "vitest";
import { PcmStream } from "../../src/voice/pcm-stream.ts";
import { concatPcm, pcmFromBytes, pcmToBytes, rmsDb, S16leReader } from "../../src/voice/pcm.ts";
import { resample, StreamResampler } from "../../src/voice/resample.ts";
import { tone, toneAmplitude, whiteNoise } from "../../src/voice/signal.ts";
import { encodeWav, parseWav, readWavHeader } from "../../src/voice/wav.ts";

/** Cuts `data` into pieces of 1, 2, 3... elements, cycling: odd sizes land on every boundary. */
function pieces<T extends Uint8Array | Int16Array>(data: T, sizes = [1, 7, 2, 333, 5, 64, 3]): T[] {
  const out: T[] = [];
  for (let o = 0, k = 0; o < data.length; k++) {
    const n = sizes[k % sizes.length] ?? 1;
    out.push(data.subarray(o, o + n) as T);
    o += n;
  }
  return out;
}

function join(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

describe("s16le", () => {
  it("converts both ways and carries odd bytes and stereo frames across chunks", () => {
    const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234, -4321]);
    const bytes = pcmToBytes(pcm);
    expect(Array.from(pcmFromBytes(bytes))).toEqual(Array.from(pcm));
    expect(pcmFromBytes(bytes.subarray(0, 5)).length).toBe(2);
    const r = new S16leReader();
    expect(Array.from(concatPcm(pieces(bytes).map((c) => r.push(c))))).toEqual(Array.from(pcm));
    const stereo = new S16leReader(2);
    const lr = pcmToBytes(Int16Array.from([100, 300, -100, -301, 32767, 32767]));
    expect(Array.from(concatPcm(pieces(lr).map((c) => stereo.push(c))))).toEqual([200, -200, 32767]);
  });

  it("measures dBFS", () => {
    expect(rmsDb(new Int16Array(100))).toBe(-100);
    expect(rmsDb(new Int16Array(100).fill(32767))).toBeCloseTo(0, 1);
    expect(rmsDb(tone(1000, 100, 16000, 32767))).toBeCloseTo(-3.01, 1);
    expect(rmsDb(whiteNoise(1000, 16000, -40))).toBeCloseTo(-40, 0);
  });
});

describe("resampler", () => {
  const pairs: [number, number][] = [
    [24000, 16000],
    [22050, 24000],
    [16000, 24000],
    [48000, 16000],
    [44100, 16000],
  ];
  for (const [from, to] of pairs) {
    it(`keeps a 1 kHz tone at 1 kHz from ${from} to ${to} Hz with the exact length`, () => {
      const input = tone(1000, 1000, from, 10000);
      const out = resample(input, from, to);
      expect(Math.abs(out.length - (input.length * to) / from)).toBeLessThanOrEqual(1);
      const mid = out.subarray(200, out.length - 200);
      expect(toneAmplitude(mid, 1000, to)).toBeGreaterThan(9900);
      expect(toneAmplitude(mid, 1000, to)).toBeLessThan(10100);
      for (const f of [500, 1500, 3000, 6000]) expect(toneAmplitude(mid, f, to)).toBeLessThan(20);
      // The same tone generated at the target rate, sample for sample (zero-phase filter).
      const ref = tone(1000, 1000, to, 10000).subarray(200, out.length - 200);
      let err = 0;
      for (let i = 0; i < mid.length; i++) err = Math.max(err, Math.abs((mid[i] ?? 0) - (ref[i] ?? 0)));
      expect(err).toBeLessThan(20);
    });
  }

  it("removes what the lower rate cannot hold instead of folding it back", () => {
    const high = tone(9000, 500, 24000, 10000);
    const out = resample(high, 24000, 16000);
    expect(rmsDb(out.subarray(100, out.length - 100))).toBeLessThan(-80);
    const passband = resample(tone(6000, 500, 24000, 10000), 24000, 16000);
    expect(toneAmplitude(passband.subarray(100, passband.length - 100), 6000, 16000)).toBeGreaterThan(9800);
  });

  it("streams chunks of any size to exactly the one-shot result", () => {
    const input = concatPcm([tone(440, 300, 22050, 9000), whiteNoise(300, 22050, -20)]);
    for (const [from, to] of [
      [22050, 24000],
      [24000, 16000],
      [16000, 24000],
    ] as const) {
      const src = from === 22050 ? input : resample(input, 22050, from);
      const once = resample(src, from, to);
      const s = new StreamResampler(from, to);
      const streamed = concatPcm([...pieces(src).map((c) => s.push(c)), s.flush()]);
      expect(streamed.length).toBe(once.length);
      expect(Array.from(streamed)).toEqual(Array.from(once));
      // And again after flush: the stream starts over.
      const again = concatPcm([...pieces(src, [960]).map((c) => s.push(c)), s.flush()]);
      expect(Array.from(again)).toEqual(Array.from(once));
    }
  });

  it("passes equal rates through and rejects nonsense rates", () => {
    const x = tone(440, 20, 16000);
    expect(Array.from(resample(x, 16000, 16000))).toEqual(Array.from(x));
    expect(new StreamResampler(24000, 24000).push(x)).toBe(x);
    expect(() => new StreamResampler(0, 16000)).toThrow(RangeError);
  });
});

describe("WAV", () => {
  it("writes and reads back a mono file", () => {
    const pcm = tone(440, 100, 16000);
    const wav = encodeWav(pcm, 16000);
    expect(wav.byteLength).toBe(44 + pcm.length * 2);
    expect(parseWav(wav)).toEqual({ sampleRate: 16000, channels: 1, pcm });
  });

  /** A 22,050 Hz stereo WAV with a LIST chunk (odd-sized, padded) before fmt and data, as TTS servers write. */
  function stereoWithList(left: Int16Array, right: Int16Array, dataSize?: number): Uint8Array {
    const frames = new Int16Array(left.length * 2);
    for (let i = 0; i < left.length; i++) {
      frames[2 * i] = left[i] ?? 0;
      frames[2 * i + 1] = right[i] ?? 0;
    }
    const data = pcmToBytes(frames);
    const list = new TextEncoder().encode("INFOISFT\u0005\u0000\u0000\u0000Lavf\u0000");
    const head = new Uint8Array(12 + 8 + list.byteLength + 1 + 8 + 16 + 8);
    const v = new DataView(head.buffer);
    const ascii = (at: number, s: string) => head.set(new TextEncoder().encode(s), at);
    ascii(0, "RIFF");
    v.setUint32(4, head.byteLength - 8 + data.byteLength, true);
    ascii(8, "WAVE");
    ascii(12, "LIST");
    v.setUint32(16, list.byteLength, true);
    head.set(list, 20);
    let o = 20 + list.byteLength + 1;
    ascii(o, "fmt ");
    v.setUint32(o + 4, 16, true);
    v.setUint16(o + 8, 1, true);
    v.setUint16(o + 10, 2, true);
    v.setUint32(o + 12, 22050, true);
    v.setUint32(o + 16, 22050 * 4, true);
    v.setUint16(o + 20, 4, true);
    v.setUint16(o + 22, 16, true);
    o += 24;
    ascii(o, "data");
    v.setUint32(o + 4, dataSize ?? data.byteLength, true);
    return join([head, data]);
  }

  it("skips extra chunks and mixes stereo down to mono at 22,050 Hz", () => {
    expect(new TextEncoder().encode("INFOISFT\u0005\u0000\u0000\u0000Lavf\u0000").byteLength % 2).toBe(1);
    const left = tone(440, 50, 22050, 8000);
    const wav = stereoWithList(left, left);
    const parsed = parseWav(wav);
    expect(parsed?.sampleRate).toBe(22050);
    expect(parsed?.channels).toBe(2);
    expect(Array.from(parsed?.pcm ?? [])).toEqual(Array.from(left));
    expect(parseWav(join([wav, new TextEncoder().encode("LIST\u0004\u0000\u0000\u0000abcd")]))?.pcm.length).toBe(left.length);
  });

  it("refuses what is not 16-bit PCM WAV", () => {
    expect(parseWav(new TextEncoder().encode("hello world, not a wav"))).toBeNull();
    const float = encodeWav(new Int16Array(4), 16000);
    new DataView(float.buffer).setUint16(20, 3, true);
    expect(parseWav(float)).toBeNull();
    expect(readWavHeader(float)).toMatchObject({ status: "invalid", reason: expect.stringMatching(/16-bit PCM/) });
    expect(readWavHeader(encodeWav(new Int16Array(4), 16000).subarray(0, 30))).toEqual({ status: "more" });
  });
});

describe("PcmStream (a TTS body: WAV or raw)", () => {
  it("reads a streamed WAV split at every odd boundary, with its own rate and channels", () => {
    const left = tone(300, 200, 22050, 8000);
    const right = tone(300, 200, 22050, 4000);
    const wav = stereoWithListForStream(left, right);
    const s = new PcmStream(24000);
    const got = concatPcm([...pieces(wav).map((c) => s.push(c)), s.flush()]);
    expect(s.isWav).toBe(true);
    expect(s.sampleRate).toBe(22050);
    expect(got.length).toBe(left.length);
    expect(toneAmplitude(got, 300, 22050)).toBeCloseTo(6000, -1);
  });

  it("treats anything else as raw s16le at the default rate", () => {
    const pcm = tone(500, 100, 24000);
    const bytes = pcmToBytes(pcm);
    const s = new PcmStream(24000);
    const got = concatPcm([...pieces(bytes).map((c) => s.push(c)), s.flush()]);
    expect(s.isWav).toBe(false);
    expect(s.sampleRate).toBe(24000);
    expect(Array.from(got)).toEqual(Array.from(pcm));
    // Two bytes that happen to start like "RIFF" are still one sample.
    const tiny = new PcmStream(24000);
    expect(tiny.push(Uint8Array.of(0x52)).length).toBe(0);
    expect(Array.from(concatPcm([tiny.push(Uint8Array.of(0x49)), tiny.flush()]))).toEqual([0x4952]);
  });

  it("throws on a WAV it cannot play", () => {
    const bad = encodeWav(new Int16Array(4), 16000);
    new DataView(bad.buffer).setUint16(34, 8, true);
    expect(() => new PcmStream(24000).push(bad)).toThrow(/16-bit PCM/);
  });

  function stereoWithListForStream(left: Int16Array, right: Int16Array): Uint8Array {
    // Streaming servers do not know the length: data size 0xFFFFFFFF.
    const frames = new Int16Array(left.length * 2);
    for (let i = 0; i < left.length; i++) {
      frames[2 * i] = left[i] ?? 0;
      frames[2 * i + 1] = right[i] ?? 0;
    }
    const wav = encodeWav(frames, 22050);
    const v = new DataView(wav.buffer);
    v.setUint16(22, 2, true);
    v.setUint32(40, 0xffffffff, true);
    const list = Uint8Array.from([..."LIST"].map((c) => c.charCodeAt(0)).concat([3, 0, 0, 0, 1, 2, 3, 0]));
    return join([wav.subarray(0, 36), list, wav.subarray(36)]);
  }
});
