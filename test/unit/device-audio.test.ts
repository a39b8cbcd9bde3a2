import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeUplink, nodeOpus, pacePackets, silenceSource, uplinkFrame, utteranceFromFile, UPLINK_RATE } from "../../scripts/lib/device-audio.ts";
import type { DeviceClient, Json } from "../../scripts/lib/device-client.ts";
import { talk } from "../../scripts/lib/device-talk.ts";
import { parseFrame } from "../../src/protocol/binary.ts";
import type { Clock } from "../../src/voice/clock.ts";
import { demuxOggOpus, muxOggOpus, opusPacketSamples48 } from "../../src/voice/ogg.ts";
import { concatPcm } from "../../src/voice/pcm.ts";
import { tone, toneAmplitude } from "../../src/voice/signal.ts";
import { encodeWav } from "../../src/voice/wav.ts";

// The simulator's uplink (scripts/lib/device-audio.ts, device-talk.ts): framing per binary version,
// sound files into firmware-shaped packets, pacing on an absolute clock, manual and auto turns.

const lib = nodeOpus();
const fixtureBytes = new Uint8Array(readFileSync(new URL("../fixtures/speech-zh.ogg", import.meta.url)));
const fixtureMeta = JSON.parse(readFileSync(new URL("../fixtures/speech-zh.json", import.meta.url), "utf8")) as { packets: number; durationMs: number };

/** A clock that only moves when slept on, each sleep overshooting by `lateMs` like a busy timer. */
function fakeClock(lateMs = 0): Clock & { t: number; sleeps: number[] } {
  const c = {
    t: 1000,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms + lateMs;
    },
  };
  return c;
}

function decodeAll(packets: Uint8Array[], rate = UPLINK_RATE): Int16Array {
  const dec = lib.decoder(rate);
  const pcm = concatPcm(packets.map((p) => dec.decode(p)));
  dec.free();
  return pcm;
}

describe("uplink framing", () => {
  const packet = Uint8Array.from([0x18, 1, 2, 3, 4]);

  it("v1 sends the packet as is", () => {
    expect(uplinkFrame(1, packet, 7)).toEqual(packet);
    expect(parseFrame(1, uplinkFrame(1, packet, 7))).toEqual({ ok: true, kind: "audio", payload: packet });
  });

  it("v2 adds the 16-byte header with the packet's time in ms", () => {
    const f = uplinkFrame(2, packet, 3);
    expect(f.byteLength).toBe(16 + packet.byteLength);
    expect(parseFrame(2, f)).toEqual({ ok: true, kind: "audio", payload: packet, timestamp: 180 });
  });

  it("v3 adds the 4-byte header", () => {
    const f = uplinkFrame(3, packet, 3);
    expect([...f.subarray(0, 4)]).toEqual([0, 0, 0, packet.byteLength]);
    expect(parseFrame(3, f)).toEqual({ ok: true, kind: "audio", payload: packet });
  });
});

describe("sound files into packets", () => {
  it("a firmware-shaped Ogg (16 kHz, 60 ms) goes out packet for packet", () => {
    const utt = utteranceFromFile(fixtureBytes, lib);
    expect(utt.source).toBe("ogg");
    expect(utt.packets).toEqual(demuxOggOpus(fixtureBytes).packets);
    expect(utt.packets).toHaveLength(fixtureMeta.packets);
    expect(utt.durationMs).toBe(fixtureMeta.durationMs);
  });

  it("a WAV at 22,050 Hz is resampled to 16 kHz and cut into 60 ms packets, the last one padded", () => {
    const wav = encodeWav(tone(300, 1000, 22050, 8000), 22050);
    const utt = utteranceFromFile(wav, lib);
    expect(utt.source).toBe("wav");
    expect(utt.packets).toHaveLength(17); // 1000 ms → 16 whole packets and a padded one
    expect(utt.durationMs).toBe(1020);
    expect(utt.packets.every((p) => opusPacketSamples48(p) === 2880)).toBe(true);
    // The tone survives at its frequency (checked past the codec's start-up).
    const pcm = decodeAll(utt.packets);
    expect(pcm.length).toBe(17 * 960);
    expect(toneAmplitude(pcm.subarray(3200, 14400), 300, UPLINK_RATE)).toBeGreaterThan(5000);
  });

  it("a WAV already at 16 kHz keeps its length", () => {
    expect(utteranceFromFile(encodeWav(tone(440, 600, 16000), 16000), lib)).toMatchObject({ durationMs: 600, source: "wav" });
  });

  it("an Ogg of 20 ms packets at 48 kHz is decoded and encoded again as 60 ms packets", () => {
    const enc = lib.encoder(48000);
    const pcm = tone(440, 1200, 48000, 8000);
    const packets: Uint8Array[] = [];
    for (let o = 0; o + 960 <= pcm.length; o += 960) packets.push(enc.encode(pcm.subarray(o, o + 960)));
    enc.free();
    const ogg = muxOggOpus(packets, { inputSampleRate: 48000, frameMs: 20 });
    const utt = utteranceFromFile(ogg, lib);
    expect(utt.source).toBe("ogg-reencoded");
    expect(utt.packets.every((p) => opusPacketSamples48(p) === 2880)).toBe(true);
    // 1200 ms minus the 6.5 ms pre-skip, rounded up to whole packets.
    expect(utt.durationMs).toBe(1200);
    expect(toneAmplitude(decodeAll(utt.packets).subarray(3200, 16000), 440, UPLINK_RATE)).toBeGreaterThan(5000);
  });

  it("refuses other files with a reason", () => {
    expect(() => utteranceFromFile(new TextEncoder().encode("ID3 not a wav"), lib)).toThrow(/not a WAV or Ogg Opus/);
  });

  it("never produces an empty packet, which would mean end of speech", () => {
    const silence = silenceSource(lib);
    const sizes = Array.from({ length: 40 }, () => silence.next().byteLength);
    silence.free();
    expect(Math.min(...sizes)).toBeGreaterThan(0);
    expect(Math.min(...encodeUplink(new Int16Array(16000), lib).map((p) => p.byteLength))).toBeGreaterThan(0);
  });
});

