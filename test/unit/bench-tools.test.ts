import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { parseFrame } from "../../src/protocol/binary.ts";
import { configDrift } from "../../scripts/lib/bench/config-drift.ts";
import { deferred, pollUntil, within } from "../../scripts/lib/bench/devices.ts";
import { summarize } from "../../scripts/lib/bench/stats.ts";
import { echoTarget, failureKind } from "../../scripts/lib/bench/targets.ts";
import { ASR_HEAD_START_MS, criticalPathMs, orderOk, planTurns, turnLogs, VAD_SILENCE_MS } from "../../scripts/lib/bench/scenarios/voice.ts";
import { notReady, toolFigures, type ToolCallLog } from "../../scripts/lib/bench/scenarios/voice-tools.ts";
import { toolRoundAnswer } from "../../scripts/lib/bench/fake-process.ts";
import type { ChatRequestInfo } from "../../scripts/lib/fake-openai/types.ts";
import { ToolNames } from "../../src/tools/names.ts";
import type { TurnTool } from "../../src/tools/tool.ts";
import { loadOpus } from "../../src/voice/opus.ts";
import zhMeta from "../fixtures/speech-zh.json";
import { FIRMWARE_HELLO, type Json } from "../../scripts/lib/device-client.ts";
import { formatIncoming, parseSimCommand } from "../../scripts/lib/sim-commands.ts";

// The device simulator's command language and the benchmark's pure helpers.

describe("device simulator commands", () => {
  it("maps short commands to protocol messages", () => {
    expect(parseSimCommand("ping")).toEqual({ kind: "json", msg: { type: "ping" } });
    expect(parseSimCommand("listen start")).toEqual({ kind: "json", msg: { type: "listen", state: "start", mode: "auto" } });
    expect(parseSimCommand("listen start realtime")).toEqual({ kind: "json", msg: { type: "listen", state: "start", mode: "realtime" } });
    expect(parseSimCommand("listen stop")).toEqual({ kind: "json", msg: { type: "listen", state: "stop" } });
    expect(parseSimCommand("say  你好 小智 ")).toEqual({ kind: "json", msg: { type: "listen", state: "detect", text: "你好 小智" } });
    expect(parseSimCommand("abort")).toEqual({ kind: "json", msg: { type: "abort" } });
    expect(parseSimCommand("mode end coding")).toEqual({ kind: "json", msg: { type: "mode", state: "end", mode: "coding" } });
    expect(parseSimCommand("peer AA:BB:CC:00:00:01 hello there")).toEqual({
      kind: "json",
      msg: { type: "peer", to: ["AA:BB:CC:00:00:01"], category: "chat", payload: { text: "hello there" } },
    });
    expect(parseSimCommand("task list")).toEqual({ kind: "json", msg: { type: "workflow", event: "list" } });
    expect(parseSimCommand('{"type":"ping"}')).toEqual({ kind: "raw", text: '{"type":"ping"}' });
    expect(parseSimCommand("raw not json")).toEqual({ kind: "raw", text: "not json" });
    expect(parseSimCommand("quit").kind).toBe("quit");
    expect(parseSimCommand("   ").kind).toBe("none");
  });

  it("sends the hello with the binary protocol version", () => {
    expect(parseSimCommand("hello", 2)).toMatchObject({ kind: "json", msg: { type: "hello", version: 2, transport: "websocket" } });
  });

  it("frames fake audio in the socket's protocol version", () => {
    for (const v of [1, 2, 3] as const) {
      const action = parseSimCommand("audio 3", v);
      if (action.kind !== "binary") throw new Error("expected binary frames");
      expect(action.frames).toHaveLength(3);
      for (const f of action.frames) expect(parseFrame(v, f)).toMatchObject({ ok: true, kind: "audio" });
    }
  });

  it("explains bad input instead of sending it", () => {
    for (const line of ["listen maybe", "mode start lunch", "peer onlyone", "audio -1", "task add", "frobnicate"]) {
      expect(parseSimCommand(line).kind).toBe("error");
    }
  });

  it("prints every incoming frame on one line", () => {
    expect(formatIncoming(Buffer.from('{"type":"pong"}'), false)).toBe('< {"type":"pong"}');
    expect(formatIncoming(Buffer.from('{\n  "a": 1\n}'), false)).toBe('< {"a":1}');
    expect(formatIncoming(Buffer.alloc(12), true)).toBe("< [binary 12 bytes]");
  });
});

describe("benchmark helpers", () => {
  it("summarizes with nearest-rank percentiles", () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s).toMatchObject({ n: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    expect(summarize([])).toBeNull();
  });

  it("labels connection failures for tallies", () => {
    expect(failureKind(Object.assign(new Error("upgrade refused"), { status: 401 }))).toBe("upgrade 401");
    expect(failureKind(Object.assign(new Error("x"), { code: "EMFILE" }))).toBe("EMFILE");
    expect(failureKind(new Error("no matching message within 10000 ms; pending: []"))).toBe("hello timeout");
  });

  it("keeps bench/wrangler.toml in step with wrangler.toml", () => {
    const root = resolve(import.meta.dirname, "../..");
    expect(configDrift(resolve(root, "wrangler.toml"), resolve(root, "bench/wrangler.toml"))).toEqual([]);
  });

  it("waits with a deadline", async () => {
    const d = deferred<number>();
    setTimeout(() => d.resolve(7), 5);
    expect(await within(d.promise, 1000, null)).toBe(7);
    expect(await within(new Promise(() => {}), 10, "late")).toBe("late");
    let n = 0;
    expect(await pollUntil(() => ++n >= 3, 1000, 1)).toBe(true);
    expect(await pollUntil(() => false, 20, 5)).toBe(false);
  });
});

