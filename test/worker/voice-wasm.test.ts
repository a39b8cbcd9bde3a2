import opusModule from "@evan/opus/wasm/opus.wasm";
import { describe, expect, it } from "vitest";
import { loadOpus } from "../../src/voice/opus.ts";
import { rmsDb } from "../../src/voice/pcm.ts";
import { tone, toneAmplitude } from "../../src/voice/signal.ts";

// workerd refuses to compile wasm from bytes: the Worker imports opus.wasm as a module (wrangler's
// default CompiledWasm rule) and hands it to the portable loader. This proves both work in workerd.

describe("opus.wasm in workerd", () => {
  it("is imported as a WebAssembly.Module and round-trips a tone at 24 kHz", () => {
    expect(opusModule).toBeInstanceOf(WebAssembly.Module);
    const lib = loadOpus(opusModule);
    expect(loadOpus(opusModule)).toBe(lib);
    const enc = lib.encoder(24000);
    const dec = lib.decoder(24000);
    const frame = 1440;
    const input = tone(440, 600, 24000, 8000);
    const out: Int16Array[] = [];
    for (let o = 0; o < input.length; o += frame) {
      const packet = enc.encode(input.subarray(o, o + frame));
      expect(packet.byteLength).toBeGreaterThan(10);
      const pcm = dec.decode(packet);
      expect(pcm.length).toBe(frame);
      out.push(pcm);
    }
    enc.free();
    dec.free();
    const last = out.at(-1) ?? new Int16Array(0);
    expect(rmsDb(last)).toBeGreaterThan(rmsDb(input) - 2);
    expect(toneAmplitude(last, 440, 24000)).toBeGreaterThan(8000 * 0.8);
  });
});
