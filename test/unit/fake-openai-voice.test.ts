import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { Decoder, Encoder } from "@evan/opus";
import OpenAI, { BadRequestError, InternalServerError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_ASR_ANSWER,
  DEFAULT_TTS_OPTIONS,
  encodeWav,
  muxOggOpus,
  parseWav,
  pcmFromBytes,
  rmsDbfs,
  speechDurationMs,
  startFakeOpenAI,
  synthesizeSpeech,
  type FakeOpenAI,
} from "../../scripts/fake-openai.ts";
import { startControlledLlm } from "../../scripts/lib/test-services.ts";

// The voice endpoints of the fake (ASR, TTS), their latency, and the control endpoints a Worker test
// uses, through the real `openai` SDK as the Worker calls them (VOICE.md §4).

let fake: FakeOpenAI;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  client = new OpenAI({ baseURL: fake.url, apiKey: "sk-test", maxRetries: 0 });
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => fake.reset());

const wavFile = (samples: Int16Array, rate: number) => new File([encodeWav(samples, rate)], "utterance.wav", { type: "audio/wav" });
const speechAt = (rate: number, text = "今天天气怎么样") => synthesizeSpeech(text, rate, DEFAULT_TTS_OPTIONS);

/** Level of each 20 ms frame, as an energy VAD sees it. */
function frameLevels(samples: Int16Array, rate: number): number[] {
  const n = Math.round(rate / 50);
  const out: number[] = [];
  for (let i = 0; i + n <= samples.length; i += n) out.push(rmsDbfs(samples.subarray(i, i + n)));
  return out;
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; reads: number }> {
  const parts: Uint8Array[] = [];
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return { bytes: new Uint8Array(Buffer.concat(parts)), reads: parts.length };
}

