import type { AudioInfo, TtsOptions } from "./types.ts";

// Audio for the fake ASR and TTS endpoints: WAV and Ogg Opus in, WAV and raw PCM out, and a
// deterministic speech-like signal. Pure functions (the Opus decoder is loaded only when an Ogg
// file arrives), so the device simulator and tests can reuse them.

export interface Pcm {
  sampleRate: number;
  /** Channels of the source; `samples` is always mono (averaged). */
  channels: number;
  samples: Int16Array;
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

/** Parses a 16-bit PCM WAV (any rate; several channels are averaged to mono). Throws on anything else. */
export function parseWav(bytes: Uint8Array): Pcm {
  if (bytes.length < 12 || ascii(bytes, 0, 4) !== "RIFF" || ascii(bytes, 8, 4) !== "WAVE") throw new Error("not a RIFF/WAVE file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | null = null;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = ascii(bytes, at, 4);
    const declared = view.getUint32(at + 4, true);
    const start = at + 8;
    if (id === "fmt ") {
      if (declared < 16 || start + 16 > bytes.length) throw new Error("short fmt chunk");
      fmt = {
        format: view.getUint16(start, true),
        channels: view.getUint16(start + 2, true),
        sampleRate: view.getUint32(start + 4, true),
        bits: view.getUint16(start + 14, true),
      };
      // WAVE_FORMAT_EXTENSIBLE carries the real format in the first two bytes of its GUID.
      if (fmt.format === 0xfffe && declared >= 26 && start + 26 <= bytes.length) fmt.format = view.getUint16(start + 24, true);
    } else if (id === "data") {
      if (!fmt) throw new Error("data chunk before fmt chunk");
      if (fmt.format !== 1 || fmt.bits !== 16) throw new Error(`unsupported WAV encoding (format ${fmt.format}, ${fmt.bits} bits); 16-bit PCM only`);
      if (fmt.channels < 1 || fmt.sampleRate < 1) throw new Error("bad channel count or sample rate");
      // Streamed WAVs leave the size at 0 or 0xFFFFFFFF: take the rest of the file then.
      const size = declared === 0 || declared === 0xffffffff || start + declared > bytes.length ? bytes.length - start : declared;
      const frames = Math.floor(size / (2 * fmt.channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < fmt.channels; c++) sum += view.getInt16(start + (i * fmt.channels + c) * 2, true);
        samples[i] = Math.round(sum / fmt.channels);
      }
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, samples };
    }
    at = start + declared + (declared % 2); // chunks are padded to an even size
  }
  throw new Error("no data chunk");
}

/** A canonical 44-byte-header mono 16-bit WAV. */
export function encodeWav(samples: Int16Array, sampleRate: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(out.buffer);
  const text = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  out.set(pcmBytes(samples), 44);
  return out;
}

/** Little-endian s16 bytes (the host is little-endian everywhere this runs, but say so explicitly). */
export function pcmBytes(samples: Int16Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i] ?? 0, true);
  return out;
}

