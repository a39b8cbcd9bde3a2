// Runs on the audio thread: gathers the microphone's samples (the context runs at 16 kHz, so the
// browser resamples) into 60 ms frames of 960 and hands each to the page. Frames flow only while
// the page says it is recording, so an open microphone sends nothing between presses.

const FRAME = 960;

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.recording = false;
    this.frame = new Float32Array(FRAME);
    this.filled = 0;
    this.port.onmessage = (e) => {
      this.recording = Boolean(e.data?.recording);
      if (!this.recording && this.filled > 0) {
        // The last partial frame, padded with silence: the end of what was said is not cut.
        this.frame.fill(0, this.filled);
        this.emit();
      }
      if (e.data?.done) this.port.postMessage({ done: true });
    };
  }

  emit() {
    this.port.postMessage(this.frame, [this.frame.buffer]);
    this.frame = new Float32Array(FRAME);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0]?.[0];
    if (!this.recording || !input) return true;
    let i = 0;
    while (i < input.length) {
      const n = Math.min(input.length - i, FRAME - this.filled);
      this.frame.set(input.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === FRAME) this.emit();
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
