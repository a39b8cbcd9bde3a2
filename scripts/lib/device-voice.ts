import { readFileSync } from "node:fs";
import type WebSocket from "ws";
import type { BinaryVersion } from "../../src/protocol/binary.ts";
import type { OpusLib } from "../../src/voice/opus.ts";
import { nodeOpus, utteranceFromFile } from "./device-audio.ts";
import type { DeviceClient, Json } from "./device-client.ts";
import { formatReply, type Reply, ReplyRecorder, ReplySaver } from "./device-reply.ts";
import { type TalkMode, type TalkResult, talk } from "./device-talk.ts";
import { formatIncoming, type SaveTarget } from "./sim-commands.ts";

// The simulator's voice: speaks files, hears replies (decoded at the hello's rate), prints a line
// per message and a summary per reply, saves replies as WAV. scripts/device.ts wires it to the CLI
// options and the interactive commands.

export interface VoiceOptions {
  version: BinaryVersion;
  /** Every reply is saved here as a WAV. */
  saveDir?: string | null;
  /** Prints one line. */
  say: (line: string) => void;
}

export interface SpeakOptions {
  mode: TalkMode;
  fast?: boolean;
}

/** How long after an alert a reply may still begin (the text-only reply after a TTS alert). */
const ALERT_GRACE_MS = 3000;

export class DeviceVoice {
  readonly recorder: ReplyRecorder;
  readonly saver: ReplySaver;
  private readonly client: DeviceClient;
  private readonly lib: OpusLib;
  private readonly opts: VoiceOptions;

  constructor(client: DeviceClient, opts: VoiceOptions) {
    this.client = client;
    this.opts = opts;
    this.lib = nodeOpus();
    const audio = (client.hello?.audio_params ?? {}) as Json;
    this.recorder = new ReplyRecorder({
      lib: this.lib,
      // What the firmware does: decode every frame at the server hello's rate (24 kHz by default).
      sampleRate: typeof audio.sample_rate === "number" ? audio.sample_rate : 24000,
      version: opts.version,
    });
    this.saver = new ReplySaver(opts.saveDir ?? null);
    this.recorder.onReply = (reply) => this.replyEnded(reply);
  }

  /**
   * Prints an incoming frame as one `< ...` line, except a reply's audio frames: those are decoded
   * and summed up in one line when the reply ends, after its `tts stop`.
   */
  handle(data: WebSocket.RawData, isBinary: boolean): void {
    if (!isBinary) this.opts.say(formatIncoming(data as Buffer, false));
    const got = this.recorder.handle(data, isBinary);
    if (got.kind === "binary" && !got.inReply) this.opts.say(`< [binary ${got.bytes} bytes]`);
  }

  /** Streams a WAV or Ogg Opus file as the device's microphone would. */
  async speak(path: string, opts: SpeakOptions): Promise<TalkResult> {
    const utt = utteranceFromFile(readFileSync(path), this.lib);
    const how = utt.source === "ogg" ? "Opus packets as in the file" : `re-encoded from ${utt.source === "wav" ? "WAV" : "Ogg"}`;
    this.opts.say(`* speaking ${path}: ${utt.packets.length} packets, ${utt.durationMs} ms (${how}), ${opts.mode} mode${opts.fast ? ", fast" : ""}`);
    const result = await talk(this.client, utt, this.lib, { mode: opts.mode, version: this.opts.version, fast: opts.fast ?? false });
    const silence = result.silencePackets ? ` + ${result.silencePackets} of silence` : "";
    const end = opts.mode === "manual" ? ", then listen stop" : result.heard ? `, until the server's ${String(result.heard.type)}` : ", no stt yet";
    this.opts.say(`* sent ${result.packets} packets${silence}${end}`);
    return result;
  }

  /**
   * One turn and its reply, then done: the exit code of a one-shot run, 0 once a reply ended with
   * its `tts stop` and no alert came; 1 otherwise (alert, closed socket, `timeoutMs` without a reply).
   */
  async oneShot(path: string, opts: SpeakOptions & { timeoutMs: number }): Promise<number> {
    const { recorder } = this;
    const from = recorder.log.length;
    const before = recorder.replies.length;
    const alerted = () => recorder.log.includes("alert", from);
    try {
      await this.speak(path, opts);
    } catch (err) {
      this.opts.say(`! ${(err as Error).message}`);
      return 1;
    }
    const deadline = performance.now() + opts.timeoutMs;
    let alertAt: number | null = null;
    while (performance.now() < deadline) {
      if (recorder.replies.length > before) return alerted() ? 1 : 0;
      if (!this.client.isOpen) {
        this.opts.say("! the socket closed before the reply ended");
        return 1;
      }
      // Without TTS the alert comes just before a reply shown as text; after an ASR failure none comes.
      if (alerted() && !recorder.playing) {
        alertAt ??= performance.now();
        if (performance.now() - alertAt > ALERT_GRACE_MS) return 1;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.opts.say(`! no complete reply (tts start … tts stop) within ${opts.timeoutMs} ms`);
    return 1;
  }

  /** `save <file.wav>`: the next reply there; `save <dir>`: every reply there; `save off`. */
  save(target: SaveTarget): void {
    if (target.kind === "file") {
      this.saver.nextTo(target.path);
      this.opts.say(`* the next reply goes to ${target.path}`);
    } else if (target.kind === "dir") {
      this.saver.everyTo(target.path);
      this.opts.say(`* every reply goes to ${target.path}/`);
    } else {
      this.saver.everyTo(null);
      this.opts.say("* replies are not saved");
    }
  }

  /** Resolves once no reply is playing, or after `maxMs`. */
  async quiet(maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    while (this.recorder.playing && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  close(): void {
    this.recorder.close();
  }

  private replyEnded(reply: Reply): void {
    let saved: string | null = null;
    try {
      saved = this.saver.save(reply);
    } catch (err) {
      this.opts.say(`! could not save the reply: ${(err as Error).message}`);
    }
    this.opts.say(formatReply(reply, saved));
  }
}
