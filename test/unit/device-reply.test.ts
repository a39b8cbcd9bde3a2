import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nodeOpus } from "../../scripts/lib/device-audio.ts";
import { formatReply, ReplyRecorder, ReplySaver } from "../../scripts/lib/device-reply.ts";
import { parseSimCommand } from "../../scripts/lib/sim-commands.ts";
import { encodeFrame } from "../../src/protocol/binary.ts";
import { snrDb, tone } from "../../src/voice/signal.ts";
import { parseWav } from "../../src/voice/wav.ts";

// What the simulator hears (scripts/lib/device-reply.ts): replies cut at tts start/stop, frames
// decoded at the hello's rate into one PCM per reply, saved as WAV; and its say/save commands.

const lib = nodeOpus();
const RATE = 24000;
const FRAME = 1440;
const dir = mkdtempSync(join(tmpdir(), "supie-reply-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A reply's downlink as the server encodes it: 60 ms Opus frames at 24 kHz. */
function downlink(pcm: Int16Array): Uint8Array[] {
  const enc = lib.encoder(RATE);
  const out: Uint8Array[] = [];
  for (let o = 0; o + FRAME <= pcm.length; o += FRAME) out.push(enc.encode(pcm.subarray(o, o + FRAME)));
  enc.free();
  return out;
}

function recorder(version: 1 | 2 | 3 = 1) {
  let t = 0;
  const rec = new ReplyRecorder({ lib, sampleRate: RATE, version, now: () => t });
  return { rec, at: (ms: number) => (t = ms) };
}

describe("the reply recorder", () => {
  it("cuts a reply at tts start and stop, decodes its frames at the hello's rate, in order", async () => {
    const { rec, at } = recorder(2);
    const signal = tone(200, 600, RATE, 8000);
    const packets = downlink(signal);
    const done = rec.nextReply(1000);
    rec.message({ type: "stt", text: "hi" });
    rec.message({ type: "tts", state: "start" });
    rec.message({ type: "llm", emotion: "happy", text: "🙂" });
    rec.message({ type: "tts", state: "sentence_start", text: "Hello." });
    at(80);
    for (const [i, p] of packets.entries()) expect(rec.frame(encodeFrame(2, p, i * 60))).toBe(true);
    rec.message({ type: "tts", state: "stop" });
    const reply = await done;
    expect(reply).toMatchObject({ index: 1, stt: "hi", emotion: "happy", sentences: ["Hello."], badFrames: 0, firstFrameMs: 80 });
    expect(reply.sequence).toEqual(["tts start", "llm", "tts sentence_start", ...packets.map(() => "frame"), "tts stop"]);
    expect(reply.frameSamples).toEqual(packets.map(() => FRAME));
    expect(reply.audioMs).toBe(600);
    expect(snrDb(signal, reply.pcm, 960)).toBeGreaterThan(15);
    expect(rec.log.slice(0, 2)).toEqual(["stt", "tts start"]);
    expect(rec.playing).toBe(false);
  });

  it("frames outside a reply are stray and kept out of every reply; bad frames are counted", () => {
    const { rec } = recorder(3);
    expect(rec.frame(encodeFrame(3, Uint8Array.of(0x18, 1, 2)))).toBe(false);
    rec.message({ type: "tts", state: "start" });
    rec.frame(Uint8Array.of(9, 9, 9)); // v3 header that disagrees with its length
    rec.message({ type: "tts", state: "stop" });
    rec.frame(encodeFrame(3, Uint8Array.of(0x18, 1, 2)));
    expect(rec.strayFrames).toBe(2);
    expect(rec.replies[0]).toMatchObject({ badFrames: 1, frameSamples: [0], firstFrameMs: 0 });
    expect(rec.log.slice(-2)).toEqual(["tts stop", "frame"]);
  });

  it("a reply shown as text (no TTS) has no audio", () => {
    const { rec } = recorder();
    rec.message({ type: "tts", state: "start" });
    rec.message({ type: "tts", state: "sentence_start", text: "Only text." });
    rec.message({ type: "tts", state: "stop" });
    const reply = rec.replies[0]!;
    expect(reply).toMatchObject({ audioMs: 0, firstFrameMs: null, sentences: ["Only text."] });
    expect(formatReply(reply)).toBe("* reply 1: 0 frames, 0 ms of audio, 1 sentence shown as text");
  });

  it("summarises a reply in one line", () => {
    const { rec, at } = recorder();
    rec.message({ type: "tts", state: "start" });
    at(64.4);
    for (const p of downlink(tone(200, 120, RATE))) rec.frame(p);
    rec.message({ type: "tts", state: "stop" });
    expect(formatReply(rec.replies[0]!, "/tmp/r.wav")).toBe("* reply 1: 2 frames, 120 ms of audio, first frame 64 ms after tts start, saved to /tmp/r.wav");
  });

  it("nextReply times out without a tts stop", async () => {
    const { rec } = recorder();
    rec.message({ type: "tts", state: "start" });
    await expect(rec.nextReply(20)).rejects.toThrow(/no complete reply/);
  });
});

describe("saving replies", () => {
  function replyOf(ms: number) {
    const { rec } = recorder();
    rec.message({ type: "tts", state: "start" });
    for (const p of downlink(tone(300, ms, RATE))) rec.frame(p);
    rec.message({ type: "tts", state: "stop" });
    return rec.replies[0]!;
  }

  it("writes a WAV at the hello's rate whose duration is the reply's", () => {
    const saver = new ReplySaver(join(dir, "every"), new Date("2026-12-02T09:16:24Z"));
    const path = saver.save(replyOf(540));
    expect(path).toBe(join(dir, "every", "reply-20261202-091624-1.wav"));
    const wav = parseWav(readFileSync(path!));
    expect(wav?.sampleRate).toBe(RATE);
    expect(((wav?.pcm.length ?? 0) * 1000) / RATE).toBe(540);
  });

  it("a file for the next reply wins over the directory once; silent replies are not saved", () => {
    const saver = new ReplySaver(join(dir, "d"));
    saver.nextTo(join(dir, "one.wav"));
    expect(saver.save(replyOf(0))).toBeNull();
    expect(saver.save(replyOf(120))).toBe(join(dir, "one.wav"));
    expect(saver.save(replyOf(120))).toMatch(/d\/reply-.*-1\.wav$/);
    saver.everyTo(null);
    expect(saver.save(replyOf(120))).toBeNull();
  });
});

describe("simulator commands for speech", () => {
  it("say with a sound file speaks it; with anything else it is typed", () => {
    expect(parseSimCommand("say test/fixtures/speech-zh.ogg")).toEqual({ kind: "speak", file: "test/fixtures/speech-zh.ogg", mode: "auto", fast: false });
    expect(parseSimCommand("say a.WAV manual fast")).toEqual({ kind: "speak", file: "a.WAV", mode: "manual", fast: true });
    expect(parseSimCommand("say a.wav loudly")).toMatchObject({ kind: "error" });
    expect(parseSimCommand("say what is the weather")).toEqual({
      kind: "json",
      msg: { type: "listen", state: "detect", text: "what is the weather" },
    });
  });

  it("save takes a WAV file, a directory or off", () => {
    expect(parseSimCommand("save /tmp/r.wav")).toEqual({ kind: "save", target: { kind: "file", path: "/tmp/r.wav" } });
    expect(parseSimCommand("save /tmp/replies")).toEqual({ kind: "save", target: { kind: "dir", path: "/tmp/replies" } });
    expect(parseSimCommand("save off")).toEqual({ kind: "save", target: { kind: "off" } });
    expect(parseSimCommand("save")).toMatchObject({ kind: "error" });
  });
});
