import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { nodeOpus, utteranceFromFile } from "../../scripts/lib/device-audio.ts";
import { DeviceClient, type Json } from "../../scripts/lib/device-client.ts";
import { type Reply, ReplyRecorder, ReplySaver } from "../../scripts/lib/device-reply.ts";
import { type TalkMode, talk } from "../../scripts/lib/device-talk.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import { speechDurationMs } from "../../scripts/lib/fake-openai/audio.ts";
import type { FakeOpenAI } from "../../scripts/lib/fake-openai/types.ts";
import { simHello } from "../../scripts/lib/sim-commands.ts";
import { startControlledLlm } from "../../scripts/lib/test-services.ts";
import { parseWav } from "../../src/voice/wav.ts";
import zhMeta from "../fixtures/speech-zh.json";

// Spoken turns against the real Worker under `wrangler dev`, with the fake OpenAI-compatible server
// as ASR, LLM and TTS: the simulator's own modules stream the checked-in speech fixture over real
// sockets, decode what comes back at the hello's rate and save it, as `npm run device -- --say` does.

const TIMING = { msPerCjk: 60, msPerLatin: 15, minMs: 300 };
const ASKED = "今天天气怎么样";
const ANSWER = "今天晴，二十五度。出门记得带伞。";
const SENTENCES = ["今天晴，二十五度。", "出门记得带伞。"];

const lib = nodeOpus();
const fixture = utteranceFromFile(new Uint8Array(readFileSync(new URL("../fixtures/speech-zh.ogg", import.meta.url))), lib);
const saveDir = mkdtempSync(join(tmpdir(), "supie-voice-e2e-"));
let server: DevServer;
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startControlledLlm({ tts: TIMING, asrAnswer: ASKED, answer: ANSWER });
  server = await startDevServer({
    vars: { LLM_BASE_URL: fake.url, ASR_BASE_URL: fake.url, TTS_BASE_URL: fake.url, TTS_MODEL: "fake-tts" },
  });
});
// A failed turn says what the Worker logged (the server's output is printed for failing tests only).
afterEach(({ task }) => {
  if (task.result?.state === "fail") console.error(`server output (tail):\n${server?.output().slice(-6000)}`);
});
afterAll(async () => {
  await server?.stop();
  await fake?.close();
  rmSync(saveDir, { recursive: true, force: true });
});

interface Device {
  client: DeviceClient;
  recorder: ReplyRecorder;
  /** The hello's frame length in samples: what every downlink frame must decode to. */
  frameSamples: number;
}

async function device(id: string, version: 1 | 2 | 3): Promise<Device> {
  const client = await DeviceClient.connect({ baseUrl: server.url, deviceId: id, protocolVersion: version, hello: simHello(version) });
  const audio = client.hello?.audio_params as { sample_rate: number; frame_duration: number };
  const recorder = new ReplyRecorder({ lib, sampleRate: audio.sample_rate, version });
  recorder.attach(client.ws);
  return { client, recorder, frameSamples: (audio.sample_rate * audio.frame_duration) / 1000 };
}

/** One spoken turn with the fixture; resolves with the reply once its `tts stop` arrived. */
async function speak(dev: Device, mode: TalkMode, version: 1 | 2 | 3, fast: boolean): Promise<Reply> {
  const reply = dev.recorder.nextReply(30_000);
  await talk(dev.client, fixture, lib, { mode, version, fast });
  return reply;
}

/**
 * The turn's messages and frames in order, runs of frames as one "frame". Other traffic on the
 * socket (a server's MCP initialize after the hello, pings) is no part of the turn.
 */
function turnOrder(labels: string[]): string[] {
  const turn = labels.filter((l) => /^(stt|llm|alert|frame|tts .+)$/.test(l));
  return turn.filter((l, i) => l !== "frame" || turn[i - 1] !== "frame");
}

async function history(id: string): Promise<Json[]> {
  const res = await fetch(`${server.url}/api/devices/${encodeURIComponent(id)}/history`, { headers: { authorization: "Bearer dev-admin-token" } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Json[] }).items;
}

/** What the fake synthesized for these sentences, in ms, as recorded per speech request. */
function synthesizedMs(sentences: string[]): number[] {
  return sentences.map((s) => {
    const rec = fake.speeches.findLast((r) => r.input === s);
    expect(rec, `a speech request for "${s}"`).toBeDefined();
    return rec?.durationMs ?? 0;
  });
}

function expectSpokenReply(dev: Device, reply: Reply): void {
  expect(reply.stt).toBe(ASKED);
  expect(turnOrder(dev.recorder.log)).toEqual(["stt", "tts start", "llm", "tts sentence_start", "frame", "tts sentence_start", "frame", "tts stop"]);
  expect(reply.sentences).toEqual(SENTENCES);
  expect(reply.badFrames).toBe(0);
  expect(new Set(reply.frameSamples)).toEqual(new Set([dev.frameSamples]));
  // Every message of the turn names the session.
  const sessionId = dev.client.hello?.session_id;
  const turn = dev.client.received.filter((m) => ["stt", "tts", "llm"].includes(String(m.type)));
  expect(turn.length).toBeGreaterThanOrEqual(6);
  expect(turn.every((m) => m.session_id === sessionId)).toBe(true);
}