describe("transcriptions", () => {
  it("answers the default text for speech and records what was sent", async () => {
    const samples = speechAt(16000);
    const res = await client.audio.transcriptions.create({ file: wavFile(samples, 16000), model: "whisper-1", language: "zh" });
    expect(res.text).toBe(DEFAULT_ASR_ANSWER);
    const rec = fake.transcriptions[0];
    expect(rec).toMatchObject({
      model: "whisper-1",
      language: "zh",
      format: "wav",
      sampleRate: 16000,
      channels: 1,
      filename: "utterance.wav",
      mimeType: "audio/wav",
      silent: false,
    });
    expect(rec?.durationMs).toBe((samples.length / 16000) * 1000);
    expect(rec?.bytes).toBe(44 + samples.length * 2);
    expect(rec?.rmsDbfs).toBeGreaterThan(-40);
    expect(fake.requests[0]?.body).toMatchObject({ model: "whisper-1", file: { filename: "utterance.wav", bytes: 44 + samples.length * 2 } });
  });

  it("answers a fixed text, a queue, or a function of the decoded audio (any rate)", async () => {
    const file = () => wavFile(speechAt(8000, "hello"), 8000);
    fake.setAsrAnswer("fixed");
    expect((await client.audio.transcriptions.create({ file: file(), model: "m" })).text).toBe("fixed");
    fake.setAsrAnswer(["one", "two"]);
    expect((await client.audio.transcriptions.create({ file: file(), model: "m" })).text).toBe("one");
    expect((await client.audio.transcriptions.create({ file: file(), model: "m" })).text).toBe("two");
    expect((await client.audio.transcriptions.create({ file: file(), model: "m" })).text).toBe(DEFAULT_ASR_ANSWER);
    fake.setAsrAnswer(({ sampleRate, durationMs }) => `${sampleRate} Hz, ${durationMs} ms`);
    expect((await client.audio.transcriptions.create({ file: file(), model: "m" })).text).toBe("8000 Hz, 300 ms");
  });

  it("answers silence with an empty text without using up the queue", async () => {
    fake.setAsrAnswer(["first"]);
    const silence = await client.audio.transcriptions.create({ file: wavFile(new Int16Array(16000), 16000), model: "m" });
    expect(silence.text).toBe("");
    const quiet = Int16Array.from({ length: 16000 }, (_, i) => (i % 2 ? 20 : -20)); // about -64 dBFS
    expect((await client.audio.transcriptions.create({ file: wavFile(quiet, 16000), model: "m" })).text).toBe("");
    expect((await client.audio.transcriptions.create({ file: wavFile(speechAt(16000), 16000), model: "m" })).text).toBe("first");
    expect(fake.transcriptions.map((t) => t.silent)).toEqual([true, true, false]);
    expect(fake.transcriptions[0]?.rmsDbfs).toBe(-120);
    fake.setAsrOptions({ silenceDbfs: null });
    expect((await client.audio.transcriptions.create({ file: wavFile(new Int16Array(1600), 16000), model: "m" })).text).toBe(DEFAULT_ASR_ANSWER);
  });

  it("answers plain text for response_format=text", async () => {
    const text = await client.audio.transcriptions.create({ file: wavFile(speechAt(16000), 16000), model: "m", response_format: "text" });
    expect(text).toBe(DEFAULT_ASR_ANSWER);
  });

  it("decodes Ogg Opus uploads: duration from the granule position, level from the decoded audio", async () => {
    const samples = speechAt(16000);
    const encoder = new Encoder({ channels: 1, sample_rate: 16000, application: "voip" });
    const frame = 960;
    const packets: Uint8Array[] = [];
    for (let i = 0; i + frame <= samples.length; i += frame) packets.push(encoder.encode(samples.subarray(i, i + frame)));
    const ogg = muxOggOpus(packets, { inputRate: 16000, frameMs: 60 });
    const res = await client.audio.transcriptions.create({ file: new File([ogg], "utterance.ogg", { type: "audio/ogg" }), model: "m" });
    expect(res.text).toBe(DEFAULT_ASR_ANSWER);
    expect(fake.transcriptions[0]).toMatchObject({ format: "ogg", sampleRate: 16000, channels: 1, durationMs: packets.length * 60, silent: false });
  });

  it("answers 400 for what a real recogniser refuses", async () => {
    const missingFile = await fetch(`${fake.url}/audio/transcriptions`, {
      method: "POST",
      body: (() => {
        const f = new FormData();
        f.set("model", "m");
        return f;
      })(),
    });
    expect(missingFile.status).toBe(400);
    const broken = new File([Buffer.from("RIFF\0\0\0\0WAVEjunk")], "x.wav", { type: "audio/wav" });
    const err = await client.audio.transcriptions.create({ file: broken, model: "m" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
  });
});

describe("speech", () => {
  it("streams 24 kHz pcm in several chunks, as long as the text says, speech-like to an energy VAD", async () => {
    fake.setLatency({ ttsChunk: 10 });
    const input = "今天天气很好，我们出去走走吧。";
    const res = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input, response_format: "pcm" });
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    const { bytes, reads } = await readAll(res.body as ReadableStream<Uint8Array>);
    const samples = pcmFromBytes(bytes);
    const expectedMs = speechDurationMs(input, DEFAULT_TTS_OPTIONS);
    expect(expectedMs).toBe(13 * 180 + 2 * 60);
    expect(samples.length).toBe(Math.round((expectedMs / 1000) * 24000));
    const rec = fake.speeches[0];
    expect(rec).toMatchObject({
      model: "tts-1",
      voice: "alloy",
      requestedFormat: "pcm",
      format: "pcm",
      sampleRate: 24000,
      durationMs: expectedMs,
      bytes: bytes.length,
    });
    expect(rec?.chunks).toBe(Math.ceil(bytes.length / 4800));
    expect(reads).toBeGreaterThan(1);
    expect(rec?.streamDelayMs).toBe(10 * ((rec?.chunks ?? 0) - 1));
    // An energy VAD: most 20 ms frames are loud; the comma is a gap.
    const levels = frameLevels(samples, 24000);
    expect(levels.filter((l) => l > -40).length / levels.length).toBeGreaterThan(0.8);
    expect(levels.some((l) => l < -60)).toBe(true);
  });

  it("is deterministic and gaps between latin words", async () => {
    const a = speechAt(24000, "hello world");
    expect(speechAt(24000, "hello world")).toEqual(a);
    const levels = frameLevels(a, 24000); // 300 ms voiced, 60 ms gap, 300 ms voiced
    expect(levels[16]).toBeLessThan(-60);
    expect(levels[5]).toBeGreaterThan(-40);
    expect(levels[25]).toBeGreaterThan(-40);
  });

  it("keeps its shape through an Opus round trip (waveform SNR after aligning the codec delay)", () => {
    const pcm = speechAt(16000, "今天天气很好");
    const enc = new Encoder({ channels: 1, sample_rate: 16000, application: "restricted_lowdelay" });
    enc.bitrate = 32000;
    const dec = new Decoder({ channels: 1, sample_rate: 16000 });
    const out: number[] = [];
    for (let i = 0; i + 960 <= pcm.length; i += 960) out.push(...pcmFromBytes(dec.decode(enc.encode(pcm.subarray(i, i + 960)))));
    let best = -Infinity;
    for (let lag = 0; lag < 200; lag++) {
      let signal = 0;
      let noise = 0;
      for (let i = 0; i + lag < out.length; i++) {
        const a = pcm[i] ?? 0;
        signal += a * a;
        noise += (a - (out[i + lag] ?? 0)) ** 2;
      }
      best = Math.max(best, 10 * Math.log10(signal / noise));
    }
    expect(best).toBeGreaterThan(15);
  });

  it("answers WAV when asked, at the configured rate, and can answer 22050 Hz WAV to a pcm request", async () => {
    const wav = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "hello", response_format: "wav" });
    expect(wav.headers.get("content-type")).toBe("audio/wav");
    expect(parseWav(new Uint8Array(await wav.arrayBuffer())).sampleRate).toBe(24000);

    fake.setTtsOptions({ wavSampleRate: 22050, pcmAsWav: true });
    const res = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "你好", response_format: "pcm" });
    expect(res.headers.get("content-type")).toBe("audio/wav");
    const parsed = parseWav(new Uint8Array(await res.arrayBuffer()));
    expect(parsed.sampleRate).toBe(22050);
    expect(parsed.samples.length).toBe(Math.round(0.36 * 22050));
    expect(fake.speeches[1]).toMatchObject({ requestedFormat: "pcm", format: "wav", sampleRate: 22050, durationMs: 360 });
  });

  it("follows ms per char, minimum length and speed", async () => {
    fake.setTtsOptions({ msPerCjk: 100, minMs: 500 });
    await (await client.audio.speech.create({ model: "m", voice: "v", input: "好", response_format: "pcm" })).arrayBuffer();
    await (await client.audio.speech.create({ model: "m", voice: "v", input: "一二三四五六", response_format: "pcm", speed: 2 })).arrayBuffer();
    expect(fake.speeches.map((s) => s.durationMs)).toEqual([500, 300]);
  });

  it("refuses formats it cannot make, and requests a real server refuses", async () => {
    for (const body of [
      { model: "tts-1", voice: "alloy", input: "hi", response_format: "mp3" },
      { model: "tts-1", voice: "alloy", input: "hi" }, // OpenAI's default is mp3
      { model: "tts-1", input: "hi", response_format: "pcm" },
      { model: "tts-1", voice: "alloy", input: "", response_format: "pcm" },
    ]) {
      const err = await client.audio.speech.create(body as never).catch((e: unknown) => e);
      expect(err, JSON.stringify(body)).toBeInstanceOf(BadRequestError);
    }
    expect(fake.speeches).toHaveLength(0);
  });
});

