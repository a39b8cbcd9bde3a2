// libopus in the browser where WebCodecs has no Opus: the same standalone opus.wasm the Worker
// uses (@evan/opus, vendored as a static asset), instantiated with a small loader like
// src/voice/opus.ts. The package's own JS reads the file with `fs`, hence this loader.

const URL_WASM = "/console/vendor/opus.wasm";

// Request numbers from opus_defines.h.
const APPLICATION_VOIP = 2048;
const SET_BITRATE = 4002;
const SET_COMPLEXITY = 4010;
/** Largest frame libopus returns: 120 ms at 48 kHz. */
const MAX_FRAME_SAMPLES = 5760;
const MAX_PACKET_BYTES = 4000;

/** @type {Promise<OpusWasm> | undefined} */
let loading;

/** One instance per page: ~1 ms to instantiate, 16 MiB of memory. */
export function loadOpusWasm() {
  loading ??= instantiate().catch((err) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

async function instantiate() {
  const noop = () => 0;
  // Only what the module imports: libopus never prints, seeks or exits.
  const imports = {
    wasi_snapshot_preview1: { proc_exit: noop, fd_close: noop, fd_write: noop, fd_seek: noop },
    env: { emscripten_notify_memory_growth: noop },
  };
  const { instance } = await WebAssembly.instantiateStreaming(fetch(URL_WASM), imports);
  const ex = /** @type {any} */ (instance.exports);
  if (typeof ex._initialize === "function") ex._initialize();
  return new OpusWasm(ex);
}

class OpusWasm {
  /** @param {any} wasm */
  constructor(wasm) {
    this.wasm = wasm;
    // Scratch shared by every codec: calls are synchronous on one thread.
    this.pcmPtr = wasm.malloc(MAX_FRAME_SAMPLES * 2);
    this.packetPtr = wasm.malloc(16 * 1024);
  }

  /** Memory growth detaches old views: always take a fresh one. */
  get heap() {
    return this.wasm.memory.buffer;
  }

  /** @param {number} sampleRate */
  decoder(sampleRate) {
    const w = this.wasm;
    const state = w.malloc(w.opus_decoder_get_size(1));
    if (w.opus_decoder_init(state, sampleRate, 1) < 0) throw new Error(`opus: decoder init failed at ${sampleRate} Hz`);
    return {
      sampleRate,
      /** @param {Uint8Array} packet @returns {Int16Array} */
      decode: (packet) => {
        if (packet.byteLength === 0 || packet.byteLength > 16 * 1024) return new Int16Array(0);
        new Uint8Array(this.heap, this.packetPtr, packet.byteLength).set(packet);
        const n = w.opus_decode(state, this.packetPtr, packet.byteLength, this.pcmPtr, MAX_FRAME_SAMPLES, 0);
        return n > 0 ? new Int16Array(this.heap, this.pcmPtr, n).slice() : new Int16Array(0);
      },
      free: () => w.free(state),
    };
  }

  /** An uplink encoder as the firmware's: VOIP, low complexity. @param {number} sampleRate */
  encoder(sampleRate) {
    const w = this.wasm;
    const state = w.malloc(w.opus_encoder_get_size(1));
    if (w.opus_encoder_init(state, sampleRate, 1, APPLICATION_VOIP) < 0) throw new Error(`opus: encoder init failed at ${sampleRate} Hz`);
    w.opus_encoder_ctl_set(state, SET_BITRATE, 24000);
    w.opus_encoder_ctl_set(state, SET_COMPLEXITY, 5);
    return {
      /** Exactly one frame of s16 samples. @param {Int16Array} pcm @returns {Uint8Array<ArrayBuffer>} */
      encode: (pcm) => {
        new Int16Array(this.heap, this.pcmPtr, pcm.length).set(pcm);
        const n = w.opus_encode(state, this.pcmPtr, pcm.length, this.packetPtr, MAX_PACKET_BYTES);
        if (n < 0) throw new Error(`opus: encode failed (${n})`);
        return new Uint8Array(this.heap, this.packetPtr, n).slice();
      },
      free: () => w.free(state),
    };
  }
}
