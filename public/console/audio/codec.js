import { loadOpusWasm } from "./opus-wasm.js";

// Opus for the playground: WebCodecs AudioEncoder/AudioDecoder where the browser has them for
// Opus, else libopus in wasm. Both sides speak what a badge speaks: 16 kHz mono 60 ms packets up,
// raw Opus packets at the server hello's sample rate down (PROTOCOL §4, binary protocol v1).

export const UPLINK_RATE = 16000;
export const FRAME_MS = 60;
export const FRAME_SAMPLES = (UPLINK_RATE * FRAME_MS) / 1000;

/** @typedef {"auto" | "webcodecs" | "wasm"} CodecChoice */

/** @param {number} sampleRate */
const encoderConfig = (sampleRate) => ({
  codec: "opus",
  sampleRate,
  numberOfChannels: 1,
  bitrate: 24000,
  opus: { frameDuration: FRAME_MS * 1000, complexity: 5 },
});

/** Whether WebCodecs can encode and decode Opus here. @param {number} downlinkRate */
export async function webCodecsOpus(downlinkRate) {
  if (typeof AudioEncoder === "undefined" || typeof AudioDecoder === "undefined") return false;
  try {
    const enc = await AudioEncoder.isConfigSupported(encoderConfig(UPLINK_RATE));
    const dec = await AudioDecoder.isConfigSupported({ codec: "opus", sampleRate: downlinkRate, numberOfChannels: 1 });
    return Boolean(enc.supported && dec.supported);
  } catch {
    return false;
  }
}

/** @param {CodecChoice} choice @param {number} downlinkRate @returns {Promise<"webcodecs" | "wasm">} */
export async function resolveCodec(choice, downlinkRate) {
  if (choice === "wasm") return "wasm";
  const ok = await webCodecsOpus(downlinkRate);
  if (choice === "webcodecs" && !ok) throw new Error("this browser has no WebCodecs Opus; choose libopus (wasm)");
  return ok ? "webcodecs" : "wasm";
}

/**
 * An uplink encoder: feed 60 ms frames of float samples at 16 kHz, get Opus packets.
 * @param {"webcodecs" | "wasm"} kind
 * @param {(packet: Uint8Array<ArrayBuffer>) => void} onPacket
 */
export async function createEncoder(kind, onPacket) {
  if (kind === "webcodecs") {
    let timestamp = 0;
    const enc = new AudioEncoder({
      output: (chunk) => {
        const bytes = new Uint8Array(chunk.byteLength);
        chunk.copyTo(bytes);
        onPacket(bytes);
      },
      error: (e) => console.warn("AudioEncoder:", e.message),
    });
    enc.configure(encoderConfig(UPLINK_RATE));
    return {
      kind,
      /** @param {Float32Array<ArrayBuffer>} frame */
      encode(frame) {
        if (enc.state !== "configured") return;
        const data = new AudioData({ format: "f32", sampleRate: UPLINK_RATE, numberOfFrames: frame.length, numberOfChannels: 1, timestamp, data: frame });
        timestamp += (frame.length * 1e6) / UPLINK_RATE;
        enc.encode(data);
        data.close();
      },
      /** Emits what the encoder still holds (before `listen stop`). */
      flush: () => (enc.state === "configured" ? enc.flush() : Promise.resolve()),
      close: () => enc.state !== "closed" && enc.close(),
    };
  }
  const opus = await loadOpusWasm();
  const enc = opus.encoder(UPLINK_RATE);
  return {
    kind,
    /** @param {Float32Array<ArrayBuffer>} frame */
    encode(frame) {
      const pcm = new Int16Array(frame.length);
      for (let i = 0; i < frame.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round((frame[i] ?? 0) * 32767)));
      onPacket(enc.encode(pcm));
    },
    flush: () => Promise.resolve(),
    close: () => enc.free(),
  };
}

/**
 * A downlink decoder at the hello's sample rate.
 * @param {"webcodecs" | "wasm"} kind
 * @param {number} sampleRate
 * @param {(pcm: Float32Array<ArrayBuffer>, sampleRate: number) => void} onPcm
 */
export async function createDecoder(kind, sampleRate, onPcm) {
  if (kind === "webcodecs") {
    let timestamp = 0;
    /** @type {AudioDecoder | undefined} */
    let dec;
    // A decoder that hit an error is closed for good: a fresh one takes the next packet.
    const open = () => {
      const d = new AudioDecoder({
        output: (data) => {
          const pcm = new Float32Array(data.numberOfFrames);
          data.copyTo(pcm, { planeIndex: 0, format: "f32-planar" });
          onPcm(pcm, data.sampleRate);
          data.close();
        },
        error: (e) => console.warn("AudioDecoder:", e.message),
      });
      d.configure({ codec: "opus", sampleRate, numberOfChannels: 1 });
      return d;
    };
    return {
      kind,
      /** @param {Uint8Array} packet */
      decode(packet) {
        if (packet.byteLength === 0) return;
        if (!dec || dec.state === "closed") dec = open();
        dec.decode(new EncodedAudioChunk({ type: "key", timestamp, data: packet }));
        timestamp += FRAME_MS * 1000;
      },
      close: () => dec && dec.state !== "closed" && dec.close(),
    };
  }
  const opus = await loadOpusWasm();
  const dec = opus.decoder(sampleRate);
  return {
    kind,
    /** @param {Uint8Array} packet */
    decode(packet) {
      const s16 = dec.decode(packet);
      if (!s16.length) return;
      const pcm = new Float32Array(s16.length);
      for (let i = 0; i < s16.length; i++) pcm[i] = (s16[i] ?? 0) / 32768;
      onPcm(pcm, sampleRate);
    },
    close: () => dec.free(),
  };
}
