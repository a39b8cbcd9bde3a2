import opusModule from "@evan/opus/wasm/opus.wasm";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { synthesizeSpeech } from "../../scripts/lib/fake-openai/audio.ts";
import { demuxOggOpus } from "../../src/voice/ogg.ts";
import { loadOpus } from "../../src/voice/opus.ts";
import { concatPcm, rmsDb } from "../../src/voice/pcm.ts";
import { snrDb, tone } from "../../src/voice/signal.ts";
import { parseWav } from "../../src/voice/wav.ts";
import zhMeta from "../fixtures/speech-zh.json";
import { api, connectDevice, eventually, type Json, type TestSocket, uniqueId } from "./helpers.ts";
import { llm, voice } from "./services.ts";

// The voice pipeline in workerd against the fake OpenAI-compatible server: real Opus both ways,
// the energy VAD on decoded audio, streamed LLM sentences, paced frames, barge-in and history.

const lib = loadOpus(opusModule);
const DOWN_RATE = 24000;
const FRAME = 1440; // 60 ms at 24 kHz

/** Uplink as the firmware sends it: 16 kHz, 60 ms Opus packets; a tone stands in for a voice. */
function utterancePackets(speechMs: number, silenceAfterMs: number): Uint8Array[] {
  const enc = lib.encoder(16000, { complexity: 0, bitrate: "auto", dtx: true });
  const pcm = new Int16Array(((300 + speechMs + silenceAfterMs) * 16000) / 1000);
  pcm.set(tone(220, speechMs, 16000, 6000), (300 * 16000) / 1000);
  const out: Uint8Array[] = [];
  for (let o = 0; o + 960 <= pcm.length; o += 960) out.push(enc.encode(pcm.subarray(o, o + 960)));
  enc.free();
  return out;
}

function sendAudio(sock: TestSocket, packets: Uint8Array[]): void {
  for (const p of packets) sock.ws.send(p);
}

const TIMING = { msPerLatin: 15, msPerCjk: 60, minMs: 300 };

function fixture(name: "speechZh" | "speechEn") {
  return demuxOggOpus(Uint8Array.from(atob(inject(name)), (c) => c.charCodeAt(0)));
}

const isStop = (m: Json) => m.type === "tts" && m.state === "stop";

/** The turn's messages in arrival order, frames as "frame". */
function sequence(sock: TestSocket): Array<string> {
  return sock.log
    .filter((m) => m instanceof Uint8Array || m.type !== "mcp") // MCP setup runs beside the turn (§13)
    .map((m) => (m instanceof Uint8Array ? "frame" : m.type === "tts" ? `tts ${m.state}` : String(m.type)));
}

function decodeFrames(sock: TestSocket): Int16Array[] {
  const dec = lib.decoder(DOWN_RATE);
  const out = sock.log.filter((m): m is Uint8Array => m instanceof Uint8Array).map((p) => dec.decode(p));
  dec.free();
  return out;
}

async function history(id: string): Promise<Json[]> {
  return ((await (await api(`/devices/${encodeURIComponent(id)}/history`)).json()) as Json).items;
}

beforeEach(async () => {
  await llm.reset();
  // Short speech keeps the paced replies short: ~300 ms per sentence.
  await voice.tts(TIMING);
});

afterEach(() => vi.restoreAllMocks());