describe("a device talks to wrangler dev", () => {
  it("manual turn: listen stop ends it, ASR gets a WAV, the reply is spoken, saved and kept in history", async () => {
    const id = "aa:bb:cc:dd:ee:51";
    const dev = await device(id, 2);
    const transcriptions = fake.transcriptions.length;
    const reply = await speak(dev, "manual", 2, true);

    expect(fake.transcriptions.length).toBe(transcriptions + 1);
    const asr = fake.transcriptions.at(-1)!;
    expect(asr).toMatchObject({ mimeType: "audio/wav", sampleRate: 16000, text: ASKED, silent: false });
    expect(asr.durationMs).toBeGreaterThanOrEqual(zhMeta.speechEndMs - zhMeta.speechStartMs);
    expectSpokenReply(dev, reply);

    // The saved WAV lasts what the fake synthesized, each sentence padded to whole frames.
    const path = new ReplySaver(saveDir).save(reply);
    const wav = parseWav(readFileSync(path!));
    expect(wav?.sampleRate).toBe(24000);
    const wavMs = ((wav?.pcm.length ?? 0) * 1000) / 24000;
    const synthesized = synthesizedMs(SENTENCES);
    expect(synthesized).toEqual(SENTENCES.map((s) => speechDurationMs(s, TIMING)));
    const total = synthesized.reduce((a, b) => a + b, 0);
    expect(wavMs).toBeGreaterThanOrEqual(total);
    expect(wavMs).toBeLessThan(total + 60 * SENTENCES.length);

    expect((await history(id)).map((m) => [m.role, m.text])).toEqual([
      ["user", ASKED],
      ["assistant", ANSWER],
    ]);
    await dev.client.close();
  });

  it("auto turn in real time: the server's VAD ends it, the device stops streaming on stt", async () => {
    const dev = await device("aa:bb:cc:dd:ee:52", 3);
    const reply = dev.recorder.nextReply(30_000);
    const sent = await talk(dev.client, fixture, lib, { mode: "auto", version: 3 });
    expect(sent.heard).toMatchObject({ type: "stt", text: ASKED });
    expectSpokenReply(dev, await reply);
    // No listen stop was sent: the VAD cut the utterance, which holds the whole speech and less than the file.
    const asr = fake.transcriptions.at(-1)!;
    expect(asr.durationMs).toBeGreaterThanOrEqual(zhMeta.speechEndMs - zhMeta.speechStartMs);
    expect(asr.durationMs).toBeLessThan(zhMeta.durationMs);
    await dev.client.close();
  });

  it("abort mid-reply: tts stop at once, no frame after it, history keeps the sentences played whole", async () => {
    const sentences = [
      "First of all, this is a long sentence that takes a while to speak.",
      "Second, another long sentence that the device will not finish hearing.",
      "Third, a sentence nobody hears.",
      "Fourth and last.",
    ];
    fake.setAnswer(sentences.join(" "));
    try {
      const id = "aa:bb:cc:dd:ee:53";
      const dev = await device(id, 1);
      const reply = speak(dev, "manual", 1, true);
      await dev.client.next((m) => m.state === "sentence_start" && m.text === sentences[1], 30_000);
      dev.client.send({ type: "abort" });
      const cut = await reply;
      // Whatever was already in flight has arrived once tts stop is here; wait a while for strays.
      await new Promise((r) => setTimeout(r, 800));
      const log = turnOrder(dev.recorder.log);
      expect(log.at(-1)).toBe("tts stop");
      expect(log.filter((l) => l === "tts stop")).toHaveLength(1);
      expect(dev.recorder.strayFrames).toBe(0);

      // A sentence counts as played once all of its frames went out: the fake says how long each was.
      const played: string[] = [];
      const frames = (ms: number) => Math.ceil(Math.round(ms * 24) / 1440);
      const counts = cut.sentences.map((_, k) => {
        let n = 0;
        for (let i = 0, seen = -1; i < cut.sequence.length; i++) {
          if (cut.sequence[i] === "tts sentence_start") seen++;
          else if (cut.sequence[i] === "frame" && seen === k) n++;
        }
        return n;
      });
      synthesizedMs(cut.sentences).forEach((ms, k) => {
        if (counts[k] === frames(ms)) played.push(cut.sentences[k]!);
      });
      expect(played[0]).toBe(sentences[0]);
      expect(played.length).toBeLessThan(sentences.length);
      const items = await history(id);
      expect(items.at(-1)).toMatchObject({ role: "assistant", text: played.join(" ") });
      await dev.client.close();
    } finally {
      fake.setAnswer(ANSWER);
    }
  });
});
