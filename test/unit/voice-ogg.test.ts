import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { demuxOggOpus, muxOggOpus, opusPacketSamples48 } from "../../src/voice/ogg.ts";
import { loadOpus } from "../../src/voice/opus.ts";
import { concatPcm, rmsDb } from "../../src/voice/pcm.ts";
import { tone } from "../../src/voice/signal.ts";

const wasm = new WebAssembly.Module(readFileSync(new URL("../../node_modules/@evan/opus/wasm/opus.wasm", import.meta.url)));
const lib = loadOpus(wasm);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));

/** Granule positions of each page, read straight from the bytes. */
function pages(bytes: Uint8Array): { granule: bigint; flags: number; segments: number }[] {
  const out = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = 0; o < bytes.byteLength; ) {
    const n = bytes[o + 26] ?? 0;
    let body = 0;
    for (let i = 0; i < n; i++) body += bytes[o + 27 + i] ?? 0;
    out.push({ granule: v.getBigInt64(o + 6, true), flags: bytes[o + 5] ?? 0, segments: n });
    o += 27 + n + body;
  }
  return out;
}

describe("Ogg Opus", () => {
  it("round-trips packets of every size, including ones that need lacing across 255 bytes", () => {
    const sizes = [0, 1, 2, 254, 255, 256, 510, 511, 1275, 3000];
    const packets = sizes.map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + k) & 0xff));
    const ogg = muxOggOpus(packets, { inputSampleRate: 16000, frameMs: 60, preSkip: 312 });
    const back = demuxOggOpus(ogg);
    expect(back).toMatchObject({ sampleRate: 16000, channels: 1, preSkip: 312 });
    expect(back.packets.map((p) => p.byteLength)).toEqual(sizes);
    expect(back.packets).toEqual(packets);
  });

  it("spreads many packets over pages with 48 kHz granule positions and BOS/EOS flags", () => {
    const enc = lib.encoder(16000);
    const input = tone(440, 6000, 16000);
    const packets: Uint8Array[] = [];
    for (let o = 0; o < input.length; o += 960) packets.push(enc.encode(input.subarray(o, o + 960)));
    enc.free();
    expect(opusPacketSamples48(packets[0] ?? new Uint8Array(0))).toBe(2880);
    const ogg = muxOggOpus(packets, { inputSampleRate: 16000, frameMs: 60 });
    const p = pages(ogg);
    expect(p[0]?.flags).toBe(0x02);
    expect(p.at(-1)?.flags).toBe(0x04);
    expect(p.at(-1)?.granule).toBe(BigInt(packets.length * 2880));
    expect(p.length).toBeGreaterThan(4);
    for (const page of p) expect(page.segments).toBeLessThanOrEqual(255);
    expect(demuxOggOpus(ogg).packets).toEqual(packets);
  });

  it("reads the fixture into packets that decode to speech", () => {
    const meta = JSON.parse(readFileSync(new URL("../fixtures/speech-zh.json", import.meta.url), "utf8")) as { packets: number; durationMs: number };
    const ogg = demuxOggOpus(fixture("speech-zh.ogg"));
    expect(ogg).toMatchObject({ sampleRate: 16000, channels: 1, preSkip: 312 });
    expect(ogg.packets).toHaveLength(meta.packets);
    const dec = lib.decoder(16000);
    const pcm = concatPcm(ogg.packets.map((p) => dec.decode(p)));
    dec.free();
    expect(pcm.length).toBe((meta.durationMs * 16000) / 1000);
    expect(rmsDb(pcm)).toBeGreaterThan(-30);
  });

  it("says what is wrong with garbage", () => {
    const good = fixture("speech-en.ogg");
    expect(() => demuxOggOpus(new TextEncoder().encode("definitely not ogg data at all"))).toThrow(/OggS/);
    const flipped = good.slice();
    flipped[100] = (flipped[100] ?? 0) ^ 0x40;
    expect(() => demuxOggOpus(flipped)).toThrow(/CRC/);
    expect(() => demuxOggOpus(good.subarray(0, good.byteLength - 10))).toThrow(/past the end|truncated/);
    expect(() => demuxOggOpus(new Uint8Array(0))).toThrow(/OpusHead/);
  });
});