describe("typed chat (listen detect)", () => {
  it("answers with stt, tts start, emotion, sentences with paced Opus frames, tts stop", async () => {
    await llm.answer("Sunny and warm today. Take a hat!");
    const id = uniqueId();
    const { sock, hello } = await connectDevice(id);
    sock.log.length = 0;
    sock.send({ type: "listen", state: "detect", text: "what is the weather" });
    await sock.next(isStop, 15_000);

    const seq = sequence(sock).filter((s, i, a) => s !== "frame" || a[i - 1] !== "frame");
    expect(seq).toEqual(["stt", "tts start", "llm", "tts sentence_start", "frame", "tts sentence_start", "frame", "tts stop"]);
    const json = sock.log.filter((m): m is Json => !(m instanceof Uint8Array) && m.type !== "mcp");
    expect(json[0]).toEqual({ type: "stt", text: "what is the weather", session_id: hello.session_id });
    expect(json.every((m) => m.session_id === hello.session_id)).toBe(true);
    expect(json.filter((m) => m.state === "sentence_start").map((m) => m.text)).toEqual(["Sunny and warm today.", "Take a hat!"]);
    expect(json[2]).toMatchObject({ type: "llm", emotion: expect.any(String), text: expect.any(String) });

    // Every downlink packet decodes at the hello's rate to exactly one 60 ms frame, and carries sound.
    const frames = decodeFrames(sock);
    expect(frames.length).toBeGreaterThanOrEqual(8);
    expect(frames.map((f) => f.length).filter((n) => n !== FRAME)).toEqual([]);
    expect(Math.max(...frames.map((f) => rmsDb(f)))).toBeGreaterThan(-30);

    const items = await history(id);
    expect(items.map((m) => [m.role, m.text])).toEqual([
      ["user", "what is the weather"],
      ["assistant", "Sunny and warm today. Take a hat!"],
    ]);
    sock.close();
  });

  it("sends the history with the next turn, and DELETE clears it", async () => {
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    await llm.answer("Paris.");
    sock.send({ type: "listen", state: "detect", text: "capital of France?" });
    await sock.next(isStop, 15_000);
    await llm.answer("About two million.");
    sock.send({ type: "listen", state: "detect", text: "how many people live there?" });
    await sock.next(isStop, 15_000);
    const { chats } = await voice.records();
    const last = chats.at(-1)!.messages.map((m: Json) => [m.role, m.content]);
    expect(last.slice(1)).toEqual([
      ["user", "capital of France?"],
      ["assistant", "Paris."],
      ["user", "how many people live there?"],
    ]);
    expect(last[0][0]).toBe("system");
    const del = await api(`/devices/${id}/history`, { method: "DELETE" });
    expect(await del.json()).toEqual({ deviceId: id, cleared: 4 });
    expect(await history(id)).toEqual([]);
    sock.close();
  });

  it("greets a wake word without calling the LLM", async () => {
    const { sock } = await connectDevice(uniqueId());
    const before = await llm.calls();
    sock.send({ type: "listen", state: "detect", text: "你好小智" });
    await sock.next(isStop, 15_000);
    expect(await sock.next((m) => m.state === "sentence_start")).toMatchObject({ text: "你好，我在。" });
    expect(await llm.calls()).toBe(before);
    expect(decodeFrames(sock).length).toBeGreaterThan(0);
    sock.close();
  });

  it("a listen start right after the typed utterance does not cancel the answer (the test page)", async () => {
    await llm.answer("Still here.");
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "detect", text: "are you there" });
    sock.send({ type: "listen", state: "start", mode: "auto" });
    expect(await sock.next((m) => m.state === "sentence_start", 15_000)).toMatchObject({ text: "Still here." });
    await sock.next(isStop, 15_000);
    sock.close();
  });
});

describe("the device's profile and the fleet figures", () => {
  it("uses the profile's prompt, model and voice from the next turn, and counts the turn in /api/stats", async () => {
    const id = uniqueId();
    const put = await api(`/devices/${id}/profile`, {
      method: "PUT",
      body: JSON.stringify({ prompt: "You are Zed, a pirate badge.", llmModel: "pirate-model", voice: "nova" }),
    });
    expect(put.status).toBe(200);
    await llm.answer("Arr.");
    const { sock } = await connectDevice(id);
    sock.send({ type: "listen", state: "detect", text: "who are you" });
    await sock.next(isStop, 15_000);
    const { chats, speeches } = await voice.records();
    const chatReq = chats.at(-1)!;
    expect(chatReq.model).toBe("pirate-model");
    expect(String(chatReq.messages[0].content)).toContain("You are Zed, a pirate badge.");
    expect(speeches.at(-1)!.voice).toBe("nova");
    const stats = await eventually(
      async () => (await (await api("/stats")).json()) as Json,
      (s) => s.voice?.turnsLastHour >= 1,
    );
    expect(stats.voice.firstFrameP50Ms).toBeGreaterThan(0);
    sock.close();
  });
});

/**
 * A device in auto mode says something and pauses 360 ms: past the VAD's 300 ms tail, short of the
 * 700 ms that ends the turn. Resolves once the early recognition request has reached the fake.
 */
async function speakThenPause(): Promise<{ sock: TestSocket; before: number; id: string }> {
  const id = uniqueId();
  const { sock } = await connectDevice(id);
  const before = (await voice.records()).transcriptions.length;
  sock.send({ type: "listen", state: "start", mode: "auto" });
  sendAudio(sock, utterancePackets(900, 360));
  const asked = await eventually(
    async () => (await voice.records()).transcriptions.length,
    (n) => n === before + 1,
  );
  expect(asked).toBe(before + 1);
  return { sock, before, id };
}

