import { describe, expect, it } from "vitest";
import { Schema } from "../../src/storage/sql.ts";
import type { Clock } from "../../src/voice/clock.ts";
import { ChatHistory, HISTORY_MIGRATION } from "../../src/voice/history.ts";
import { Listener } from "../../src/voice/listener.ts";
import { downlinkFrameMs, FrameChunker, Pacer, PREBUFFER_FRAMES } from "../../src/voice/pacer.ts";
import type { Tts } from "../../src/voice/providers/tts.ts";
import { Reply, TTS_STOP_TAIL_MS } from "../../src/voice/reply.ts";
import { tone } from "../../src/voice/signal.ts";
import { opusFromPackage, sqliteSql } from "../support/memory-runtime.ts";

// The voice turn's parts on a clock the test moves: pacing, frame cutting, capture modes, the
// history store and a reply's message order, including what an abort leaves behind.

/** Sleeps advance the clock at once; the order of events is what is tested, not time. */
function fakeClock(start = 1000): Clock & { t: number } {
  const c = {
    t: start,
    now: () => c.t,
    async sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) return;
      if (ms > 0) c.t += ms;
      await Promise.resolve();
    },
  };
  return c;
}

describe("pacer", () => {
  it("waits a frame after tts start, pre-buffers 5 frames, then one per frame time on an absolute clock", async () => {
    const clock = fakeClock();
    const pacer = new Pacer(clock, 60, 1000);
    const signal = new AbortController().signal;
    const sentAt: number[] = [];
    for (let i = 0; i < 20; i++) {
      await pacer.ready(signal);
      sentAt.push(clock.t);
      pacer.sent();
      // Never more than the pre-buffer ahead of what the device has played.
      expect(pacer.playEnd - clock.t).toBeLessThanOrEqual(PREBUFFER_FRAMES * 60);
    }
    expect(sentAt.slice(0, 5)).toEqual([1060, 1060, 1060, 1060, 1060]);
    expect(sentAt.slice(5, 8)).toEqual([1120, 1180, 1240]);
    expect(sentAt[19]).toBe(1060 + 15 * 60);
    expect(pacer.playEnd).toBe(1060 + 20 * 60);
  });

  it("pre-buffers again after a gap (synthesis late: the device drained its queue)", async () => {
    const clock = fakeClock();
    const pacer = new Pacer(clock, 60, 1000);
    const signal = new AbortController().signal;
    for (let i = 0; i < 3; i++) {
      await pacer.ready(signal);
      pacer.sent();
    }
    clock.t += 2000;
    const at: number[] = [];
    for (let i = 0; i < 6; i++) {
      await pacer.ready(signal);
      at.push(clock.t);
      pacer.sent();
    }
    expect(at).toEqual([3060, 3060, 3060, 3060, 3060, 3120]);
  });

  it("reports an abort instead of waiting", async () => {
    const clock = fakeClock();
    const pacer = new Pacer(clock, 60, 1000);
    const ac = new AbortController();
    ac.abort();
    expect(await pacer.ready(ac.signal)).toBe(false);
  });

  it("cuts PCM into whole frames and pads only the last", () => {
    const c = new FrameChunker(4);
    expect(c.push(Int16Array.of(1, 2, 3)).length).toBe(0);
    expect(c.push(Int16Array.of(4, 5, 6, 7, 8, 9)).map((f) => [...f])).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect([...(c.flush() ?? [])]).toEqual([9, 0, 0, 0]);
    expect(c.flush()).toBeNull();
  });

  it("never sends frames longer than the device's frame duration", () => {
    expect([120, 60, 59, 40, 20, 10].map(downlinkFrameMs)).toEqual([60, 60, 40, 40, 20, 10]);
  });
});

