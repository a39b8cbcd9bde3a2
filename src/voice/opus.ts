// libopus from @evan/opus' standalone `wasm/opus.wasm`, instantiated synchronously from a
// WebAssembly.Module the caller provides: workerd forbids compiling wasm from bytes at run time, so
// the Worker imports the file as a module; Node and Deno build one with `new WebAssembly.Module`.
// The package's own JS reads the file with `fs`, which is why this loader exists.

export type OpusRate = 8000 | 12000 | 16000 | 24000 | 48000;
export const OPUS_RATES: readonly OpusRate[] = [8000, 12000, 16000, 24000, 48000];

export interface OpusDecoder {
  readonly sampleRate: OpusRate;
  /** The packet's samples (mono, s16); empty for an empty or corrupt packet, never throws. */
  decode(packet: Uint8Array): Int16Array;
  /** Releases the wasm heap; calling it again is harmless, decoding afterwards throws. */
  free(): void;
}

export interface OpusEncoderOptions {
  /** Bits per second, or "auto" (libopus picks, ~17 kbps at 16 kHz / 60 ms). Default 24000. */
  bitrate?: number | "auto";
  /** 0–10. Default 5: at 10 a 24 kHz frame costs 1 ms in workerd, at 5 0.2 ms (VOICE.md §1). */
  complexity?: number;
  application?: "audio" | "voip";
  /** Variable bitrate (libopus default on). */
  vbr?: boolean;
  /** Discontinuous transmission: near-empty packets in silence, as the firmware's uplink. */
  dtx?: boolean;
}

export interface OpusEncoder {
  readonly sampleRate: OpusRate;
  /** Encoder delay in samples at `sampleRate` (Ogg Opus pre-skip is this scaled to 48 kHz). */
  readonly lookahead: number;
  /** Encodes exactly one frame: sampleRate × (2.5|5|10|20|40|60|80|100|120) / 1000 samples. */
  encode(pcm: Int16Array): Uint8Array<ArrayBuffer>;
  /** Releases the wasm heap; calling it again is harmless, encoding afterwards throws. */
  free(): void;
}

export interface OpusLib {
  decoder(sampleRate: number, channels?: 1): OpusDecoder;
  encoder(sampleRate: number, opts?: OpusEncoderOptions): OpusEncoder;
}

interface OpusExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  opus_strerror(code: number): number;
  opus_decoder_get_size(channels: number): number;
  opus_decoder_init(st: number, rate: number, channels: number): number;
  opus_decode(st: number, data: number, len: number, pcm: number, frameSize: number, fec: number): number;
  opus_encoder_get_size(channels: number): number;
  opus_encoder_init(st: number, rate: number, channels: number, application: number): number;
  opus_encode(st: number, pcm: number, frameSize: number, data: number, maxBytes: number): number;
  opus_encoder_ctl_set(st: number, request: number, value: number): number;
  opus_encoder_ctl_get(st: number, request: number): number;
}

// Request numbers from opus_defines.h (the package's lib.js uses the same).
const OPUS_AUTO = -1000;
const APPLICATION = { voip: 2048, audio: 2049 } as const;
const SET_BITRATE = 4002;
const SET_VBR = 4006;
const SET_COMPLEXITY = 4010;
const SET_DTX = 4016;
const GET_LOOKAHEAD = 4027;

/** Largest frame libopus returns: 120 ms at 48 kHz. */
const MAX_FRAME_SAMPLES = 5760;
/** libopus' recommended output bound for one encoded packet. */
const MAX_PACKET_BYTES = 4000;

const FUNCTIONS = [
  "malloc",
  "free",
  "opus_strerror",
  "opus_decoder_get_size",
  "opus_decoder_init",
  "opus_decode",
  "opus_encoder_get_size",
  "opus_encoder_init",
  "opus_encode",
  "opus_encoder_ctl_set",
  "opus_encoder_ctl_get",
] as const;

const cache = new WeakMap<WebAssembly.Module, OpusLib>();