/** The `voice.turn` line the device's turn logs once it has finished (`info`: a spy on console.info). */
function voiceTurnLog(info: { mock: { calls: unknown[][] } }, id: string): Promise<Json> {
  return eventually(
    async () =>
      info.mock.calls
        .map((c) => String(c[0]))
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l))
        .find((l) => l.event === "voice.turn" && l.deviceId === id),
    (t) => t !== undefined,
  );
}

/** Waits until the fake LLM has had `n` requests in all. */
async function llmCallsReach(n: number): Promise<void> {
  expect(
    await eventually(
      () => llm.calls(),
      (c) => c === n,
    ),
  ).toBe(n);
}

describe("speech turns", () => {
  it("manual mode: listen stop ends the utterance; ASR gets a WAV of it; the answer is spoken", async () => {
    await voice.asr("turn on the light");
    await llm.answer("Done.");
    const { sock, hello } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "start", mode: "manual" });
    sendAudio(sock, utterancePackets(900, 300));
    await new Promise((r) => setTimeout(r, 350)); // past the listen debounce
    sock.send({ type: "listen", state: "stop" });
    expect(await sock.next((m) => m.type === "stt", 10_000)).toEqual({ type: "stt", text: "turn on the light", session_id: hello.session_id });
    await sock.next(isStop, 15_000);
    const { transcriptions } = await voice.records();
    const t = transcriptions.at(-1)!;
    expect(t.mimeType).toBe("audio/wav");
    expect(t.sampleRate).toBe(16000);
    expect(t.durationMs).toBeGreaterThan(800);
    sock.close();
  });

  it("auto mode: the server VAD ends the utterance after the silence", async () => {
    await voice.asr("what time is it");
    await llm.answer("Time for tea.");
    const log = vi.spyOn(console, "info");
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    sock.send({ type: "listen", state: "start", mode: "auto" });
    sendAudio(sock, utterancePackets(900, 1200));
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "what time is it" });
    await sock.next(isStop, 15_000);
    // The turn logs once it has finished, just after its tts stop.
    const turn = await voiceTurnLog(log, id);
    expect(turn).toMatchObject({
      trigger: "vad",
      interrupted: false,
      frames: expect.any(Number),
      asrMs: expect.any(Number),
      asrHeadStartMs: expect.any(Number),
    });
    expect(turn.frames).toBeGreaterThan(0);
    expect(turn.firstFrameMs).toBeGreaterThan(0);
    sock.close();
  });

  it("auto mode: recognition starts in the pause that may end the turn, and is not asked again at its end", async () => {
    await voice.asr("recognised early");
    await llm.answer("Right away.");
    const { sock, before } = await speakThenPause();
    expect(sock.received.filter((m) => m.type === "stt")).toEqual([]);
    sendAudio(sock, utterancePackets(0, 1000));
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "recognised early" });
    await sock.next(isStop, 15_000);
    expect((await voice.records()).transcriptions.length).toBe(before + 1);
    sock.close();
  });

  it("auto mode: voice after the pause drops the early recognition; the whole utterance is recognised", async () => {
    await voice.asr(["the first half", "the whole sentence"]);
    await llm.answer("Got it.");
    const { sock, before } = await speakThenPause();
    // 360 + 300 ms of silence between the two halves: one utterance still.
    sendAudio(sock, utterancePackets(900, 1200));
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "the whole sentence" });
    await sock.next(isStop, 15_000);
    const heard = (await voice.records()).transcriptions.slice(before);
    expect(heard).toHaveLength(2);
    expect(heard[1].durationMs).toBeGreaterThan(heard[0].durationMs + 1000);
    expect(sock.received.filter((m) => m.type === "stt")).toHaveLength(1);
    sock.close();
  });

  it("auto mode: the reply's first LLM round starts in the pause too, and the turn speaks it without asking again", async () => {
    await voice.asr("recognised early");
    await llm.answer("Right away.");
    const log = vi.spyOn(console, "info");
    const calls = await llm.calls();
    const { sock, id } = await speakThenPause();
    // The request went out in the pause, and nothing of it reached the device.
    await llmCallsReach(calls + 1);
    await sock.request({ type: "keepalive" }, "pong");
    expect(sequence(sock).filter((t) => t === "stt" || t.startsWith("tts") || t === "frame")).toEqual([]);
    sendAudio(sock, utterancePackets(0, 1000));
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "recognised early" });
    expect(await sock.next((m) => m.type === "tts" && m.state === "sentence_start", 10_000)).toMatchObject({ text: "Right away." });
    await sock.next(isStop, 15_000);
    expect(await llm.calls()).toBe(calls + 1);
    const turn = await voiceTurnLog(log, id);
    expect(turn.llmHeadStartMs).toBeGreaterThan(0);
    expect((await history(id)).map((m) => m.text)).toEqual(["recognised early", "Right away."]);
    sock.close();
  });

  it("auto mode: voice after the pause cancels the early reply; the LLM is asked about the whole utterance", async () => {
    await voice.asr(["the first half", "the whole sentence"]);
    await llm.answer("Got it.");
    const calls = await llm.calls();
    const { sock, id } = await speakThenPause();
    await llmCallsReach(calls + 1);
    sendAudio(sock, utterancePackets(900, 1200));
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "the whole sentence" });
    await sock.next(isStop, 15_000);
    expect(await llm.calls()).toBe(calls + 2);
    const asked = (await voice.records()).chats.slice(-2).map((c) => c.messages.at(-1).content);
    expect(asked).toEqual(["the first half", "the whole sentence"]);
    expect((await history(id)).map((m) => m.text)).toEqual(["the whole sentence", "Got it."]);
    sock.close();
  });

  it("a 0-byte frame ends the utterance", async () => {
    await voice.asr("end frame");
    await llm.answer("Ok.");
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "start", mode: "manual" });
    sendAudio(sock, utterancePackets(800, 120));
    sock.ws.send(new Uint8Array(0));
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "end frame" });
    await sock.next(isStop, 15_000);
    sock.close();
  });

  it("silence is not an utterance: nothing is sent to ASR", async () => {
    const { sock } = await connectDevice(uniqueId());
    const before = (await voice.records()).transcriptions.length;
    sock.send({ type: "listen", state: "start", mode: "auto" });
    sendAudio(sock, utterancePackets(0, 2000));
    sock.ws.send(new Uint8Array(0));
    await sock.request({ type: "keepalive" }, "pong");
    expect((await voice.records()).transcriptions.length).toBe(before);
    expect(sock.received.filter((m) => m.type === "stt")).toEqual([]);
    sock.close();
  });
});

