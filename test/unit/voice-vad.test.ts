import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { demuxOggOpus } from "../../src/voice/ogg.ts";
import { loadOpus } from "../../src/voice/opus.ts";
import { concatPcm, rmsDb } from "../../src/voice/pcm.ts";
import { tone, whiteNoise } from "../../src/voice/signal.ts";
import { ENERGY_VAD_DEFAULTS, EnergyVad, type VadEvent } from "../../src/voice/vad.ts";

const RATE = 16000;
const FRAME = 960;
const ms = (samples: number) => (samples * 1000) / RATE;
const silence = (duration: number) => new Int16Array((duration * RATE) / 1000);

const wasm = new WebAssembly.Module(readFileSync(new URL("../../node_modules/@evan/opus/wasm/opus.wasm", import.meta.url)));

interface Fixture {
  pcm: Int16Array;
  speechStartMs: number;
  speechEndMs: number;
}

/** The fixture as the server hears it: decoded at 16 kHz, the encoder's delay dropped. */
function fixture(name: string): Fixture {
  const ogg = demuxOggOpus(readFileSync(new URL(`../fixtures/${name}.ogg`, import.meta.url)));
  const meta = JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), "utf8")) as Fixture;
  const dec = loadOpus(wasm).decoder(RATE);
  const pcm = concatPcm(ogg.packets.map((p) => dec.decode(p)));
  dec.free();
  return { pcm: pcm.subarray((ogg.preSkip * RATE) / 48000), speechStartMs: meta.speechStartMs, speechEndMs: meta.speechEndMs };
}

interface Timed {
  event: VadEvent;
  /** Samples pushed when the event came out. */
  at: number;
}

function run(vad: EnergyVad, pcm: Int16Array, chunk = FRAME): Timed[] {
  const out: Timed[] = [];
  for (let o = 0; o < pcm.length; o += chunk) {
    const piece = pcm.subarray(o, o + chunk);
    for (const event of vad.push(piece)) out.push({ event, at: o + piece.length });
  }
  return out;
}

function energy(pcm: Int16Array): number {
  let e = 0;
  for (const s of pcm) e += s * s;
  return e;
}