export function pcmFromBytes(bytes: Uint8Array): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int16Array(Math.floor(bytes.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

export const SILENCE_FLOOR_DBFS = -120;

/** RMS level in dBFS, floored so digital silence is a finite number (JSON has no -Infinity). */
export function rmsDbfs(samples: Int16Array): number {
  if (samples.length === 0) return SILENCE_FLOOR_DBFS;
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  if (rms === 0) return SILENCE_FLOOR_DBFS;
  return Math.max(SILENCE_FLOOR_DBFS, Math.round(2000 * Math.log10(rms / 32768)) / 100);
}

// ---------------------------------------------------------------------------------------------
// Speech-like synthesis.

export type SpeechTiming = Pick<TtsOptions, "msPerCjk" | "msPerLatin" | "minMs">;

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const VOICED = /[\p{L}\p{N}]/u;

interface Unit {
  ms: number;
  voiced: boolean;
}

function units(text: string, timing: SpeechTiming): Unit[] {
  return Array.from(text).map((ch) => (CJK.test(ch) ? { ms: timing.msPerCjk, voiced: true } : { ms: timing.msPerLatin, voiced: VOICED.test(ch) }));
}

/** Duration of the speech for `text`: per character, at least `minMs`, divided by `speed`. */
export function speechDurationMs(text: string, timing: SpeechTiming, speed = 1): number {
  const total = units(text, timing).reduce((a, u) => a + u.ms, 0);
  return Math.max(timing.minMs, total) / speed;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * A deterministic speech-like signal: voiced runs (letters, digits, CJK) carry a harmonic-rich tone
 * whose fundamental glides within 120–220 Hz (the voice name picks the base), amplitude-modulated at
 * a syllable rate of 4 Hz with 10 ms ramps at the edges; spaces and punctuation are silent gaps. An
 * energy VAD sees speech, and a tonal signal survives Opus well enough to measure SNR after a round trip.
 */
export function synthesizeSpeech(text: string, sampleRate: number, timing: SpeechTiming, opts: { speed?: number; voice?: string } = {}): Int16Array {
  const speed = opts.speed ?? 1;
  const list = units(text, timing);
  const raw = list.reduce((a, u) => a + u.ms, 0);
  // Short texts are stretched to the minimum rather than padded, so they still sound like speech.
  const stretch = (raw > 0 ? Math.max(1, timing.minMs / raw) : 1) / speed;
  const total = Math.round((Math.max(raw, timing.minMs) / speed) * (sampleRate / 1000));
  const out = new Int16Array(total);
  const base = 145 + (hash(opts.voice ?? "") % 51);
  const nyquist = sampleRate / 2;
  const ramp = Math.max(1, Math.round(0.01 * sampleRate));
  let phase = 0;
  let at = 0;
  for (let u = 0; u < list.length; u++) {
    const unit = list[u] as Unit;
    let end = at + Math.round(unit.ms * stretch * (sampleRate / 1000));
    if (!unit.voiced) {
      at = Math.min(total, end);
      continue;
    }
    // Extend over the whole voiced run, so the envelope and ramps span words, not letters.
    while (u + 1 < list.length && (list[u + 1] as Unit).voiced) end += Math.round((list[++u] as Unit).ms * stretch * (sampleRate / 1000));
    end = Math.min(total, end);
    const len = end - at;
    for (let i = 0; i < len; i++) {
      const t = (at + i) / sampleRate;
      const f0 = base + 25 * Math.sin(2 * Math.PI * 0.8 * t);
      phase += (2 * Math.PI * f0) / sampleRate;
      let s = 0;
      for (let k = 1; k <= 8 && k * f0 < nyquist * 0.9; k++) s += Math.sin(k * phase) / k;
      const syllable = 0.6 - 0.4 * Math.cos(2 * Math.PI * 4 * (i / sampleRate));
      const edge = Math.min(1, i / ramp, (len - 1 - i) / ramp);
      const gain = 0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, edge));
      out[at + i] = Math.round(0.35 * 32767 * syllable * gain * (s / 2.72));
    }
    at = end;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ogg Opus: enough to read what an Opus uplink would send, and to make such files in tests.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

function oggCrc(page: Uint8Array): number {
  let crc = 0;
  for (const b of page) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ b) & 0xff] ?? 0)) >>> 0;
  return crc;
}

export interface OggOpus {
  channels: number;
  preSkip: number;
  inputRate: number;
  /** Audio packets (OpusHead and OpusTags removed). */
  packets: Uint8Array[];
  /** Granule position of the last page (48 kHz samples, pre-skip included). */
  granule: number;
}

/** Demuxes a single-stream Ogg Opus file. Throws when it is not one. */
export function parseOggOpus(bytes: Uint8Array): OggOpus {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packets: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let granule = 0;
  let at = 0;
  while (at + 27 <= bytes.length) {
    if (ascii(bytes, at, 4) !== "OggS") throw new Error(`no Ogg page at byte ${at}`);
    const g = view.getBigInt64(at + 6, true);
    if (g >= 0n) granule = Number(g);
    const segments = bytes[at + 26] ?? 0;
    let body = at + 27 + segments;
    for (let s = 0; s < segments; s++) {
      const len = bytes[at + 27 + s] ?? 0;
      pending.push(bytes.subarray(body, body + len));
      body += len;
      if (len < 255) {
        const total = pending.reduce((a, p) => a + p.length, 0);
        const packet = new Uint8Array(total);
        let o = 0;
        for (const p of pending) {
          packet.set(p, o);
          o += p.length;
        }
        packets.push(packet);
        pending = [];
      }
    }
    at = body;
  }
  const head = packets[0];
  if (!head || head.length < 19 || ascii(head, 0, 8) !== "OpusHead") throw new Error("not an Ogg Opus stream");
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const audio = packets.slice(1).filter((p) => !(p.length >= 8 && ascii(p, 0, 8) === "OpusTags"));
  return { channels: head[9] ?? 1, preSkip: hv.getUint16(10, true), inputRate: hv.getUint32(12, true), packets: audio, granule };
}

