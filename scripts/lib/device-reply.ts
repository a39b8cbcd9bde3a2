import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type WebSocket from "ws";
import { parseFrame, type BinaryVersion } from "../../src/protocol/binary.ts";
import type { OpusDecoder, OpusLib } from "../../src/voice/opus.ts";
import { concatPcm, pcmMs } from "../../src/voice/pcm.ts";
import { encodeWav } from "../../src/voice/wav.ts";
import type { Json } from "./device-client.ts";

// What a device hears: the server's replies (tts start … tts stop) with their frames decoded at the
// hello's rate, as the firmware decodes them, so a reply can be measured, checked and saved to a WAV.

export interface Reply {
  /** 1, 2, … in arrival order on this socket. */
  index: number;
  /** The `stt` text that came before this reply, if any. */
  stt: string | null;
  emotion: string | null;
  sentences: string[];
  /** Everything from `tts start` to `tts stop` in arrival order: "tts start", "llm", "tts sentence_start", "frame", … */
  sequence: string[];
  /** Samples each frame decoded to: the hello's frame length (1440 at 24 kHz and 60 ms) when all is well. */
  frameSamples: number[];
  /** Frames that did not parse for the socket's binary version or decoded to nothing. */
  badFrames: number;
  pcm: Int16Array;
  sampleRate: number;
  audioMs: number;
  /** From `tts start` to the first frame, on the recorder's clock; null without frames. */
  firstFrameMs: number | null;
}

export interface RecorderOptions {
  lib: OpusLib;
  /** The server hello's `audio_params.sample_rate`: the firmware decodes every frame at this rate. */
  sampleRate: number;
  version: BinaryVersion;
  now?: () => number;
}

/** One line of the log for a message: `tts` messages by their state, others by type. */
export function messageLabel(msg: Json): string {
  return msg.type === "tts" ? `tts ${String(msg.state)}` : String(msg.type);
}

interface Building {
  reply: Reply;
  chunks: Int16Array[];
  decoder: OpusDecoder;
  startedAt: number;
}