describe("listener", () => {
  const lib = opusFromPackage();
  const packets = (pcm: Int16Array) => {
    const enc = lib.encoder(16000, { complexity: 0, bitrate: "auto" });
    const out: Uint8Array[] = [];
    for (let o = 0; o + 960 <= pcm.length; o += 960) out.push(enc.encode(pcm.subarray(o, o + 960)));
    enc.free();
    return out;
  };
  const speech = (ms: number, silenceMs: number) => {
    const pcm = new Int16Array(((ms + silenceMs + 300) * 16000) / 1000);
    pcm.set(tone(220, ms, 16000, 6000), 4800);
    return packets(pcm);
  };

  it("auto mode: the VAD ends the utterance after the silence, then stops capturing", () => {
    const l = new Listener(lib, { silenceMs: 700, fallbackMs: 5000 });
    l.start("auto");
    const events = speech(900, 1200).flatMap((p) => l.audio(p));
    expect(events.map((e) => e.type)).toEqual(["speech_start", "speech_pause", "utterance"]);
    const u = events.find((e) => e.type === "utterance");
    expect(u?.type === "utterance" && u.utterance.trigger).toBe("vad");
    // Recognition may start in the pause: the samples it gets are the utterance's, exactly.
    const pause = events.find((e) => e.type === "speech_pause");
    expect(pause?.type === "speech_pause" && u?.type === "utterance" && Buffer.from(pause.audio.buffer).equals(Buffer.from(u.utterance.audio.buffer))).toBe(
      true,
    );
    expect(l.listening).toBeNull();
  });

  it("auto mode: voice after a pause resumes the utterance, and its end is another pause", () => {
    const l = new Listener(lib, { silenceMs: 700, fallbackMs: 5000 });
    l.start("auto");
    // 900 ms of voice, a 500 ms pause (longer than the VAD's 300 ms tail, shorter than the 700 ms end), voice again.
    const pcm = new Int16Array(((300 + 900 + 500 + 900 + 1200) * 16000) / 1000);
    pcm.set(tone(220, 900, 16000, 6000), 4800);
    pcm.set(tone(220, 900, 16000, 6000), ((300 + 900 + 500) * 16000) / 1000);
    const events = packets(pcm).flatMap((p) => l.audio(p));
    expect(events.map((e) => e.type)).toEqual(["speech_start", "speech_pause", "speech_resume", "speech_pause", "utterance"]);
    const [first, second] = events.filter((e) => e.type === "speech_pause");
    const u = events.at(-1);
    expect(first?.type === "speech_pause" && u?.type === "utterance" && first.audio.length < u.utterance.audio.length).toBe(true);
    expect(second?.type === "speech_pause" && u?.type === "utterance" && second.audio.length === u.utterance.audio.length).toBe(true);
  });

  it("manual mode waits for listen stop; a button that never reports falls back to the VAD", () => {
    const l = new Listener(lib, { silenceMs: 700, fallbackMs: 5000 });
    l.start("manual");
    expect(speech(900, 1200).flatMap((p) => l.audio(p))).toEqual([{ type: "speech_start" }]);
    expect(l.stop("listen_stop")?.trigger).toBe("listen_stop");

    l.start("manual");
    const long = [...speech(900, 4000), ...speech(900, 1200)];
    const ends = long.flatMap((p) => l.audio(p)).filter((e) => e.type === "utterance");
    expect(ends.map((e) => e.type === "utterance" && e.utterance.trigger)).toEqual(["fallback"]);
  });

  it("realtime keeps capturing after an utterance; silence alone is no utterance", () => {
    const l = new Listener(lib, { silenceMs: 700, fallbackMs: 5000 });
    l.start("realtime");
    const twice = [...speech(900, 1200), ...speech(900, 1200)].flatMap((p) => l.audio(p)).filter((e) => e.type === "utterance");
    expect(twice).toHaveLength(2);
    expect(l.listening).toBe("realtime");
    l.start("manual");
    for (const p of speech(0, 1000)) l.audio(p);
    expect(l.stop("end_frame")).toBeNull();
    l.free();
  });
});