/** Muxes Opus packets of `frameMs` each into an Ogg Opus file (one packet per page). */
export function muxOggOpus(
  packets: Uint8Array[],
  opts: { inputRate: number; frameMs: number; channels?: number; preSkip?: number; serial?: number },
): Uint8Array<ArrayBuffer> {
  const channels = opts.channels ?? 1;
  const preSkip = opts.preSkip ?? 312;
  const serial = opts.serial ?? 0x5eed;
  const head = new Uint8Array(19);
  head.set(new TextEncoder().encode("OpusHead"));
  const hv = new DataView(head.buffer);
  head[8] = 1;
  head[9] = channels;
  hv.setUint16(10, preSkip, true);
  hv.setUint32(12, opts.inputRate, true);
  const vendor = new TextEncoder().encode("fake-openai");
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  tags.set(new TextEncoder().encode("OpusTags"));
  new DataView(tags.buffer).setUint32(8, vendor.length, true);
  tags.set(vendor, 12);
  const pages: Uint8Array[] = [];
  const page = (packet: Uint8Array, granule: number, flags: number, seq: number) => {
    const lacing: number[] = [];
    let rest = packet.length;
    while (rest >= 255) {
      lacing.push(255);
      rest -= 255;
    }
    lacing.push(rest);
    const out = new Uint8Array(27 + lacing.length + packet.length);
    const v = new DataView(out.buffer);
    out.set(new TextEncoder().encode("OggS"));
    out[5] = flags;
    v.setBigInt64(6, BigInt(granule), true);
    v.setUint32(14, serial, true);
    v.setUint32(18, seq, true);
    out[26] = lacing.length;
    out.set(lacing, 27);
    out.set(packet, 27 + lacing.length);
    v.setUint32(22, oggCrc(out), true);
    pages.push(out);
  };
  page(head, 0, 0x02, 0);
  page(tags, 0, 0, 1);
  let granule = preSkip;
  packets.forEach((p, i) => {
    granule += opts.frameMs * 48;
    page(p, granule, i === packets.length - 1 ? 0x04 : 0, i + 2);
  });
  const total = pages.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of pages) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Uploaded audio → what a recogniser would hear.

export interface DecodedAudio extends Omit<AudioInfo, "bytes"> {
  samples: Int16Array | null;
}

const OGG_DECODE_RATE = 16000;

/** Decodes an upload: WAV (16-bit PCM), Ogg Opus (decoded at 16 kHz), or unknown bytes (no level). */
export async function decodeAudio(bytes: Uint8Array): Promise<DecodedAudio> {
  if (bytes.length >= 4 && ascii(bytes, 0, 4) === "RIFF") {
    const pcm = parseWav(bytes);
    return {
      format: "wav",
      sampleRate: pcm.sampleRate,
      channels: pcm.channels,
      durationMs: Math.round((pcm.samples.length / pcm.sampleRate) * 1000 * 100) / 100,
      rmsDbfs: rmsDbfs(pcm.samples),
      samples: pcm.samples,
    };
  }
  if (bytes.length >= 4 && ascii(bytes, 0, 4) === "OggS") {
    const ogg = parseOggOpus(bytes);
    const { Decoder } = await import("@evan/opus");
    const decoder = new Decoder({ channels: 1, sample_rate: OGG_DECODE_RATE });
    const parts: Int16Array[] = [];
    for (const p of ogg.packets) parts.push(pcmFromBytes(decoder.decode(p)));
    const decoded = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      decoded.set(p, o);
      o += p.length;
    }
    // The granule position is the authority on length: it excludes pre-skip and end trimming.
    const durationMs = Math.max(0, ((ogg.granule - ogg.preSkip) / 48000) * 1000);
    const skip = Math.round((ogg.preSkip / 48000) * OGG_DECODE_RATE);
    const samples = decoded.subarray(skip, skip + Math.round((durationMs / 1000) * OGG_DECODE_RATE));
    return { format: "ogg", sampleRate: ogg.inputRate, channels: ogg.channels, durationMs, rmsDbfs: rmsDbfs(samples), samples };
  }
  return { format: "unknown", sampleRate: null, channels: null, durationMs: null, rmsDbfs: null, samples: null };
}
