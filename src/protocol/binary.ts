// Binary audio frames (PROTOCOL §4). v1: raw Opus packet. v2: 16-byte big-endian header
// (version u16, type u16, reserved u32, timestamp u32, payload_size u32). v3: 4-byte header
// (type u8, reserved u8, payload_size u16). A frame that disagrees with its own header is reported,
// never thrown: one bad frame must not end a session.

export type BinaryVersion = 1 | 2 | 3;

/** Larger than any Opus packet the firmware sends (120 ms at the highest bitrate fits in 4 KiB). */
export const MAX_AUDIO_PAYLOAD = 16 * 1024;

export type ParsedFrame =
  | { ok: true; kind: "audio"; payload: Uint8Array; timestamp?: number }
  | { ok: true; kind: "end-of-speech" }
  | { ok: true; kind: "text"; text: string }
  | { ok: false; reason: string };

export function binaryVersion(v: unknown): BinaryVersion | undefined {
  return v === 1 || v === 2 || v === 3 ? v : undefined;
}

export function parseFrame(version: BinaryVersion, data: ArrayBuffer | Uint8Array): ParsedFrame {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteLength === 0) return { ok: true, kind: "end-of-speech" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  if (version === 1) {
    if (bytes.byteLength > MAX_AUDIO_PAYLOAD) return { ok: false, reason: `v1 frame of ${bytes.byteLength} bytes is too large` };
    return { ok: true, kind: "audio", payload: bytes };
  }

  if (version === 2) {
    if (bytes.byteLength < 16) return { ok: false, reason: `v2 frame of ${bytes.byteLength} bytes is shorter than its 16-byte header` };
    const type = view.getUint16(2);
    const timestamp = view.getUint32(8);
    const size = view.getUint32(12);
    if (16 + size !== bytes.byteLength) {
      return { ok: false, reason: `v2 header says ${size} payload bytes, frame has ${bytes.byteLength - 16}` };
    }
    return typed(type, bytes.subarray(16), timestamp, "v2");
  }

  if (bytes.byteLength < 4) return { ok: false, reason: `v3 frame of ${bytes.byteLength} bytes is shorter than its 4-byte header` };
  const type = view.getUint8(0);
  const size = view.getUint16(2);
  if (4 + size !== bytes.byteLength) {
    return { ok: false, reason: `v3 header says ${size} payload bytes, frame has ${bytes.byteLength - 4}` };
  }
  return typed(type, bytes.subarray(4), undefined, "v3");
}

function typed(type: number, payload: Uint8Array, timestamp: number | undefined, v: string): ParsedFrame {
  if (type === 0) {
    if (payload.byteLength === 0) return { ok: true, kind: "end-of-speech" };
    if (payload.byteLength > MAX_AUDIO_PAYLOAD) return { ok: false, reason: `${v} payload of ${payload.byteLength} bytes is too large` };
    return timestamp === undefined ? { ok: true, kind: "audio", payload } : { ok: true, kind: "audio", payload, timestamp };
  }
  // Type 1 carries a JSON message in the firmware's binary protocols.
  if (type === 1) return { ok: true, kind: "text", text: new TextDecoder().decode(payload) };
  return { ok: false, reason: `${v} frame type ${type} is not supported (0 = opus, 1 = json)` };
}

/** Wraps an Opus packet for the device's binary protocol version. */
export function encodeFrame(version: BinaryVersion, payload: Uint8Array, timestamp = 0): Uint8Array {
  if (version === 1) return payload;
  if (version === 2) {
    const out = new Uint8Array(16 + payload.byteLength);
    const view = new DataView(out.buffer);
    view.setUint16(0, 2);
    view.setUint16(2, 0);
    view.setUint32(4, 0);
    view.setUint32(8, timestamp >>> 0);
    view.setUint32(12, payload.byteLength);
    out.set(payload, 16);
    return out;
  }
  const out = new Uint8Array(4 + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, 0);
  view.setUint8(1, 0);
  view.setUint16(2, payload.byteLength);
  out.set(payload, 4);
  return out;
}