describe("energy VAD", () => {
  for (const name of ["speech-zh", "speech-en"]) {
    it(`finds exactly one utterance in ${name}, ending within silenceMs + one frame of the speech`, () => {
      const f = fixture(name);
      const vad = new EnergyVad();
      const all = run(vad, f.pcm);
      // Pauses inside the speech may start recognition early and be resumed; the last one is final.
      const events = all.filter((e) => e.event.type === "speech_start" || e.event.type === "speech_end");
      expect(events.map((e) => e.event.type)).toEqual(["speech_start", "speech_end"]);
      const types = all.map((e) => e.event.type);
      expect(types.at(-2)).toBe("speech_pause");
      expect(types.filter((t) => t === "speech_pause").length).toBe(types.filter((t) => t === "speech_resume").length + 1);
      const lastPause = all.at(-2)?.event;
      const [start, end] = events;
      expect(ms(start?.at ?? 0)).toBeGreaterThan(f.speechStartMs);
      expect(ms(start?.at ?? 0)).toBeLessThan(f.speechStartMs + ENERGY_VAD_DEFAULTS.minSpeechMs + 300);
      expect(ms(end?.at ?? 0)).toBeGreaterThanOrEqual(f.speechEndMs);
      expect(ms(end?.at ?? 0)).toBeLessThanOrEqual(f.speechEndMs + ENERGY_VAD_DEFAULTS.silenceMs + 60);
      const e = end?.event;
      if (e?.type !== "speech_end") throw new Error("no speech_end");
      expect(e.reason).toBe("silence");
      expect(lastPause?.type === "speech_pause" && lastPause.audio).toEqual(e.audio);
      expect(e.speechMs).toBeGreaterThan(0.5 * (f.speechEndMs - f.speechStartMs));
      expect(e.speechMs).toBeLessThanOrEqual(f.speechEndMs - f.speechStartMs + 100);
      // The whole utterance, led by silence from the pre-roll: nearly all the fixture's energy.
      expect(ms(e.audio.length)).toBeGreaterThanOrEqual(f.speechEndMs - f.speechStartMs);
      expect(energy(e.audio)).toBeGreaterThan(0.99 * energy(f.pcm));
      expect(rmsDb(e.audio.subarray(0, RATE / 10))).toBeLessThan(-50);
      expect(vad.speaking).toBe(false);
    });
  }

  it("gives the same events whatever the input chunk size", () => {
    const f = fixture("speech-zh");
    const reference = run(new EnergyVad(), f.pcm, 320);
    for (const chunk of [37, 333, 960, 1024, 4096]) {
      const got = run(new EnergyVad(), f.pcm, chunk);
      expect(got.map((e) => e.event)).toEqual(reference.map((e) => e.event));
    }
  });

  it("stays idle in digital silence", () => {
    const vad = new EnergyVad();
    expect(run(vad, silence(5000))).toEqual([]);
    expect(vad.finish()).toBeNull();
  });

  it("ignores steady white noise, also after its level creeps up by less than the start margin", () => {
    const vad = new EnergyVad();
    expect(run(vad, whiteNoise(3000, RATE, -45, 1))).toEqual([]);
    expect(run(vad, whiteNoise(10_000, RATE, -39, 2))).toEqual([]);
    expect(vad.noiseFloorDb).toBeGreaterThan(-42);
    expect(vad.speaking).toBe(false);
  });

  it("still hears speech over that noise", () => {
    const f = fixture("speech-zh");
    const noise = whiteNoise(ms(f.pcm.length), RATE, -45, 3);
    const mixed = f.pcm.map((s, i) => Math.max(-32768, Math.min(32767, s + (noise[i] ?? 0))));
    const vad = new EnergyVad();
    run(vad, whiteNoise(1000, RATE, -45, 4));
    const boundaries = run(vad, mixed).filter((e) => e.event.type === "speech_start" || e.event.type === "speech_end");
    expect(boundaries.map((e) => e.event.type)).toEqual(["speech_start", "speech_end"]);
  });

  it("drops a 200 ms click without any event", () => {
    const vad = new EnergyVad();
    const pcm = concatPcm([silence(1000), tone(1000, 200, RATE, 20000), silence(2000)]);
    expect(run(vad, pcm)).toEqual([]);
    expect(vad.speaking).toBe(false);
  });

  it("cuts a sound longer than the cap with max_length, then treats it as the room", () => {
    const vad = new EnergyVad();
    const events = run(vad, concatPcm([silence(1000), tone(300, 33_000, RATE, 3000)]));
    expect(events.map((e) => e.event.type)).toEqual(["speech_start", "speech_end"]);
    const end = events[1]?.event;
    if (end?.type !== "speech_end") throw new Error("no speech_end");
    expect(end.reason).toBe("max_length");
    expect(ms(end.audio.length)).toBeGreaterThanOrEqual(ENERGY_VAD_DEFAULTS.maxUtteranceMs);
    expect(ms(end.audio.length)).toBeLessThanOrEqual(ENERGY_VAD_DEFAULTS.maxUtteranceMs + ENERGY_VAD_DEFAULTS.preRollMs + 20);
    expect(vad.speaking).toBe(false);
    // The same sound going on is not a new utterance every 30 s.
    expect(run(vad, tone(300, 5000, RATE, 3000, 33 * RATE))).toEqual([]);
  });

  it("ends on silence sooner with a shorter silenceMs", () => {
    const f = fixture("speech-zh");
    const end = (silenceMs: number) => run(new EnergyVad({ silenceMs }), f.pcm).find((e) => e.event.type === "speech_end")?.at ?? 0;
    expect(ms(end(300))).toBeLessThanOrEqual(f.speechEndMs + 300 + 60);
    expect(end(300)).toBeLessThan(end(700));
  });

  it("hands over what it has on finish() (listen stop), and nothing when nobody spoke", () => {
    const f = fixture("speech-zh");
    const vad = new EnergyVad();
    const upTo = (f.speechEndMs * RATE) / 1000;
    expect(run(vad, f.pcm.subarray(0, upTo)).map((e) => e.event.type)).toEqual(["speech_start"]);
    expect(vad.speaking).toBe(true);
    const got = vad.finish();
    expect(got?.speechMs).toBeGreaterThan(1000);
    expect(energy(got?.audio ?? new Int16Array(0))).toBeGreaterThan(0.99 * energy(f.pcm.subarray(0, upTo)));
    expect(vad.speaking).toBe(false);
    expect(vad.finish()).toBeNull();
    // A short sound is still captured for an explicit stop: the caller decides what to do with it.
    run(vad, concatPcm([silence(500), tone(500, 160, RATE, 20000)]));
    expect(vad.speaking).toBe(false);
    expect(vad.finish()?.speechMs).toBeLessThan(ENERGY_VAD_DEFAULTS.minSpeechMs);
  });

  it("waits for finish() with silenceMs = Infinity (manual mode) and hands over on a later setSilenceMs", () => {
    const f = fixture("speech-zh");
    const vad = new EnergyVad({ silenceMs: Number.POSITIVE_INFINITY });
    const twice = concatPcm([f.pcm, f.pcm]);
    expect(run(vad, twice).map((e) => e.event.type)).toEqual(["speech_start"]);
    vad.setSilenceMs(700);
    expect(run(vad, silence(800)).map((e) => e.event.type)).toEqual(["speech_end"]);
  });

  it("forgets an utterance on reset()", () => {
    const f = fixture("speech-zh");
    const vad = new EnergyVad();
    run(vad, f.pcm.subarray(0, (2000 * RATE) / 1000));
    expect(vad.speaking).toBe(true);
    vad.reset();
    expect(vad.speaking).toBe(false);
    expect(vad.finish()).toBeNull();
    expect(run(vad, silence(1500))).toEqual([]);
  });
});
