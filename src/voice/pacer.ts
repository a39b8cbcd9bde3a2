import type { Clock } from "./clock.ts";

// Downlink pacing (PROTOCOL §4, VOICE.md §5): the firmware queues at most 40 packets and drops the
// rest, so frames go out in real time. The pacer tracks the playhead (when the device will have
// played everything sent) and lets a frame out once fewer than PREBUFFER_FRAMES are queued ahead
// of it. Deadlines come from the playhead, which advances by exact frame times: an absolute clock,
// never chained sleeps that drift. After a gap (synthesis late) the device has drained its queue,
// so the next frames are pre-buffered again.

export const PREBUFFER_FRAMES = 5;

export class Pacer {
  private playhead: number;
  private readonly clock: Clock;
  private readonly frameMs: number;
  /** No frame before this: the firmware needs a frame time after `tts start` to start speaking. */
  private readonly earliest: number;

  constructor(clock: Clock, frameMs: number, ttsStartAt: number) {
    this.clock = clock;
    this.frameMs = frameMs;
    this.earliest = ttsStartAt + frameMs;
    this.playhead = this.earliest;
  }

  /** Waits until the next frame may go out; false when `signal` aborted meanwhile. */
  async ready(signal: AbortSignal): Promise<boolean> {
    const at = Math.max(this.earliest, this.playhead - (PREBUFFER_FRAMES - 1) * this.frameMs);
    const wait = at - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait, signal);
    return !signal.aborted;
  }

  /** Records a frame sent now. */
  sent(): void {
    this.playhead = Math.max(this.playhead, this.clock.now()) + this.frameMs;
  }

  /** When the device will have played every frame sent so far. */
  get playEnd(): number {
    return this.playhead;
  }
}

/** Cuts PCM into frames of exactly `size` samples; the last one is padded with silence. */
export class FrameChunker {
  private buf: Int16Array;
  private fill = 0;

  constructor(size: number) {
    this.buf = new Int16Array(size);
  }

  push(pcm: Int16Array): Int16Array[] {
    const out: Int16Array[] = [];
    let o = 0;
    while (o < pcm.length) {
      const n = Math.min(pcm.length - o, this.buf.length - this.fill);
      this.buf.set(pcm.subarray(o, o + n), this.fill);
      this.fill += n;
      o += n;
      if (this.fill === this.buf.length) {
        out.push(this.buf);
        this.buf = new Int16Array(this.buf.length);
        this.fill = 0;
      }
    }
    return out;
  }

  /** The rest, padded to a whole frame; null when nothing is left. */
  flush(): Int16Array | null {
    if (this.fill === 0) return null;
    const last = this.buf; // the tail is already zeros
    this.buf = new Int16Array(this.buf.length);
    this.fill = 0;
    return last;
  }
}

const OPUS_FRAME_MS = [60, 40, 20, 10] as const;

/** The longest Opus frame no longer than the device's frame duration (it drops longer packets). */
export function downlinkFrameMs(helloFrameMs: number): number {
  return OPUS_FRAME_MS.find((ms) => ms <= helloFrameMs) ?? 10;
}