describe("speech in modes", () => {
  it("meeting mode: speech becomes a transcript segment, nothing is spoken", async () => {
    await voice.asr("we ship on friday");
    const before = await llm.calls();
    const { sock } = await connectDevice(uniqueId());
    await sock.request({ type: "mode", state: "start", mode: "meeting" });
    sock.log.length = 0;
    sock.send({ type: "listen", state: "start", mode: "auto" });
    sendAudio(sock, utterancePackets(900, 1200));
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "we ship on friday" });
    expect(await sock.next((m) => m.type === "audio" && m.event === "transcription")).toMatchObject({ text: "we ship on friday" });
    await sock.request({ type: "keepalive" }, "pong");
    expect(sequence(sock).filter((t) => t.startsWith("tts") || t === "frame")).toEqual([]);
    expect(await llm.calls()).toBe(before);
    sock.close();
  });

  it("working mode: a spoken task command runs without the LLM and its confirmation is spoken", async () => {
    await voice.asr("refresh tasks");
    const before = await llm.calls();
    const { sock } = await connectDevice(uniqueId("dd:ee:ff"));
    await sock.request({ type: "mode", state: "start", mode: "working" });
    sock.log.length = 0;
    sock.send({ type: "listen", state: "start", mode: "manual" });
    sendAudio(sock, utterancePackets(800, 120));
    sock.ws.send(new Uint8Array(0));
    expect(await sock.next((m) => m.type === "workflow" && m.event === "command", 10_000)).toMatchObject({ intent: "refresh", status: "ok" });
    await sock.next(isStop, 15_000);
    const seq = sequence(sock).filter((t, i, a) => t !== "frame" || a[i - 1] !== "frame");
    expect(seq.slice(seq.indexOf("tts start"))).toEqual(["tts start", "llm", "tts sentence_start", "frame", "tts stop"]);
    expect(seq.indexOf("stt")).toBeLessThan(seq.indexOf("tts start"));
    expect(await llm.calls()).toBe(before);
    sock.close();
  });
});

