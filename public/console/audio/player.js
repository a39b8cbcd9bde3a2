// Plays the reply's decoded frames back to back. Each frame is scheduled right after the previous
// one on the audio clock (never on timers), with a small lead so network jitter does not click.

const LEAD_S = 0.08;

export class Player {
  constructor() {
    /** @type {AudioContext | undefined} */
    this.ctx = undefined;
    this.next = 0;
    /** @type {Set<AudioBufferSourceNode>} */
    this.sources = new Set();
  }

  /** Creates (or wakes) the output; call it from a click so autoplay rules let it sound. */
  ensure() {
    this.ctx ??= new AudioContext();
    if (this.ctx.state === "suspended") void this.ctx.resume();
    return this.ctx;
  }

  /** @param {Float32Array<ArrayBuffer>} pcm @param {number} sampleRate */
  play(pcm, sampleRate) {
    const ctx = this.ensure();
    const buf = ctx.createBuffer(1, pcm.length, sampleRate);
    buf.copyToChannel(pcm, 0);
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(ctx.destination);
    const at = Math.max(ctx.currentTime + LEAD_S, this.next);
    src.start(at);
    this.next = at + buf.duration;
    this.sources.add(src);
    src.onended = () => this.sources.delete(src);
  }

  /** Silences what is queued (barge-in: nothing of the old reply may play on). */
  stop() {
    for (const s of this.sources) s.stop();
    this.sources.clear();
    this.next = 0;
  }

  close() {
    this.stop();
    void this.ctx?.close();
    this.ctx = undefined;
  }
}