/** One instance per module (and so per isolate): instantiating costs ~1 ms and 16 MiB of memory. */
export function loadOpus(mod: WebAssembly.Module): OpusLib {
  let lib = cache.get(mod);
  if (!lib) {
    lib = new Lib(instantiate(mod));
    cache.set(mod, lib);
  }
  return lib;
}

function instantiate(mod: WebAssembly.Module): OpusExports {
  const noop = () => 0;
  // Only what the module imports (checked with WebAssembly.Module.imports): libopus never prints,
  // seeks or exits, and views over memory are refreshed lazily instead of on growth.
  const instance = new WebAssembly.Instance(mod, {
    wasi_snapshot_preview1: { proc_exit: noop, fd_close: noop, fd_write: noop, fd_seek: noop },
    env: { emscripten_notify_memory_growth: noop },
  });
  const ex = instance.exports;
  for (const name of FUNCTIONS) {
    if (typeof ex[name] !== "function") throw new Error(`opus.wasm lacks the export ${name}`);
  }
  if (!(ex.memory instanceof WebAssembly.Memory)) throw new Error("opus.wasm exports no memory");
  // A WASI reactor expects _initialize before any other call (static constructors).
  const init = ex._initialize;
  if (typeof init === "function") init();
  return ex as unknown as OpusExports;
}

function checkRate(sampleRate: number): OpusRate {
  const rate = OPUS_RATES.find((r) => r === sampleRate);
  if (rate === undefined) throw new RangeError(`opus: sample rate ${sampleRate} is not one of ${OPUS_RATES.join(", ")}`);
  return rate;
}

class Lib implements OpusLib {
  readonly wasm: OpusExports;
  /**
   * Scratch shared by every codec of this instance: calls are synchronous and JS is single-threaded,
   * so per-device heap is only the codec state (decoder 18 KB, encoder 44 KB).
   */
  readonly pcmPtr: number;
  packetPtr: number;
  packetCap: number;
  private u8: Uint8Array;

  constructor(wasm: OpusExports) {
    this.wasm = wasm;
    this.pcmPtr = this.malloc(MAX_FRAME_SAMPLES * 2);
    this.packetCap = 16 * 1024;
    this.packetPtr = this.malloc(this.packetCap);
    this.u8 = new Uint8Array(wasm.memory.buffer);
  }

  malloc(size: number): number {
    const ptr = this.wasm.malloc(size);
    if (ptr === 0) throw new Error(`opus: wasm malloc(${size}) failed`);
    return ptr;
  }

  /** Memory growth detaches the old buffer: views are rebuilt when that happened. */
  heap(): Uint8Array {
    if (this.u8.buffer !== this.wasm.memory.buffer) this.u8 = new Uint8Array(this.wasm.memory.buffer);
    return this.u8;
  }

  /** Copies a packet into the scratch, growing it for the rare packet above 16 KiB. */
  putPacket(packet: Uint8Array): number {
    if (packet.byteLength > this.packetCap) {
      this.wasm.free(this.packetPtr);
      this.packetCap = packet.byteLength;
      this.packetPtr = this.malloc(this.packetCap);
    }
    this.heap().set(packet, this.packetPtr);
    return this.packetPtr;
  }

  error(code: number): string {
    const heap = this.heap();
    let s = "";
    for (let p = this.wasm.opus_strerror(code); p < heap.length && heap[p] !== 0; p++) s += String.fromCharCode(heap[p] ?? 0);
    return s || `error ${code}`;
  }

  decoder(sampleRate: number, channels: 1 = 1): OpusDecoder {
    return new Decoder(this, checkRate(sampleRate), channels);
  }

  encoder(sampleRate: number, opts: OpusEncoderOptions = {}): OpusEncoder {
    return new Encoder(this, checkRate(sampleRate), opts);
  }
}

class Decoder implements OpusDecoder {
  readonly sampleRate: OpusRate;
  private readonly lib: Lib;
  private state: number;

