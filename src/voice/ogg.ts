// Ogg Opus (RFC 7845) for one mono stream: enough to write fixtures and simulator uploads, and to
// read them back. Ogg pages carry a CRC-32 (polynomial 0x04c11db7, not reflected, initial 0) and
// granule positions count 48 kHz samples whatever the encoder's rate.

export interface OggOpus {
  /** The input rate from OpusHead (informational; Opus decodes at any rate). */
  sampleRate: number;
  channels: number;
  /** Samples at 48 kHz to drop from the start of the decoded stream. */
  preSkip: number;
  packets: Uint8Array[];
}

export interface MuxOptions {
  inputSampleRate: number;
  /** Duration of a packet whose TOC byte cannot be read (an empty packet). */
  frameMs: number;
  /** At 48 kHz; libopus' encoder delay is 312 at every rate (6.5 ms). */
  preSkip?: number;
  serial?: number;
  vendor?: string;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ (bytes[i] ?? 0)) & 0xff] ?? 0)) >>> 0;
  return crc;
}

/** Samples at 48 kHz in an Opus packet, from its TOC byte (RFC 6716 §3.1); 0 if unreadable. */
export function opusPacketSamples48(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const config = toc >> 3;
  // SILK: 10/20/40/60 ms; hybrid: 10/20 ms; CELT: 2.5/5/10/20 ms. In units of 2.5 ms = 120 samples.
  const units = config < 12 ? ([4, 8, 16, 24][config & 3] ?? 0) : config < 16 ? ([4, 8][config & 1] ?? 0) : ([1, 2, 4, 8][config & 3] ?? 0);
  const code = toc & 3;
  const frames = code === 0 ? 1 : code === 3 ? (packet[1] ?? 0) & 0x3f : 2;
  return units * 120 * frames;
}

/** Pages hold at most about a second: a reader then never waits long for the next packet. */
const PAGE_SAMPLES_48 = 48_000;

export function muxOggOpus(packets: readonly Uint8Array[], opts: MuxOptions): Uint8Array<ArrayBuffer> {
  const serial = (opts.serial ?? 0x5a1e0001) >>> 0;
  const preSkip = opts.preSkip ?? 312;
  const pages: Uint8Array[] = [];
  let sequence = 0;
  const page = (segments: number[], body: Uint8Array[], granule: bigint, flags: number) => {
    pages.push(buildPage(segments, body, granule, flags, serial, sequence++));
  };

  const head = new Uint8Array(19);
  const hv = new DataView(head.buffer);
  head.set(ascii("OpusHead"));
  head[8] = 1;
  head[9] = 1;
  hv.setUint16(10, preSkip, true);
  hv.setUint32(12, opts.inputSampleRate, true);
  hv.setInt16(16, 0, true);
  head[18] = 0;
  page(lacing(head.byteLength), [head], 0n, 0x02);

  const vendor = ascii(opts.vendor ?? "supie-edge");
  const tags = new Uint8Array(8 + 4 + vendor.byteLength + 4);
  const tv = new DataView(tags.buffer);
  tags.set(ascii("OpusTags"));
  tv.setUint32(8, vendor.byteLength, true);
  tags.set(vendor, 12);
  tv.setUint32(12 + vendor.byteLength, 0, true);
  page(lacing(tags.byteLength), [tags], 0n, 0);

  const fallback = Math.round(opts.frameMs * 48);
  let granule = 0n;
  let segments: number[] = [];
  let body: Uint8Array[] = [];
  let pageSamples = 0;
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i] ?? new Uint8Array(0);
    const lace = lacing(p.byteLength);
    if (segments.length + lace.length > 255 && segments.length > 0) {
      page(segments, body, granule, 0);
      segments = [];
      body = [];
      pageSamples = 0;
    }
    // A packet above 255 × 255 bytes cannot be an Opus packet; this mux does not span pages.
    if (lace.length > 255) throw new Error(`ogg: packet of ${p.byteLength} bytes is too large`);
    segments.push(...lace);
    body.push(p);
    const samples = opusPacketSamples48(p) || fallback;
    granule += BigInt(samples);
    pageSamples += samples;
    const last = i === packets.length - 1;
    if (last || pageSamples >= PAGE_SAMPLES_48) {
      page(segments, body, granule, last ? 0x04 : 0);
      segments = [];
      body = [];
      pageSamples = 0;
    }
  }
  // A stream needs an end-of-stream page even with no audio.
  if (packets.length === 0) page([], [], 0n, 0x04);

  let total = 0;
  for (const p of pages) total += p.byteLength;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of pages) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Lacing values of one packet: 255s then the remainder (a 0 when the size is a multiple of 255). */
