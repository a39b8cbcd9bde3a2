import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { demuxOggOpus } from "../../src/voice/ogg.ts";
import { loadOpus, type OpusLib } from "../../src/voice/opus.ts";
import { concatPcm, rmsDb } from "../../src/voice/pcm.ts";
import { resample } from "../../src/voice/resample.ts";
import { bestLag, snrDb, tone, toneAmplitude } from "../../src/voice/signal.ts";

// libopus through the portable loader, in Node with a module built from bytes (workerd imports the
// same file as a module: test/worker/voice-wasm.test.ts).

const wasm = new WebAssembly.Module(readFileSync(new URL("../../node_modules/@evan/opus/wasm/opus.wasm", import.meta.url)));
const lib: OpusLib = loadOpus(wasm);

function roundTrip(pcm: Int16Array, rate: number, frameMs = 60): { out: Int16Array; packets: Uint8Array[] } {
  const enc = lib.encoder(rate);
  const dec = lib.decoder(rate);
  const frame = (rate * frameMs) / 1000;
  const packets: Uint8Array[] = [];
  const out: Int16Array[] = [];
  for (let o = 0; o + frame <= pcm.length; o += frame) {
    const p = enc.encode(pcm.subarray(o, o + frame));
    packets.push(p);
    out.push(dec.decode(p));
  }
  enc.free();
  dec.free();
  return { out: concatPcm(out), packets };
}

function decodeFixture(name: string, rate: number): Int16Array {
  const ogg = demuxOggOpus(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
  const dec = lib.decoder(rate);
  const pcm = concatPcm(ogg.packets.map((p) => dec.decode(p)));
  dec.free();
  return pcm;
}

describe("opus wasm loader", () => {
  it("keeps one instance per module", () => {
    expect(loadOpus(wasm)).toBe(lib);
  });

  it("rejects rates libopus does not run at", () => {
    expect(() => lib.decoder(44100)).toThrow(/44100/);
    expect(() => lib.encoder(22050)).toThrow(/22050/);
  });

  for (const rate of [16000, 24000]) {
    it(`round-trips a 440 Hz tone at ${rate} Hz with its level, pitch and waveform`, () => {
      const input = tone(440, 1200, rate, 8000);
      const { out, packets } = roundTrip(input, rate);
      expect(out.length).toBe(input.length);
      // 24 kbps CBR-ish VBR: ~180 bytes per 60 ms packet.
      for (const p of packets) expect(p.byteLength).toBeGreaterThan(50);
      // The encoder's delay is its lookahead: 104 samples at 16 kHz, 156 at 24 kHz (6.5 ms).
      expect(bestLag(input, out, 960)).toBe((rate * 6.5) / 1000);
      expect(snrDb(input, out)).toBeGreaterThan(25);
      const steady = out.subarray(rate / 2);
      expect(Math.abs(rmsDb(steady) - rmsDb(input))).toBeLessThan(1);
      expect(toneAmplitude(steady, 440, rate)).toBeGreaterThan(8000 * 0.9);
      expect(toneAmplitude(steady, 1000, rate)).toBeLessThan(100);
    });

    it(`re-encodes the speech fixture at ${rate} Hz with its energy and a waveform SNR above 10 dB`, () => {
      const speech = decodeFixture("speech-zh.ogg", 16000);
      const input = rate === 16000 ? speech : resample(speech, 16000, rate);
      const { out } = roundTrip(input, rate);
      expect(out.length).toBe(input.length);
      expect(rmsDb(input)).toBeGreaterThan(-30);
      expect(Math.abs(rmsDb(out) - rmsDb(input))).toBeLessThan(1.5);
      expect(snrDb(input, out)).toBeGreaterThan(10);
    });
  }

  it("encodes every Opus frame size and decodes each to its length", () => {
    const enc = lib.encoder(16000);
    const dec = lib.decoder(16000);
    for (const ms of [2.5, 5, 10, 20, 40, 60, 80, 100, 120]) {
      const n = (16000 * ms) / 1000;
      expect(dec.decode(enc.encode(tone(300, ms, 16000))).length).toBe(n);
    }
    expect(() => enc.encode(new Int16Array(1000))).toThrow(/not a frame/);
    enc.free();
    dec.free();
  });

  it("decodes packets from a 16 kHz encoder at the downlink's 24 kHz (the rate is the decoder's)", () => {
    const enc = lib.encoder(16000);
    const dec = lib.decoder(24000);
    expect(dec.decode(enc.encode(tone(300, 60, 16000))).length).toBe(1440);
    enc.free();
    dec.free();
  });

  it("answers a corrupt or empty packet with no samples and keeps decoding", () => {
    const enc = lib.encoder(16000);
    const dec = lib.decoder(16000);
    expect(dec.decode(Uint8Array.of(0xff, 0xff, 0xff, 0x01, 0x02)).length).toBe(0);
    expect(dec.decode(new Uint8Array(0)).length).toBe(0);
    expect(dec.decode(Uint8Array.of(0x0b, 0xff, 0xff)).length).toBe(0);
    expect(dec.decode(enc.encode(tone(300, 60, 16000))).length).toBe(960);
    // Larger than the shared 16 KiB scratch: grown, not overflowed.
    expect(dec.decode(new Uint8Array(20000).fill(0xff)).length).toBe(0);
    expect(dec.decode(enc.encode(tone(300, 60, 16000))).length).toBe(960);
    enc.free();
    dec.free();
  });

  it("frees codecs idempotently and refuses use after free", () => {
    const enc = lib.encoder(24000, { bitrate: 16000, complexity: 0, application: "voip", vbr: false, dtx: true });
    const dec = lib.decoder(24000);
    enc.free();
    enc.free();
    dec.free();
    dec.free();
    expect(() => enc.encode(new Int16Array(1440))).toThrow(/after free/);
    expect(() => dec.decode(Uint8Array.of(0xf8))).toThrow(/after free/);
  });

  it("does not leak wasm heap across many codecs", () => {
    const memory = () => (lib as unknown as { wasm: { memory: WebAssembly.Memory } }).wasm.memory.buffer.byteLength;
    const warm = () => {
      for (let i = 0; i < 200; i++) {
        const e = lib.encoder(24000);
        const d = lib.decoder(16000);
        d.decode(e.encode(new Int16Array(1440)));
        e.free();
        d.free();
      }
    };
    warm();
    const before = memory();
    warm();
    expect(memory()).toBe(before);
  });
});