describe("barge-in", () => {
  it("abort stops the frames at once and history keeps only what was played", async () => {
    await llm.answer("First sentence here. Second sentence here. Third sentence here. Fourth one. Fifth one.");
    const id = uniqueId();
    const { sock } = await connectDevice(id);
    sock.send({ type: "listen", state: "detect", text: "tell me a story" });
    await sock.next((m) => m.state === "sentence_start" && m.text === "Second sentence here.", 15_000);
    sock.log.length = 0;
    sock.send({ type: "abort" });
    await sock.next(isStop, 5000);
    await new Promise((r) => setTimeout(r, 600));
    // Nothing after the stop: no frame, no sentence.
    const seq = sequence(sock);
    expect(seq.slice(seq.indexOf("tts stop") + 1)).toEqual([]);
    const items = await history(id);
    expect(items.at(-1)).toMatchObject({ role: "assistant", text: "First sentence here." });
    sock.close();
  });

  it("realtime: speech while the reply plays interrupts it", async () => {
    await llm.answer("One long sentence to speak. Another long sentence. And a third long one. And a fourth.");
    await voice.asr("stop");
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "start", mode: "realtime" });
    sock.send({ type: "listen", state: "detect", text: "talk to me" });
    await sock.next((m) => m.state === "sentence_start", 15_000);
    sock.log.length = 0;
    sendAudio(sock, utterancePackets(900, 1200));
    await sock.next(isStop, 5000);
    const seq = sequence(sock);
    const after = seq.slice(seq.indexOf("tts stop") + 1);
    expect(after.includes("frame") ? after.indexOf("stt") < after.indexOf("frame") : true).toBe(true);
    // The interrupting speech becomes the next turn.
    expect(await sock.next((m) => m.type === "stt" && m.text === "stop", 10_000)).toBeTruthy();
    sock.close();
  });

  it("auto mode: audio while the reply plays is not a new turn", async () => {
    await llm.answer("Listening is off while I speak. This is the second sentence.");
    const { sock } = await connectDevice(uniqueId());
    const before = (await voice.records()).transcriptions.length;
    sock.send({ type: "listen", state: "start", mode: "auto" });
    sock.send({ type: "listen", state: "detect", text: "say something" });
    await sock.next((m) => m.state === "sentence_start", 15_000);
    sendAudio(sock, utterancePackets(900, 1200));
    await sock.next(isStop, 15_000);
    expect((await voice.records()).transcriptions.length).toBe(before);
    sock.close();
  });
});

describe("providers missing or failing", () => {
  it("LLM without TTS: the alert once per session, then each reply as text between tts start and stop", async () => {
    const put = (values: Record<string, string | null>) => api("/config", { method: "PUT", body: JSON.stringify({ values }) });
    const set = await put({ TTS_PROVIDER: "workers-ai" });
    expect(set.status, await set.clone().text()).toBe(200);
    const id = uniqueId();
    await runInDurableObject(env.DEVICE.get(env.DEVICE.idFromName(id)), (o) => o.config.refresh(Date.now(), true));
    try {
      await llm.answer("No voice today. Only text.");
      const { sock } = await connectDevice(id);
      for (const text of ["first", "second"]) {
        sock.log.length = 0;
        sock.send({ type: "listen", state: "detect", text });
        await sock.next(isStop, 15_000);
        const expected = ["stt", ...(text === "first" ? ["alert"] : []), "tts start", "llm", "tts sentence_start", "tts sentence_start", "tts stop"];
        expect(sequence(sock)).toEqual(expected);
      }
      const alert = sock.received.find((m) => m.type === "alert");
      expect(alert?.message).toMatch(/TTS is not configured/);
      expect(sock.received.filter((m) => m.state === "sentence_start").map((m) => m.text)).toEqual([
        "No voice today.",
        "Only text.",
        "No voice today.",
        "Only text.",
      ]);
      sock.close();
    } finally {
      await put({ TTS_PROVIDER: null });
      await runInDurableObject(env.DEVICE.get(env.DEVICE.idFromName(id)), (o) => o.config.refresh(Date.now(), true));
    }
  });

  it("ASR failing: an alert naming it, and the session goes on", async () => {
    await voice.fail("asr", { times: 1 });
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "start", mode: "manual" });
    sendAudio(sock, utterancePackets(800, 120));
    sock.ws.send(new Uint8Array(0));
    const alert = await sock.next((m) => m.type === "alert", 10_000);
    expect(alert).toMatchObject({ status: "error", emotion: "sad", session_id: expect.any(String) });
    expect(alert.message).toMatch(/^ASR failed: HTTP 500/);
    expect(await sock.request({ type: "keepalive" }, "pong")).toMatchObject({ type: "pong" });
    sock.close();
  });

  it("LLM failing: an alert, then tts stop", async () => {
    await voice.fail("llm", { times: 1 });
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "detect", text: "hello there" });
    expect((await sock.next((m) => m.type === "alert", 10_000)).message).toMatch(/^LLM failed/);
    await sock.next(isStop, 5000);
    sock.close();
  });

  it("TTS failing: one alert per session, the reply shown as text without frames", async () => {
    await voice.fail("tts", {});
    await llm.answer("Shown, not spoken. Twice.");
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "detect", text: "first" });
    await sock.next(isStop, 15_000);
    sock.send({ type: "listen", state: "detect", text: "second" });
    await sock.next(isStop, 15_000);
    expect(sock.received.filter((m) => m.type === "alert")).toHaveLength(1);
    expect(sock.received.filter((m) => m.state === "sentence_start").map((m) => m.text)).toEqual([
      "Shown, not spoken.",
      "Twice.",
      "Shown, not spoken.",
      "Twice.",
    ]);
    expect(sock.binary).toHaveLength(0);
    await llm.reset();
    sock.close();
  });
});