function lacing(size: number): number[] {
  const out: number[] = [];
  let left = size;
  while (left >= 255) {
    out.push(255);
    left -= 255;
  }
  out.push(left);
  return out;
}

function buildPage(segments: number[], body: Uint8Array[], granule: bigint, flags: number, serial: number, sequence: number): Uint8Array {
  let bodyLen = 0;
  for (const b of body) bodyLen += b.byteLength;
  const out = new Uint8Array(27 + segments.length + bodyLen);
  const v = new DataView(out.buffer);
  out.set(ascii("OggS"));
  out[4] = 0;
  out[5] = flags;
  v.setBigInt64(6, granule, true);
  v.setUint32(14, serial, true);
  v.setUint32(18, sequence, true);
  out[26] = segments.length;
  out.set(segments, 27);
  let o = 27 + segments.length;
  for (const b of body) {
    out.set(b, o);
    o += b.byteLength;
  }
  v.setUint32(22, crc32(out), true);
  return out;
}

/** Reads the first logical stream; throws an Error saying what is wrong with anything else. */
export function demuxOggOpus(bytes: Uint8Array): OggOpus {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packets: Uint8Array[] = [];
  let partial: Uint8Array[] = [];
  let serial: number | null = null;
  let off = 0;
  let pageNo = 0;
  while (off < bytes.byteLength) {
    if (off + 27 > bytes.byteLength) throw new Error(`ogg: truncated page header at byte ${off}`);
    if (bytes[off] !== 0x4f || bytes[off + 1] !== 0x67 || bytes[off + 2] !== 0x67 || bytes[off + 3] !== 0x53) {
      throw new Error(`ogg: no "OggS" capture pattern at byte ${off}`);
    }
    if (bytes[off + 4] !== 0) throw new Error(`ogg: unknown page version ${bytes[off + 4]}`);
    const nseg = bytes[off + 26] ?? 0;
    const headerLen = 27 + nseg;
    if (off + headerLen > bytes.byteLength) throw new Error(`ogg: truncated segment table at byte ${off}`);
    let bodyLen = 0;
    for (let i = 0; i < nseg; i++) bodyLen += bytes[off + 27 + i] ?? 0;
    const end = off + headerLen + bodyLen;
    if (end > bytes.byteLength) throw new Error(`ogg: page ${pageNo} runs past the end of the data`);
    const pageBytes = bytes.slice(off, end);
    const stored = v.getUint32(off + 22, true);
    pageBytes.fill(0, 22, 26);
    if (crc32(pageBytes) !== stored) throw new Error(`ogg: CRC mismatch in page ${pageNo}`);
    const pageSerial = v.getUint32(off + 14, true);
    serial ??= pageSerial;
    if (pageSerial === serial) {
      let p = off + headerLen;
      for (let i = 0; i < nseg; i++) {
        const len = bytes[off + 27 + i] ?? 0;
        partial.push(bytes.subarray(p, p + len));
        p += len;
        if (len < 255) {
          packets.push(join(partial));
          partial = [];
        }
      }
    }
    off = end;
    pageNo++;
  }
  const head = packets[0];
  if (!head || head.byteLength < 19 || String.fromCharCode(...head.subarray(0, 8)) !== "OpusHead") {
    throw new Error("ogg: the first packet is not an OpusHead");
  }
  const tags = packets[1];
  if (!tags || String.fromCharCode(...tags.subarray(0, 8)) !== "OpusTags") throw new Error("ogg: no OpusTags packet after OpusHead");
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return {
    channels: head[9] ?? 0,
    preSkip: hv.getUint16(10, true),
    sampleRate: hv.getUint32(12, true),
    packets: packets.slice(2),
  };
}

function join(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0]) return parts[0].slice();
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