describe("chat history", () => {
  const history = () => {
    const sql = sqliteSql();
    return new ChatHistory(sql, new Schema(sql, [HISTORY_MIGRATION]));
  };

  it("keeps the last N exchanges, oldest first, and reads nothing before the first write", () => {
    const h = history();
    expect(h.recent(10)).toEqual([]);
    for (let i = 1; i <= 5; i++) h.append(`q${i}`, `a${i}`, i, 3);
    expect(h.all().map((m) => m.content)).toEqual(["q3", "a3", "q4", "a4", "q5", "a5"]);
    expect(h.recent(2).map((m) => m.content)).toEqual(["q4", "a4", "q5", "a5"]);
    expect(h.clear()).toBe(6);
    expect(h.all()).toEqual([]);
  });

  it("an interrupted reply with nothing heard keeps the question; a window never starts with an answer", () => {
    const h = history();
    h.append("q1", "a1", 1, 10);
    h.append("q2", "", 2, 10);
    h.append("q3", "a3", 3, 10);
    expect(h.all().map((m) => m.content)).toEqual(["q1", "a1", "q2", "q3", "a3"]);
    expect(h.recent(2).map((m) => m.role)).toEqual(["user", "user", "assistant"]);
    h.append("q4", "a4", 4, 0);
    expect(h.all()).toHaveLength(5);
  });
});

describe("reply", () => {
  /** A TTS that answers 150 ms of a tone per sentence, in two chunks. */
  const tts: Tts = {
    async *synthesize(req) {
      const pcm = tone(300, 150, req.sampleRate, 5000);
      yield pcm.subarray(0, 1000);
      yield pcm.subarray(1000);
    },
  };
  const reply = (opts: { tts?: Tts | null; signal?: AbortSignal; onFrame?: () => void } = {}) => {
    const clock = fakeClock();
    const out: Array<string> = [];
    const r = new Reply({
      clock,
      signal: opts.signal ?? new AbortController().signal,
      sessionId: "s",
      send: (m) => out.push(`${(m as { type: string }).type}${"state" in m ? ` ${(m as { state: string }).state}` : ""}`),
      frame: () => {
        out.push("frame");
        opts.onFrame?.();
      },
      tts: opts.tts === undefined ? tts : opts.tts,
      sampleRate: 24000,
      frameMs: 60,
      ttsTimeoutMs: 1000,
      ttsFailed: () => out.push("alert"),
    });
    return { r, out, clock };
  };

  it("tts start, emotion, then per sentence its start and frames, then tts stop after the play time", async () => {
    const { r, out, clock } = reply();
    r.add("One.");
    r.add("Two.");
    await r.finish();
    expect(out).toEqual(["tts start", "llm", "tts sentence_start", "frame", "frame", "frame", "tts sentence_start", "frame", "frame", "frame", "tts stop"]);
    expect(r.spoken).toEqual(["One.", "Two."]);
    expect(r.stats.frames).toBe(6);
    expect(clock.t).toBeGreaterThanOrEqual(1000 + 60 + 6 * 60 + TTS_STOP_TAIL_MS);
  });

  it("after an abort nothing more is sent, and only whole sentences count as spoken", async () => {
    const ac = new AbortController();
    let frames = 0;
    const { r, out } = reply({ signal: ac.signal, onFrame: () => ++frames === 4 && ac.abort() });
    r.add("One.");
    r.add("Two.");
    await r.finish();
    expect(out).toEqual(["tts start", "llm", "tts sentence_start", "frame", "frame", "frame", "tts sentence_start", "frame"]);
    expect(r.spoken).toEqual(["One."]);
  });

  it("without TTS the sentences are shown as text, without frames", async () => {
    const { r, out } = reply({ tts: null });
    r.add("Shown.");
    await r.finish();
    expect(out).toEqual(["tts start", "llm", "tts sentence_start", "tts stop"]);
    expect(r.spoken).toEqual(["Shown."]);
  });

  it("a TTS failure mid-reply: told once, the rest shown as text", async () => {
    let n = 0;
    const flaky: Tts = {
      async *synthesize(req) {
        if (++n > 1) throw new Error("down");
        yield tone(300, 60, req.sampleRate, 5000);
      },
    };
    const { r, out } = reply({ tts: flaky });
    r.add("One.");
    r.add("Two.");
    r.add("Three.");
    await r.finish();
    expect(out).toEqual(["tts start", "llm", "tts sentence_start", "frame", "alert", "tts sentence_start", "tts sentence_start", "tts stop"]);
  });
});