describe("the speech fixture, both ways", () => {
  it("real speech survives the server's decode: the VAD ends it and ASR gets it sample for sample", async () => {
    await voice.asr("今天天气怎么样");
    await llm.answer("晴天。");
    const ogg = fixture("speechZh");
    const { sock } = await connectDevice(uniqueId());
    sock.send({ type: "listen", state: "start", mode: "auto" });
    sendAudio(sock, ogg.packets);
    expect(await sock.next((m) => m.type === "stt", 10_000)).toMatchObject({ text: "今天天气怎么样" });
    await sock.next(isStop, 15_000);

    const sent = parseWav(await voice.lastAudio());
    expect(sent?.sampleRate).toBe(16000);
    const got = sent!.pcm;
    // The utterance holds all of the speech, with the pre-roll before it, and not much more.
    const gotMs = (got.length * 1000) / 16000;
    expect(gotMs).toBeGreaterThanOrEqual(zhMeta.speechEndMs - zhMeta.speechStartMs);
    expect(gotMs).toBeLessThan(zhMeta.durationMs);
    // Decoded here with the same libopus, packet by packet: the server's samples are the same ones.
    const dec = lib.decoder(16000);
    const reference = concatPcm(ogg.packets.map((p) => dec.decode(p)));
    dec.free();
    const probe = got.subarray(got.length >> 1, (got.length >> 1) + 64);
    let offset = -1;
    for (let i = 0; i + got.length <= reference.length && offset < 0; i++) {
      if (probe.every((v, k) => reference[i + (got.length >> 1) + k] === v)) offset = i;
    }
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(got.every((v, k) => reference[offset + k] === v)).toBe(true);
    sock.close();
  });

  for (const tts of [
    { name: "raw PCM at 24 kHz", opts: {} },
    { name: "WAV at 22,050 Hz, resampled", opts: { pcmAsWav: true, wavSampleRate: 22050 } },
  ]) {
    it(`the reply stays intelligible after encoding (${tts.name}): SNR and duration against the provider's signal`, async () => {
      await voice.tts({ ...TIMING, ...tts.opts });
      const text = "The quick brown fox jumps over the lazy dog.";
      await llm.answer(text);
      const { sock } = await connectDevice(uniqueId());
      sock.send({ type: "listen", state: "detect", text: "say the pangram" });
      await sock.next(isStop, 15_000);
      const heard = concatPcm(decodeFrames(sock));
      const reference = synthesizeSpeech(text, DOWN_RATE, TIMING, { voice: "alloy" });
      const refMs = (reference.length * 1000) / DOWN_RATE;
      const heardMs = (heard.length * 1000) / DOWN_RATE;
      expect(heardMs).toBeGreaterThanOrEqual(refMs);
      expect(heardMs).toBeLessThanOrEqual(refMs + 60); // the last frame is padded, nothing else added
      // ~20 dB measured for both; a wrong rate or a dropped frame falls to a few dB.
      expect(snrDb(reference, heard, 960)).toBeGreaterThan(15);
      sock.close();
    });
  }
});