describe("pacing", () => {
  const packets = Array.from({ length: 6 }, (_, i) => Uint8Array.of(i));

  it("sends packet i at t0 + i × 60 ms: late timers do not add up", async () => {
    const clock = fakeClock(7);
    const at: number[] = [];
    const n = await pacePackets(
      (i) => packets[i] ?? null,
      () => at.push(clock.now() - 1000),
      { clock },
    );
    expect(n).toBe(6);
    // Each send is 7 ms late at most; chained 60 ms sleeps would be 7 ms later every packet.
    expect(at).toEqual([0, 67, 127, 187, 247, 307]);
  });

  it("fast mode does not wait, but yields between packets", async () => {
    const clock = fakeClock();
    const sent: number[] = [];
    await pacePackets(
      (i) => packets[i] ?? null,
      (_p, i) => sent.push(i),
      { clock, fast: true },
    );
    expect(sent).toEqual([0, 1, 2, 3, 4, 5]);
    expect(clock.sleeps).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("asks for each packet at its time and stops on null or abort", async () => {
    const clock = fakeClock();
    const ac = new AbortController();
    const sent: number[] = [];
    const n = await pacePackets(
      (i) => packets[i] ?? null,
      (_p, i) => {
        sent.push(i);
        if (i === 2) ac.abort();
      },
      { clock, signal: ac.signal },
    );
    expect(n).toBe(3);
    expect(sent).toEqual([0, 1, 2]);
  });
});

/** Enough of a DeviceClient for talk(): a socket that records what is sent and can deliver messages. */
function fakeClient() {
  const ws = new EventEmitter();
  const sent: Array<Json | Uint8Array> = [];
  const client = {
    ws,
    isOpen: true,
    send: (m: Json) => sent.push(m),
    sendRaw: (d: Uint8Array) => sent.push(d),
  };
  const deliver = (m: Json) => ws.emit("message", Buffer.from(JSON.stringify(m)), false);
  return { client: client as unknown as DeviceClient, sent, deliver };
}

describe("a spoken turn", () => {
  const utt = utteranceFromFile(fixtureBytes, lib);

  it("manual: listen start, every packet in the socket's framing, listen stop", async () => {
    const { client, sent } = fakeClient();
    const clock = fakeClock();
    const r = await talk(client, utt, lib, { mode: "manual", version: 3, clock });
    expect(sent[0]).toEqual({ type: "listen", state: "start", mode: "manual" });
    expect(sent.at(-1)).toEqual({ type: "listen", state: "stop" });
    const frames = sent.slice(1, -1) as Uint8Array[];
    expect(frames.map((f) => parseFrame(3, f)).map((p) => (p.ok && p.kind === "audio" ? p.payload : null))).toEqual(utt.packets);
    expect(r).toMatchObject({ packets: utt.packets.length, silencePackets: 0 });
    // Real time: the last packet goes out 73 × 60 ms after the first.
    expect(clock.t - 1000).toBe((utt.packets.length - 1) * 60 + 60);
  });

  it("manual and fast: the stop still waits out the server's 300 ms listen debounce, with a margin", async () => {
    const { client, sent } = fakeClient();
    const clock = fakeClock();
    await talk(client, utt, lib, { mode: "manual", version: 1, clock, fast: true });
    expect(sent.at(-1)).toEqual({ type: "listen", state: "stop" });
    // 300 ms and 700 ms for a start that waited on a loaded server (device-talk.ts).
    expect(clock.sleeps.at(-1)).toBe(1000);
  });

  it("auto: stops streaming once the server's stt arrives", async () => {
    const { client, sent, deliver } = fakeClient();
    const origSend = client.sendRaw.bind(client);
    let frames = 0;
    client.sendRaw = (d) => {
      origSend(d);
      if (++frames === 20) deliver({ type: "stt", text: "今天天气怎么样" });
    };
    const r = await talk(client, utt, lib, { mode: "auto", version: 2, clock: fakeClock() });
    expect(r).toMatchObject({ packets: 20, silencePackets: 0, heard: { type: "stt" } });
    expect(sent.filter((m) => !(m instanceof Uint8Array))).toEqual([{ type: "listen", state: "start", mode: "auto" }]);
  });

  it("auto: streams silence after the audio until the limit when no stt comes", async () => {
    const { client, sent } = fakeClient();
    const r = await talk(client, utt, lib, { mode: "auto", version: 2, clock: fakeClock(), maxSilenceMs: 600 });
    expect(r).toMatchObject({ packets: utt.packets.length, silencePackets: 10, heard: null });
    const last = parseFrame(2, sent.at(-1) as Uint8Array);
    expect(last).toMatchObject({ ok: true, kind: "audio", timestamp: (utt.packets.length + 9) * 60 });
  });
});