describe("latency", () => {
  it("applies a fixed latency per kind before the first byte and records it", async () => {
    fake.setLatency({ asr: 30, llm: 20, tts: 25 });
    await client.audio.transcriptions.create({ file: wavFile(speechAt(16000), 16000), model: "m" });
    await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    await (await client.audio.speech.create({ model: "m", voice: "v", input: "hi", response_format: "pcm" })).arrayBuffer();
    await fetch(`${fake.url}/models`);
    expect(fake.requests.map((r) => [r.kind, r.latencyMs])).toEqual([
      ["asr", 30],
      ["llm", 20],
      ["tts", 25],
      [null, 0],
    ]);
    expect([fake.transcriptions[0]?.latencyMs, fake.chats[0]?.latencyMs, fake.speeches[0]?.latencyMs]).toEqual([30, 20, 25]);
    expect(fake.config().latency).toMatchObject({ asr: 30, llm: 20, tts: 25 });
    fake.reset();
    expect(fake.config().latency).toMatchObject({ asr: 0, llm: 0, tts: 0 });
  });

  it("takes latency from the start options; a slow mode adds to it", async () => {
    const other = await startFakeOpenAI({ latency: { llm: 15 } });
    try {
      other.setMode("slow", { delayMs: 10, times: 1 });
      const c = new OpenAI({ baseURL: other.url, apiKey: "k", maxRetries: 0 });
      await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
      await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
      expect(other.requests.map((r) => r.latencyMs)).toEqual([25, 15]);
    } finally {
      await other.close();
    }
  });

  it("scopes failure modes to one kind, so a voice turn's other providers are unaffected", async () => {
    fake.setMode("http500", { times: 1, kind: "tts" });
    expect((await client.audio.transcriptions.create({ file: wavFile(speechAt(16000), 16000), model: "m" })).text).toBe(DEFAULT_ASR_ANSWER);
    await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    const err = await client.audio.speech.create({ model: "m", voice: "v", input: "hi", response_format: "pcm" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalServerError);
    expect(fake.requests.map((r) => r.mode)).toEqual([null, null, "http500"]);
  });
});

describe("control endpoints (startControlledLlm)", () => {
  it("steers answers, settings and modes over HTTP and reports the records", async () => {
    const llm = await startControlledLlm();
    const base = llm.url.replace(/\/v1$/, "");
    const post = async (path: string, body: unknown = {}) =>
      (
        await fetch(`${base}/__control/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      ).json() as Promise<Record<string, any>>;
    try {
      const c = new OpenAI({ baseURL: llm.url, apiKey: "k", maxRetries: 0 });
      await post("script", { rounds: [{ tool_calls: [{ name: "self_get_device_status", arguments: {} }] }, "好的"] });
      await post("asr", { answer: ["打开灯", "关灯"], silenceDbfs: -45 });
      await post("vision", { answer: "a cat" });
      expect(await post("tts", { wavSampleRate: 22050, pcmAsWav: true })).toMatchObject({ wavSampleRate: 22050, pcmAsWav: true, msPerCjk: 180 });
      expect(await post("latency", { asr: 5, llm: 6, tts: 7, llmChunk: 1 })).toEqual({ asr: 5, llm: 6, tts: 7, llmChunk: 1, ttsChunk: 0 });
      expect(await post("chat", { chunkChars: 2 })).toMatchObject({ refuseTools: false, chunkChars: 2 });
      await post("mode", { mode: "http500", times: 1, kind: "llm", status: 429 });

      expect((await c.audio.transcriptions.create({ file: wavFile(speechAt(16000), 16000), model: "m" })).text).toBe("打开灯");
      const limited = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect((limited as { status?: number }).status).toBe(429);
      const tools = [{ type: "function" as const, function: { name: "self_get_device_status", parameters: { type: "object" } } }];
      const first = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }], tools });
      expect(first.choices[0]?.finish_reason).toBe("tool_calls");
      const image = { type: "image_url" as const, image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } };
      expect((await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: [image] }] })).choices[0]?.message.content).toBe("a cat");
      const wav = await c.audio.speech.create({ model: "m", voice: "v", input: "你好", response_format: "pcm" });
      expect(parseWav(new Uint8Array(await wav.arrayBuffer())).sampleRate).toBe(22050);

      await post("chat", { refuseTools: true });
      const refused = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }], tools }).catch((e: unknown) => e);
      expect((refused as { status?: number }).status).toBe(400);

      const records = await post("records");
      expect(records.transcriptions.map((t: { text: string }) => t.text)).toEqual(["打开灯"]);
      expect(records.chats.map((ch: { outcome: string }) => ch.outcome)).toEqual(["tool_calls", "vision", "refused"]);
      expect(records.speeches[0]).toMatchObject({ format: "wav", sampleRate: 22050, latencyMs: 7 });
      const provider = records.requests.filter((r: { kind: string | null }) => r.kind !== null);
      expect(provider.map((r: { kind: string; latencyMs: number; status: number }) => [r.kind, r.latencyMs, r.status])).toEqual([
        ["asr", 5, 200],
        ["llm", 0, 429],
        ["llm", 6, 200],
        ["llm", 6, 200],
        ["tts", 7, 200],
        ["llm", 6, 400],
      ]);
      expect((await post("calls")).calls).toBe(4);
      expect((await post("calls", { path: "/v1/audio/speech" })).calls).toBe(1);

      await post("reset");
      expect(await post("config")).toMatchObject({ latency: { asr: 0, llm: 0, tts: 0 }, chat: { refuseTools: false }, tts: { pcmAsWav: false } });
      await post("answer", { answer: "plain" });
      expect((await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] })).choices[0]?.message.content).toBe("plain");
      expect((await fetch(`${base}/__control/mode`, { method: "POST", body: JSON.stringify({ mode: "nope" }) })).status).toBe(400);
    } finally {
      await llm.close();
    }
  });
});

describe("command line", () => {
  it("takes the voice flags and serves the control endpoints with --control", async () => {
    const script = resolve(import.meta.dirname, "../../scripts/fake-openai.ts");
    const args = [
      script,
      "--port",
      "0",
      "--control",
      "--asr-answer",
      "来自命令行",
      "--llm-latency-ms",
      "12",
      "--tts-wav-rate",
      "22050",
      "--tts-pcm-as-wav",
      "--refuse-tools",
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening on (\S+)/.exec(out);
          if (m?.[1]) resolveUrl(m[1]);
        });
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const c = new OpenAI({ baseURL: url, apiKey: "k", maxRetries: 0 });
      expect((await c.audio.transcriptions.create({ file: wavFile(speechAt(16000), 16000), model: "m" })).text).toBe("来自命令行");
      const config = (await (await fetch(`${url.replace(/\/v1$/, "")}/__control/config`, { method: "POST" })).json()) as Record<
        string,
        Record<string, unknown>
      >;
      expect(config.latency).toMatchObject({ llm: 12 });
      expect(config.tts).toMatchObject({ wavSampleRate: 22050, pcmAsWav: true });
      expect(config.chat).toMatchObject({ refuseTools: true });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    }
  });
});
