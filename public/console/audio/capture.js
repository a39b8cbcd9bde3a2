import { UPLINK_RATE } from "./codec.js";

// The microphone as a badge hears it: a 16 kHz audio context (the browser resamples), an audio
// worklet cutting 60 ms frames. Opened once per playground connection and kept while connected,
// so a press starts sending at once; only frames between start() and stop() leave the page.

/** @param {(frame: Float32Array<ArrayBuffer>) => void} onFrame */
export async function openMicrophone(onFrame) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const ctx = new AudioContext({ sampleRate: UPLINK_RATE });
  try {
    await ctx.audioWorklet.addModule("/console/audio/capture-worklet.js");
  } catch (err) {
    for (const t of stream.getTracks()) t.stop();
    await ctx.close();
    throw err;
  }
  const source = ctx.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(ctx, "pcm-capture", { numberOfInputs: 1, numberOfOutputs: 0 });
  /** @type {(() => void) | undefined} */
  let drained;
  node.port.onmessage = (e) => {
    // The worklet transfers each frame's own ArrayBuffer (never a shared one).
    if (e.data instanceof Float32Array) onFrame(/** @type {Float32Array<ArrayBuffer>} */ (e.data));
    else if (e.data?.done) drained?.();
  };
  source.connect(node);
  await ctx.resume();
  const label = stream.getAudioTracks()[0]?.label ?? "microphone";
  return {
    label,
    start() {
      node.port.postMessage({ recording: true });
    },
    /** Resolves once the last (partial) frame has been handed over. */
    stop() {
      return new Promise((resolve) => {
        drained = () => resolve(undefined);
        node.port.postMessage({ recording: false, done: true });
      });
    },
    close() {
      for (const t of stream.getTracks()) t.stop();
      void ctx.close();
    },
  };
}