describe("voice scenario helpers", () => {
  it("finds the packet on which the server's VAD ends the fixture's utterance, turn after turn", () => {
    const lib = loadOpus(new WebAssembly.Module(readFileSync(resolve(import.meta.dirname, "../../node_modules/@evan/opus/wasm/opus.wasm"))));
    const plan = planTurns(lib, 3);
    expect(plan.endIndex).toHaveLength(3);
    for (const i of plan.endIndex) {
      // After the speech plus the configured silence, within the fixture (before the added silence).
      expect((i + 1) * zhMeta.frameMs).toBeGreaterThanOrEqual(zhMeta.speechEndMs + VAD_SILENCE_MS);
      expect(i).toBeLessThan(zhMeta.packets);
    }
    expect(plan.packets.every((p) => p.length > 0)).toBe(true);
  });

  it("checks the wire order of a spoken reply", () => {
    const good = ["stt", "tts start", "llm", "sentence_start", "frame", "sentence_start", "frame", "tts stop"];
    expect(orderOk(good)).toBe(true);
    expect(orderOk(good.filter((o) => o !== "llm"))).toBe(false);
    expect(orderOk(["stt", "tts start", "llm", "sentence_start", "frame", "sentence_start", "tts stop"])).toBe(false);
    expect(orderOk([...good, "frame"])).toBe(false);
    expect(orderOk(["stt", "tts start", "llm", "frame", "sentence_start", "frame", "tts stop"])).toBe(false);
  });

  it("reads the Worker's voice.turn lines out of wrangler's output, in order per device", () => {
    const line = (deviceId: string, firstFrameMs: number) =>
      JSON.stringify({ level: "info", event: "voice.turn", deviceId, trigger: "vad", audioMs: 4200, firstFrameMs, serverOverheadMs: 2, frames: 60 });
    const output = [
      "[wrangler:info] GET /supie/ota/ 200 OK (3ms)",
      line("aa", 431),
      `${line("bb", 500)}`,
      JSON.stringify({ level: "info", event: "device.hello", deviceId: "aa" }),
      `  ${line("aa", 440)}`,
      '{"level":"info","event":"voice.turn", cut',
    ].join("\n");
    const logs = turnLogs(output, new Set(["aa"]));
    expect([...logs.keys()]).toEqual(["aa"]);
    expect(logs.get("aa")!.map((l) => l.firstFrameMs)).toEqual([431, 440]);
  });
});