type Waiter = { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class ReplyRecorder {
  /** Every message and frame of the socket, in order (labels as in Reply.sequence). */
  readonly log: string[] = [];
  readonly replies: Reply[] = [];
  /** Frames that arrived outside a reply (the firmware drops those). */
  strayFrames = 0;
  /** Called with each reply once its `tts stop` arrived. */
  onReply: ((reply: Reply) => void) | undefined;
  private readonly opts: RecorderOptions;
  private readonly now: () => number;
  private current: Building | null = null;
  private lastStt: string | null = null;
  private waiters: Waiter[] = [];

  constructor(opts: RecorderOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Whether a reply is playing (between `tts start` and `tts stop`). */
  get playing(): boolean {
    return this.current !== null;
  }

  /** Listens to a socket; returns the function that stops listening. */
  attach(ws: WebSocket): () => void {
    const listener = (data: WebSocket.RawData, isBinary: boolean) => this.handle(data, isBinary);
    ws.on("message", listener);
    return () => ws.off("message", listener);
  }

  /** Takes one incoming frame; for binary ones, whether it belonged to a reply. */
  handle(data: WebSocket.RawData, isBinary: boolean): { kind: "text"; msg: Json } | { kind: "binary"; inReply: boolean; bytes: number } {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) return { kind: "binary", inReply: this.frame(buf), bytes: buf.byteLength };
    let msg: Json;
    try {
      msg = JSON.parse(buf.toString("utf8")) as Json;
    } catch {
      msg = { type: "__unparsable__" };
    }
    this.message(msg);
    return { kind: "text", msg };
  }

  message(msg: Json): void {
    const label = messageLabel(msg);
    this.log.push(label);
    if (msg.type === "stt") this.lastStt = typeof msg.text === "string" ? msg.text : null;
    if (label === "tts start") {
      if (this.current) this.finish(); // a new reply without the old one's stop: keep what came
      this.begin();
    }
    const cur = this.current;
    if (!cur) return;
    cur.reply.sequence.push(label);
    if (msg.type === "llm" && typeof msg.emotion === "string") cur.reply.emotion = msg.emotion;
    if (label === "tts sentence_start" && typeof msg.text === "string") cur.reply.sentences.push(msg.text);
    if (label === "tts stop") this.finish();
  }

  /** A binary frame in the socket's version; true when it belonged to a reply. */
  frame(data: Uint8Array): boolean {
    this.log.push("frame");
    const cur = this.current;
    if (!cur) {
      this.strayFrames++;
      return false;
    }
    cur.reply.sequence.push("frame");
    cur.reply.firstFrameMs ??= this.now() - cur.startedAt;
    const parsed = parseFrame(this.opts.version, data);
    const pcm = parsed.ok && parsed.kind === "audio" ? cur.decoder.decode(parsed.payload) : new Int16Array(0);
    if (pcm.length === 0) cur.reply.badFrames++;
    cur.reply.frameSamples.push(pcm.length);
    cur.chunks.push(pcm);
    return true;
  }

  /** The next reply to end after this call; rejects after `timeoutMs`. */
  nextReply(timeoutMs = 30_000): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no complete reply (tts start … tts stop) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
  }

  /** Ends a reply cut short (the socket closed) and frees the decoder. */
  close(): void {
    if (this.current) this.finish();
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error("recorder closed while waiting for a reply"));
    }
  }

  private begin(): void {
    const { sampleRate } = this.opts;
    const reply: Reply = {
      index: this.replies.length + 1,
      stt: this.lastStt,
      emotion: null,
      sentences: [],
      sequence: [],
      frameSamples: [],
      badFrames: 0,
      pcm: new Int16Array(0),
      sampleRate,
      audioMs: 0,
      firstFrameMs: null,
    };
    this.lastStt = null;
    // A decoder per reply, as the firmware starts each reply afresh after entering its speaking state.
    this.current = { reply, chunks: [], decoder: this.opts.lib.decoder(sampleRate), startedAt: this.now() };
  }

  private finish(): void {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    cur.decoder.free();
    const { reply } = cur;
    reply.pcm = concatPcm(cur.chunks);
    reply.audioMs = pcmMs(reply.pcm.length, reply.sampleRate);
    this.replies.push(reply);
    this.onReply?.(reply);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(reply);
    }
  }
}

/** The summary line the simulator prints after each reply. */
export function formatReply(reply: Reply, savedTo?: string | null): string {
  const frames = reply.frameSamples.length;
  const parts = [`* reply ${reply.index}: ${frames} frame${frames === 1 ? "" : "s"}, ${Math.round(reply.audioMs)} ms of audio`];
  if (reply.firstFrameMs !== null) parts.push(`first frame ${Math.round(reply.firstFrameMs)} ms after tts start`);
  if (reply.badFrames) parts.push(`${reply.badFrames} undecodable`);
  if (!frames && reply.sentences.length) parts.push(`${reply.sentences.length} sentence${reply.sentences.length === 1 ? "" : "s"} shown as text`);
  if (savedTo) parts.push(`saved to ${savedTo}`);
  return parts.join(", ");
}

/** Where replies go: every one into a directory, and/or the next one into a given file. */
export class ReplySaver {
  private dir: string | null;
  private nextPath: string | null = null;
  /** Names in a directory start with the simulator's start time, so runs do not overwrite each other. */
  private readonly stamp: string;

  constructor(dir: string | null = null, startedAt = new Date()) {
    this.dir = dir;
    this.stamp = startedAt.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  }

  everyTo(dir: string | null): void {
    this.dir = dir;
  }

  nextTo(path: string): void {
    this.nextPath = path;
  }

  /** The file this reply goes to, or null when saving is off. */
  pathFor(reply: Reply): string | null {
    if (this.nextPath) return this.nextPath;
    return this.dir ? join(this.dir, `reply-${this.stamp}-${reply.index}.wav`) : null;
  }

  /** Writes the reply's audio as a WAV at the hello's rate; the path, or null when not saved (or silent). */
  save(reply: Reply): string | null {
    const path = this.pathFor(reply);
    if (!path || reply.pcm.length === 0) return null;
    this.nextPath = null;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, encodeWav(reply.pcm, reply.sampleRate));
    return path;
  }
}
