import { pcmToBytes, S16leReader } from "./pcm.ts";

// RIFF/WAVE with 16-bit PCM: what ASR providers accept everywhere, and what some TTS servers answer
// instead of raw PCM. Readers skip unknown chunks (LIST, fact, bext...) and mix stereo to mono.

export interface WavAudio {
  sampleRate: number;
  /** Channels in the file; `pcm` is always mono. */
  channels: number;
  pcm: Int16Array;
}

export interface WavFormat {
  status: "ok";
  sampleRate: number;
  channels: number;
  dataOffset: number;
  /** null: the data runs to the end (a streamed WAV that did not know its length). */
  dataBytes: number | null;
}

export type WavHeader = WavFormat | { status: "more" } | { status: "invalid"; reason: string };

/** Headers larger than this are not speech from a TTS server. */
const MAX_HEADER_BYTES = 1 << 20;
const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** A mono 16-bit WAV file. */
export function encodeWav(pcm: Int16Array, sampleRate: number): Uint8Array<ArrayBuffer> {
  const data = pcmToBytes(pcm);
  const out = new Uint8Array(44 + data.byteLength);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  v.setUint32(4, 36 + data.byteLength, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, WAVE_FORMAT_PCM, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, "data");
  v.setUint32(40, data.byteLength, true);
  out.set(data, 44);
  return out;
}

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at] ?? 0, bytes[at + 1] ?? 0, bytes[at + 2] ?? 0, bytes[at + 3] ?? 0);
}

/** Whether `bytes` (the first bytes of a body) are, or may still become, "RIFF". */
export function mayBeRiff(bytes: Uint8Array): boolean {
  const magic = "RIFF";
  for (let i = 0; i < Math.min(4, bytes.byteLength); i++) if (bytes[i] !== magic.charCodeAt(i)) return false;
  return true;
}

/** Walks the chunks up to `data`; "more" when `bytes` stops before it. */
export function readWavHeader(bytes: Uint8Array): WavHeader {
  if (bytes.byteLength < 12) return mayBeRiff(bytes) ? { status: "more" } : { status: "invalid", reason: "not a RIFF file" };
  if (fourcc(bytes, 0) !== "RIFF" || fourcc(bytes, 8) !== "WAVE") return { status: "invalid", reason: "not a RIFF/WAVE file" };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { sampleRate: number; channels: number } | null = null;
  let off = 12;
  while (off + 8 <= bytes.byteLength) {
    const id = fourcc(bytes, off);
    const size = v.getUint32(off + 4, true);
    if (id === "data") {
      if (!fmt) return { status: "invalid", reason: "WAV data chunk before its fmt chunk" };
      // Streaming servers write 0 or 0xFFFFFFFF when they do not know the length yet.
      const dataBytes = size === 0 || size >= 0x7fffffff ? null : size;
      return { status: "ok", ...fmt, dataOffset: off + 8, dataBytes };
    }
    if (id === "fmt ") {
      if (off + 8 + size > bytes.byteLength) break;
      if (size < 16) return { status: "invalid", reason: "WAV fmt chunk too short" };
      const tag = v.getUint16(off + 8, true);
      const channels = v.getUint16(off + 10, true);
      const sampleRate = v.getUint32(off + 12, true);
      const bits = v.getUint16(off + 22, true);
      if ((tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_EXTENSIBLE) || bits !== 16) {
        return { status: "invalid", reason: `WAV format ${tag} with ${bits}-bit samples is not 16-bit PCM` };
      }
      if (channels < 1 || channels > 8 || sampleRate < 1000 || sampleRate > 384000) {
        return { status: "invalid", reason: `WAV with ${channels} channels at ${sampleRate} Hz` };
      }
      fmt = { sampleRate, channels };
    }
    // Chunks are padded to an even size.
    off += 8 + size + (size & 1);
    if (off > MAX_HEADER_BYTES) return { status: "invalid", reason: "WAV header larger than 1 MiB" };
  }
  return { status: "more" };
}

/** A whole WAV file, or null if it is not 16-bit PCM WAV. A truncated data chunk is read as far as it goes. */
export function parseWav(bytes: Uint8Array): WavAudio | null {
  const h = readWavHeader(bytes);
  if (h.status !== "ok") return null;
  const end = h.dataBytes === null ? bytes.byteLength : Math.min(bytes.byteLength, h.dataOffset + h.dataBytes);
  const pcm = new S16leReader(h.channels).push(bytes.subarray(h.dataOffset, end));
  return { sampleRate: h.sampleRate, channels: h.channels, pcm };
}