  constructor(lib: Lib, sampleRate: OpusRate, channels: 1) {
    this.lib = lib;
    this.sampleRate = sampleRate;
    this.state = lib.malloc(lib.wasm.opus_decoder_get_size(channels));
    const rc = lib.wasm.opus_decoder_init(this.state, sampleRate, channels);
    if (rc < 0) {
      this.free();
      throw new Error(`opus: decoder init failed: ${lib.error(rc)}`);
    }
  }

  decode(packet: Uint8Array): Int16Array {
    if (this.state === 0) throw new Error("opus: decoder used after free()");
    // An empty packet would ask libopus for loss concealment; the protocol means end of speech.
    if (packet.byteLength === 0) return new Int16Array(0);
    const { lib } = this;
    const n = lib.wasm.opus_decode(this.state, lib.putPacket(packet), packet.byteLength, lib.pcmPtr, MAX_FRAME_SAMPLES, 0);
    if (n <= 0) return new Int16Array(0);
    const heap = lib.heap();
    return new Int16Array(heap.buffer, lib.pcmPtr, n).slice();
  }

  free(): void {
    if (this.state === 0) return;
    this.lib.wasm.free(this.state);
    this.state = 0;
  }
}

const FRAME_TENTHS_MS = [25, 50, 100, 200, 400, 600, 800, 1000, 1200];

class Encoder implements OpusEncoder {
  readonly sampleRate: OpusRate;
  readonly lookahead: number;
  private readonly lib: Lib;
  private state: number;

  constructor(lib: Lib, sampleRate: OpusRate, opts: OpusEncoderOptions) {
    this.lib = lib;
    this.sampleRate = sampleRate;
    const w = lib.wasm;
    this.state = lib.malloc(w.opus_encoder_get_size(1));
    try {
      this.check("init", w.opus_encoder_init(this.state, sampleRate, 1, APPLICATION[opts.application ?? "audio"]));
      const bitrate = opts.bitrate ?? 24000;
      this.check("bitrate", w.opus_encoder_ctl_set(this.state, SET_BITRATE, bitrate === "auto" ? OPUS_AUTO : Math.round(bitrate)));
      this.check("complexity", w.opus_encoder_ctl_set(this.state, SET_COMPLEXITY, opts.complexity ?? 5));
      if (opts.vbr !== undefined) this.check("vbr", w.opus_encoder_ctl_set(this.state, SET_VBR, opts.vbr ? 1 : 0));
      if (opts.dtx !== undefined) this.check("dtx", w.opus_encoder_ctl_set(this.state, SET_DTX, opts.dtx ? 1 : 0));
    } catch (e) {
      this.free();
      throw e;
    }
    this.lookahead = w.opus_encoder_ctl_get(this.state, GET_LOOKAHEAD);
  }

  private check(what: string, rc: number): void {
    if (rc < 0) throw new Error(`opus: encoder ${what} failed: ${this.lib.error(rc)}`);
  }

  encode(pcm: Int16Array): Uint8Array<ArrayBuffer> {
    if (this.state === 0) throw new Error("opus: encoder used after free()");
    const tenths = (pcm.length * 10000) / this.sampleRate;
    if (!FRAME_TENTHS_MS.includes(tenths)) {
      throw new RangeError(`opus: ${pcm.length} samples at ${this.sampleRate} Hz is not a frame of 2.5–120 ms`);
    }
    const { lib } = this;
    const heap = lib.heap();
    new Int16Array(heap.buffer, lib.pcmPtr, pcm.length).set(pcm);
    const n = lib.wasm.opus_encode(this.state, lib.pcmPtr, pcm.length, lib.packetPtr, Math.min(MAX_PACKET_BYTES, lib.packetCap));
    this.check("encode", n);
    return lib.heap().slice(lib.packetPtr, lib.packetPtr + n);
  }

  free(): void {
    if (this.state === 0) return;
    this.lib.wasm.free(this.state);
    this.state = 0;
  }
}
