import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { encodeFrame, type BinaryVersion } from "../../src/protocol/binary.ts";
import { type Clock, realClock } from "../../src/voice/clock.ts";
import { demuxOggOpus, opusPacketSamples48 } from "../../src/voice/ogg.ts";
import { loadOpus, type OpusLib } from "../../src/voice/opus.ts";
import { concatPcm } from "../../src/voice/pcm.ts";
import { resample } from "../../src/voice/resample.ts";
import { parseWav } from "../../src/voice/wav.ts";

// A device's uplink, for the simulator, the end-to-end tests and the benchmark: a sound file turned
// into the packets the firmware would send (Opus, 16 kHz mono, 60 ms, its encoder settings), framed
// for the socket's binary protocol version and paced in real time on an absolute clock.

export const UPLINK_RATE = 16000;
export const UPLINK_FRAME_MS = 60;
const UPLINK_FRAME = (UPLINK_RATE * UPLINK_FRAME_MS) / 1000;
/** 60 ms in Opus' 48 kHz units: what every packet of a firmware-like Ogg file must hold. */
const FRAME_48 = 48 * UPLINK_FRAME_MS;

/** The firmware's uplink encoder (VOICE.md §2): DTX makes silence 1-byte packets, never empty ones. */
export const FIRMWARE_ENCODER = { application: "audio", complexity: 0, vbr: true, dtx: true, bitrate: "auto" } as const;

let nodeLib: OpusLib | undefined;

/** libopus for Node: the same wasm the Worker imports, compiled from the package's file. */
export function nodeOpus(): OpusLib {
  nodeLib ??= loadOpus(new WebAssembly.Module(readFileSync(fileURLToPath(import.meta.resolve("@evan/opus/wasm/opus.wasm")))));
  return nodeLib;
}

export interface Utterance {
  /** Opus packets of 60 ms at 16 kHz, none empty (an empty frame means "end of speech"). */
  packets: Uint8Array[];
  durationMs: number;
  /** "ogg": the file's packets as they were; "ogg-reencoded" and "wav": decoded and encoded again. */
  source: "ogg" | "ogg-reencoded" | "wav";
}

/** Encodes 16 kHz PCM as the firmware does; the last frame is padded with silence. */
export function encodeUplink(pcm: Int16Array, lib: OpusLib): Uint8Array[] {
  const enc = lib.encoder(UPLINK_RATE, FIRMWARE_ENCODER);
  const packets: Uint8Array[] = [];
  try {
    for (let o = 0; o < pcm.length; o += UPLINK_FRAME) {
      const frame = pcm.length - o >= UPLINK_FRAME ? pcm.subarray(o, o + UPLINK_FRAME) : padded(pcm.subarray(o));
      packets.push(enc.encode(frame));
    }
  } finally {
    enc.free();
  }
  return packets;
}

function padded(tail: Int16Array): Int16Array {
  const f = new Int16Array(UPLINK_FRAME);
  f.set(tail);
  return f;
}

function utterance(packets: Uint8Array[], source: Utterance["source"]): Utterance {
  return { packets, durationMs: packets.length * UPLINK_FRAME_MS, source };
}

/**
 * A WAV (16-bit PCM, any rate and channel count) or Ogg Opus file as uplink packets. Ogg packets
 * already in the firmware's shape (16 kHz input, 60 ms each) go out untouched, so a fixture reaches
 * the server byte for byte; anything else is decoded and encoded again.
 */
export function utteranceFromFile(bytes: Uint8Array, lib: OpusLib): Utterance {
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic === "OggS") {
    const ogg = demuxOggOpus(bytes);
    if (ogg.packets.length === 0) throw new Error("the Ogg file holds no audio packets");
    const asIs = ogg.sampleRate === UPLINK_RATE && ogg.packets.every((p) => opusPacketSamples48(p) === FRAME_48);
    if (asIs) return utterance(ogg.packets, "ogg");
    const dec = lib.decoder(UPLINK_RATE);
    let pcm: Int16Array;
    try {
      pcm = concatPcm(ogg.packets.map((p) => dec.decode(p)));
    } finally {
      dec.free();
    }
    // Pre-skip counts 48 kHz samples of encoder delay at the start of the stream.
    return utterance(encodeUplink(pcm.subarray(Math.round((ogg.preSkip * UPLINK_RATE) / 48000)), lib), "ogg-reencoded");
  }
  if (magic === "RIFF") {
    const wav = parseWav(bytes);
    if (!wav) throw new Error("the WAV file is not 16-bit PCM");
    const pcm = wav.sampleRate === UPLINK_RATE ? wav.pcm : resample(wav.pcm, wav.sampleRate, UPLINK_RATE);
    return utterance(encodeUplink(pcm, lib), "wav");
  }
  throw new Error("not a WAV or Ogg Opus file");
}

/**
 * Digital silence as the firmware's encoder sends it, one packet per call: what a device keeps
 * sending in auto mode until the server's VAD hears the end of speech. Call free() when done.
 */
export function silenceSource(lib: OpusLib): { next(): Uint8Array; free(): void } {
  const enc = lib.encoder(UPLINK_RATE, FIRMWARE_ENCODER);
  const zeros = new Int16Array(UPLINK_FRAME);
  return { next: () => enc.encode(zeros), free: () => enc.free() };
}

/** Packet `index` of a stream, wrapped for the socket's binary version (v2 carries its time in ms). */
export function uplinkFrame(version: BinaryVersion, packet: Uint8Array, index: number): Uint8Array {
  return encodeFrame(version, packet, index * UPLINK_FRAME_MS);
}

export interface PaceOptions {
  clock: Clock;
  frameMs?: number;
  /** Send without waiting (the server's VAD counts audio, not wall time); still yields between packets. */
  fast?: boolean;
  signal?: AbortSignal;
}

/**
 * Sends what `next(i)` gives until it gives null or `signal` aborts, packet i at t0 + i × frameMs.
 * Each deadline comes from t0, not from the previous send: chained sleeps add every timer's lateness
 * and drift behind real time, as a device never does. `next` is asked at the packet's time, so it can
 * stop on what arrived meanwhile. Returns how many packets went out.
 */
export async function pacePackets(next: (i: number) => Uint8Array | null, send: (packet: Uint8Array, i: number) => void, opts: PaceOptions): Promise<number> {
  const frameMs = opts.frameMs ?? UPLINK_FRAME_MS;
  const t0 = opts.clock.now();
  for (let i = 0; ; i++) {
    // Fast mode still sleeps 0 between packets: the socket's replies (the stt that ends auto mode) get a turn.
    const wait = opts.fast ? 0 : t0 + i * frameMs - opts.clock.now();
    if (i > 0 || wait > 0) await opts.clock.sleep(Math.max(0, wait), opts.signal);
    if (opts.signal?.aborted) return i;
    const packet = next(i);
    if (packet === null) return i;
    send(packet, i);
  }
}

/** Node's clock for pacing: sleep(0) waits one turn of the event loop, so incoming frames are read. */
export const nodeClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => (ms <= 0 && !signal?.aborted ? new Promise((resolve) => setImmediate(resolve)) : realClock.sleep(ms, signal)),
};
