import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { muxOggOpus } from "../../src/voice/ogg.ts";
import { loadOpus } from "../../src/voice/opus.ts";
import { parseWav } from "../../src/voice/wav.ts";

// Called by scripts/make-speech-fixture.sh with a trimmed 16 kHz mono WAV of speech: pads it with
// silence, encodes it as the firmware's uplink does and writes <out>.ogg plus <out>.json (where the
// speech is, for the VAD tests).
//   node scripts/lib/make-speech-fixture.ts speech.wav test/fixtures/speech-zh cmn "今天天气怎么样"

const RATE = 16000;
const FRAME_MS = 60;
const LEAD_MS = 500;
const TAIL_MS = 1000;

const [wavPath, out, voice, text] = process.argv.slice(2);
if (!wavPath || !out || !voice || !text) {
  console.error("usage: node scripts/lib/make-speech-fixture.ts <speech.wav> <out-prefix> <voice> <text>");
  process.exit(2);
}

const wav = parseWav(readFileSync(wavPath));
if (!wav || wav.sampleRate !== RATE) {
  console.error(`${wavPath}: expected a 16-bit PCM WAV at ${RATE} Hz`);
  process.exit(1);
}

const frame = (RATE * FRAME_MS) / 1000;
const lead = (RATE * LEAD_MS) / 1000;
const speech = wav.pcm.length;
const padded = Math.ceil((lead + speech + (RATE * TAIL_MS) / 1000) / frame) * frame;
const pcm = new Int16Array(padded);
pcm.set(wav.pcm, lead);

const wasm = new WebAssembly.Module(readFileSync(fileURLToPath(import.meta.resolve("@evan/opus/wasm/opus.wasm"))));
const encoderSettings = { application: "audio", complexity: 0, vbr: true, dtx: true, bitrate: "auto" } as const;
const encoder = loadOpus(wasm).encoder(RATE, encoderSettings);
const packets: Uint8Array[] = [];
for (let o = 0; o < padded; o += frame) packets.push(encoder.encode(pcm.subarray(o, o + frame)));
const preSkip = (encoder.lookahead * 48000) / RATE;
encoder.free();

const ogg = muxOggOpus(packets, { inputSampleRate: RATE, frameMs: FRAME_MS, preSkip });
writeFileSync(`${out}.ogg`, ogg);
const meta = {
  text,
  voice: `espeak-ng ${voice}`,
  sampleRate: RATE,
  frameMs: FRAME_MS,
  encoder: encoderSettings,
  speechStartMs: LEAD_MS,
  speechEndMs: LEAD_MS + Math.round((speech * 1000) / RATE),
  durationMs: (padded * 1000) / RATE,
  packets: packets.length,
  bytes: ogg.byteLength,
};
writeFileSync(`${out}.json`, `${JSON.stringify(meta, null, 2)}\n`);
console.log(`${out}.ogg: ${ogg.byteLength} bytes, ${packets.length} packets, speech ${meta.speechStartMs}–${meta.speechEndMs} ms of ${meta.durationMs} ms`);