describe("voice with a tool round: helpers", () => {
  it("adds up the providers' fixed time on the critical path: ASR beyond its early start, one LLM first byte per round, TTS", () => {
    const o = { asrMs: 100, llmMs: 200, ttsMs: 100 };
    expect(ASR_HEAD_START_MS).toBe(VAD_SILENCE_MS - 300);
    expect(criticalPathMs(o, 1, 0)).toEqual({ ms: 400, asrMs: 100, llmMs: 200, text: "ASR 100 + LLM 200 + TTS 100" });
    expect(criticalPathMs(o, 2, 0)).toMatchObject({ ms: 600, text: "ASR 100 + LLM 2 × 200 + TTS 100" });
    // Recognition started 400 ms before the end of speech: a 100 ms recogniser is off the path, a 500 ms one half on it.
    expect(criticalPathMs(o, 2, 400, false)).toMatchObject({ ms: 500, asrMs: 0 });
    expect(criticalPathMs({ ...o, asrMs: 500 }, 1, 400, false)).toMatchObject({ ms: 400, asrMs: 100 });
    // And the first LLM round started on that answer: 100 + 200 fits in the 400 ms, 300 + 200 does not by 100.
    expect(criticalPathMs(o, 1, 400)).toMatchObject({ ms: 100, asrMs: 0, llmMs: 0 });
    expect(criticalPathMs(o, 2, 400)).toMatchObject({ ms: 300, asrMs: 0, llmMs: 200 });
    expect(criticalPathMs({ ...o, asrMs: 300 }, 1, 400)).toMatchObject({ ms: 200, asrMs: 0, llmMs: 100 });
    expect(criticalPathMs({ ...o, asrMs: 500 }, 1, 400)).toMatchObject({ ms: 400, asrMs: 100, llmMs: 200 });
    expect(criticalPathMs(o).ms).toBe(criticalPathMs(o, 1, ASR_HEAD_START_MS, true).ms);
  });

  it("scripts the fake: a tool call under the name the Worker offers, then the answer after the tool's result", () => {
    const answer = toolRoundAnswer({ tool: "self.audio_speaker.set_volume", arguments: { volume: 50 } }, "好的。");
    const req = (messages: ChatRequestInfo["messages"]) => ({ messages, model: "m", body: {}, headers: {}, tools: [], toolChoice: "auto", images: [] });
    const offered = new ToolNames([{ name: "self.audio_speaker.set_volume" } as TurnTool]).entries()[0]![0];
    expect(
      answer(
        req([
          { role: "system", content: "s" },
          { role: "user", content: "把音量调到五十" },
        ]),
      ),
    ).toEqual({
      tool_calls: [{ name: offered, arguments: { volume: 50 } }],
    });
    const after = [
      { role: "user", content: "把音量调到五十" },
      { role: "assistant", content: null, tool_calls: [] },
      { role: "tool", tool_call_id: "call_1", content: "true" },
    ];
    expect(answer(req(after))).toBe("好的。");
    // The next turn starts with a user message again (history keeps only what was spoken).
    expect(answer(req([...after.slice(0, 1), { role: "assistant", content: "好的。" }, { role: "user", content: "再来一次" }]))).toHaveProperty("tool_calls");
  });

  it("finds the devices whose MCP setup the Worker has not logged as ready", () => {
    const output = [
      JSON.stringify({ level: "info", event: "mcp.ready", deviceId: "aa", tools: 24, pages: 2 }),
      JSON.stringify({ level: "warn", event: "mcp.setup_failed", deviceId: "bb" }),
    ].join("\n");
    expect(notReady(output, ["aa", "bb", "cc"])).toEqual(["bb", "cc"]);
  });

  it("counts the tool calls and their round trip beyond the device's latency", () => {
    const call = (ms: number, ok = true): ToolCallLog => ({ name: "self.audio_speaker.set_volume", kind: "device", ms, ok, code: ok ? null : "TIMEOUT" });
    const side = { received: 3, answered: 3, lateMs: [1, 2, 3] };
    const t = toolFigures([call(155), call(160), call(20000, false)], side, 3, 2, 3, 150);
    expect(t.failed).toBe(1);
    expect(t.beyond).toMatchObject({ n: 2, p50: 5, p99: 10 });
    const byName = Object.fromEntries(t.figures.map((f) => [f.name, f]));
    expect(byName["tool calls made (voice.tool; of 3 turns)"]?.checks?.[0]?.pass).toBe(true);
    expect(byName["tool calls failed (voice.tool ok:false)"]?.checks?.[0]?.pass).toBe(false);
    expect(byName["turns with exactly one tool round and call (of 3 logged)"]?.ours).toBe(2);
  });
});

describe("benchmark clients", () => {
  // A stand-in for the bare echo object: answers the hello, then sends two more messages.
  async function echoServer() {
    const urls: string[] = [];
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    wss.on("connection", (ws, req) => {
      urls.push(req.url ?? "");
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString()) as Json;
        if (m.type !== "hello") return;
        ws.send(JSON.stringify({ type: "hello", transport: "websocket", session_id: "s" }));
        ws.send(JSON.stringify({ type: "peer", event: "message", n: 1 }));
        ws.send(JSON.stringify({ type: "peer", event: "message", n: 2 }));
      });
    });
    const base = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    return { base, urls, close: () => new Promise<void>((r) => wss.close(() => r())) };
  }

  it("opens bare devices with their options, with or without the hello", async () => {
    const srv = await echoServer();
    try {
      const plain = await echoTarget(() => srv.base).open("aa:bb:cc:00:00:01", 2000);
      expect(plain.client.hello).toMatchObject({ type: "hello" });
      await plain.client.close();
      const flagged = await echoTarget(() => srv.base, { presence: true, inbox: true, voice: true }).open("aa:bb:cc:00:00:02", 2000, { hello: false });
      expect(flagged.client.hello).toBeUndefined();
      await flagged.client.close();
      expect(srv.urls).toEqual(["/__bench/echo/aa%3Abb%3Acc%3A00%3A00%3A01", "/__bench/echo/aa%3Abb%3Acc%3A00%3A00%3A02?presence=1&inbox=1&voice=1"]);
    } finally {
      await srv.close();
    }
  });

  it("lets a tap see messages first and consume them", async () => {
    const srv = await echoServer();
    try {
      const { client } = await echoTarget(() => srv.base).open("aa:bb:cc:00:00:03", 2000, { hello: false });
      const seen: Array<[number, number]> = [];
      const untap = client.tap((m, at) => {
        seen.push([m.n as number, at]);
        return m.n === 1; // consumes the first peer message only
      });
      const second = client.next((m) => m.n === 2, 2000);
      client.send(FIRMWARE_HELLO);
      expect(await second).toMatchObject({ n: 2 });
      expect(seen.map(([n]) => n)).toEqual([undefined, 1, 2]);
      expect(seen.every(([, at]) => at > 0)).toBe(true);
      expect(client.received.map((m) => m.type)).toEqual(["hello", "peer"]);
      untap();
      await client.close();
    } finally {
      await srv.close();
    }
  });
});
