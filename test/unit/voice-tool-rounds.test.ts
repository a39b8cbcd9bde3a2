import { afterEach, describe, expect, it, vi } from "vitest";
import { parseSettings } from "../../src/config/settings.ts";
import { type ChatEvent, type ChatLlm, type ChatMessage, type ChatRequest, ProviderError, type ToolCall } from "../../src/llm/chat-stream.ts";
import { checkArgs } from "../../src/tools/args.ts";
import { ToolNames } from "../../src/tools/names.ts";
import { serverToolSource } from "../../src/tools/server-tools.ts";
import type { HandlerCtx } from "../../src/session/capability.ts";
import type { ToolResult, TurnTool } from "../../src/tools/tool.ts";
import { MAX_CALLS_PER_ROUND, runRounds } from "../../src/voice/chat-rounds.ts";
import { realClock } from "../../src/voice/clock.ts";
import { TurnMetrics } from "../../src/voice/metrics.ts";
import { localTime, systemPrompt } from "../../src/voice/prompt.ts";
import { SentenceSplitter } from "../../src/voice/sentences.ts";

// The tool rounds of a chat turn (PROTOCOL §13) against a scripted LLM, in Node: round limits, the
// per-round call cap, the retry without tools, the metrics and the `voice.tool` line of each call.

type Round = { text?: string; calls?: Array<{ name: string; arguments?: string }> };

function scriptedLlm(rounds: Round[], opts: { refuseTools?: boolean } = {}) {
  const requests: Array<{ tools: string[] | null; toolChoice: string | undefined; messages: unknown[] }> = [];
  const llm: ChatLlm = {
    async *stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
      requests.push({ tools: req.tools?.map((t) => t.function.name) ?? null, toolChoice: req.toolChoice, messages: structuredClone(req.messages) });
      if (opts.refuseTools && req.tools) throw new ProviderError("LLM", "HTTP 400: tools not supported", 400);
      const r = rounds.shift() ?? { text: "Fine." };
      if (r.text) yield { type: "text", text: r.text };
      const toolCalls: ToolCall[] =
        req.toolChoice === "none" ? [] : (r.calls ?? []).map((c, i) => ({ id: `call_${requests.length}_${i}`, name: c.name, arguments: c.arguments ?? "{}" }));
      yield { type: "done", toolCalls, finishReason: toolCalls.length ? "tool_calls" : "stop" };
    },
  };
  return { llm, requests };
}

function tool(
  name: string,
  run: (args: Record<string, unknown>, signal: AbortSignal) => Promise<ToolResult> = async () => ({ ok: true, text: "true" }),
): TurnTool {
  return {
    name,
    kind: "device",
    description: `${name} tool`,
    parameters: { type: "object", properties: { volume: { type: "integer", minimum: 0, maximum: 100 } } },
    run,
  };
}

function setup(rounds: Round[], tools: TurnTool[], raw: Record<string, string> = {}, llmOpts: { refuseTools?: boolean } = {}) {
  const { llm, requests } = scriptedLlm(rounds, llmOpts);
  const said: string[] = [];
  const controller = new AbortController();
  const metrics = new TurnMetrics("typed", Date.now());
  const port = {
    deviceId: "aa:bb:cc:00:00:01",
    settings: parseSettings(raw).settings,
    llm,
    signal: controller.signal,
    clock: realClock,
    metrics,
    splitter: new SentenceSplitter(),
    say: (s: string) => said.push(s),
  };
  return { port, tools, requests, said, metrics, controller, messages: [{ role: "user", content: "hi" }] as ChatMessage[] };
}

function toolLines(spy: { mock: { calls: unknown[][] } }) {
  return spy.mock.calls
    .map((c) => String(c[0]))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.event === "voice.tool");
}

afterEach(() => vi.restoreAllMocks());

describe("tool rounds", () => {
  it("runs the calls of each round in order, feeds results back, speaks every round's text, counts and logs each call", async () => {
    const spy = vi.spyOn(console, "info").mockImplementation(() => {});
    const calls: string[] = [];
    const status = tool("self.get_device_status", async () => {
      calls.push("status");
      return { ok: true, text: '{"volume":70}' };
    });
    const volume = tool("self.audio_speaker.set_volume", async (args) => {
      calls.push(`volume ${args.volume}`);
      return { ok: true, text: "true" };
    });
    const t = setup(
      [
        { text: "Let me check.", calls: [{ name: "self_get_device_status" }] },
        { calls: [{ name: "self_audio_speaker_set_volume", arguments: '{"volume":"50"}' }] },
        { text: "Done." },
      ],
      [status, volume],
    );
    expect(await runRounds(t.port, t.messages, t.tools)).toEqual({ end: null });
    expect(calls).toEqual(["status", "volume 50"]);
    expect(t.said).toEqual(["Let me check.", "Done."]);
    expect(t.requests.map((r) => r.toolChoice)).toEqual(["auto", "auto", "auto"]);
    expect(t.requests[0]!.tools).toEqual(["self_get_device_status", "self_audio_speaker_set_volume"]);
    expect(t.messages.slice(1)).toMatchObject([
      { role: "assistant", content: "Let me check.", tool_calls: [{ function: { name: "self_get_device_status" } }] },
      { role: "tool", content: '{"volume":70}' },
      { role: "assistant", content: null },
      { role: "tool", content: "true" },
    ]);
    expect(t.metrics.fields("x")).toMatchObject({ toolRounds: 2, toolCalls: 2, toolErrors: 0, toolMs: expect.any(Number) });
    expect(toolLines(spy).map((l) => [l.name, l.kind, l.ok, l.code])).toEqual([
      ["self.get_device_status", "device", true, null],
      ["self.audio_speaker.set_volume", "device", true, null],
    ]);
  });

  it(`runs at most ${MAX_CALLS_PER_ROUND} calls per round; the rest are answered with an error`, async () => {
    vi.spyOn(console, "info").mockImplementation(() => {});
    let ran = 0;
    const t1 = tool("t", async () => ({ ok: true, text: String(++ran) }));
    const t = setup([{ calls: Array.from({ length: 10 }, () => ({ name: "t" })) }, { text: "Ok." }], [t1]);
    await runRounds(t.port, t.messages, t.tools);
    expect(ran).toBe(MAX_CALLS_PER_ROUND);
    const results = t.messages.filter((m) => m.role === "tool").map((m) => String(m.content));
    expect(results).toHaveLength(10);
    expect(JSON.parse(results[9]!)).toEqual({ error: `at most ${MAX_CALLS_PER_ROUND} tool calls run per round` });
    expect(t.metrics).toMatchObject({ toolCalls: 10, toolErrors: 2 });
  });

  it("after CHAT_MAX_TOOL_ROUNDS rounds with tools, the last one has tool_choice none", async () => {
    vi.spyOn(console, "info").mockImplementation(() => {});
    const t1 = tool("t");
    const again = { calls: [{ name: "t" }] };
    const t = setup([again, again, again], [t1], { CHAT_MAX_TOOL_ROUNDS: "2" });
    await runRounds(t.port, t.messages, t.tools);
    expect(t.requests.map((r) => r.toolChoice)).toEqual(["auto", "auto", "none"]);
    expect(t.metrics.toolRounds).toBe(2);
  });

  it("a provider refusing tools with 400 is asked once more without them", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const t1 = tool("t");
    const t = setup([{ text: "Plain answer." }], [t1], {}, { refuseTools: true });
    await runRounds(t.port, t.messages, t.tools);
    expect(t.requests.map((r) => r.tools)).toEqual([["t"], null]);
    expect(t.said).toEqual(["Plain answer."]);
    expect(warn.mock.calls.some((c) => String(c[0]).includes("voice.tools_refused"))).toBe(true);
  });

  it("abort during a call ends the rounds; the call is counted and logged as ABORTED", async () => {
    const spy = vi.spyOn(console, "info").mockImplementation(() => {});
    const hanging = tool("t", (_a, signal) => new Promise((_r, reject) => signal.addEventListener("abort", () => reject(signal.reason))));
    const t = setup([{ calls: [{ name: "t" }] }, { text: "never" }], [hanging]);
    const run = runRounds(t.port, t.messages, t.tools);
    setTimeout(() => t.controller.abort(new DOMException("barge-in", "AbortError")), 10);
    await expect(run).rejects.toThrow("barge-in");
    expect(t.requests).toHaveLength(1);
    expect(t.metrics).toMatchObject({ toolCalls: 1, toolErrors: 1 });
    expect(toolLines(spy)).toMatchObject([{ name: "t", ok: false, code: "ABORTED" }]);
  });

  it("a tool that throws is a failed call the model hears about, not a failed turn; unknown names and bad arguments never run", async () => {
    vi.spyOn(console, "info").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    let ran = 0;
    const broken = tool("broken", async () => {
      throw new Error("RPC failed");
    });
    const counted = tool("counted", async () => ({ ok: true, text: String(++ran) }));
    const t = setup(
      [{ calls: [{ name: "broken" }, { name: "self.reboot" }, { name: "counted", arguments: '{"volume":101}' }] }, { text: "Sorry." }],
      [broken, counted],
    );
    await runRounds(t.port, t.messages, t.tools);
    const results = t.messages.filter((m) => m.role === "tool").map((m) => JSON.parse(String(m.content)));
    expect(results).toEqual([
      { error: "the tool failed; try again later" },
      { error: 'no tool named "self.reboot" is offered' },
      { error: "bad arguments: volume must be an integer between 0 and 100" },
    ]);
    expect(ran).toBe(0);
    expect(t.said).toEqual(["Sorry."]);
  });

  it("end_conversation ends the rounds with the goodbye", async () => {
    vi.spyOn(console, "info").mockImplementation(() => {});
    const end: TurnTool = { ...tool("end_conversation"), kind: "server", run: async (a) => ({ ok: true, text: "ok", end: { goodbye: String(a.volume) } }) };
    const t = setup([{ calls: [{ name: "end_conversation", arguments: '{"volume":1}' }] }, { text: "never" }], [end]);
    expect(await runRounds(t.port, t.messages, t.tools)).toEqual({ end: { goodbye: "1" } });
    expect(t.requests).toHaveLength(1);
  });
});

describe("tool names and arguments", () => {
  it("maps names to [A-Za-z0-9_-]{1,64}, distinct, and back", () => {
    const tools = ["self.a.b", "self_a_b", "self.a.b.", "x".repeat(100), "y".repeat(100)].map((n) => tool(n));
    const names = new ToolNames(tools);
    const mapped = tools.map((t) => names.llmName(t));
    expect(mapped.slice(0, 3)).toEqual(["self_a_b", "self_a_b_2", "self_a_b_"]);
    expect(new Set(mapped).size).toBe(5);
    expect(mapped.every((n) => /^[A-Za-z0-9_-]{1,64}$/.test(n))).toBe(true);
    for (const t of tools) expect(names.resolve(names.llmName(t))).toBe(t);
    expect(names.resolve("self.a.b")).toBeNull();
  });

  it("coerces numeric and boolean strings, refuses the rest with a message, drops unknown properties", () => {
    const schema = {
      type: "object" as const,
      properties: {
        n: { type: "integer", minimum: 0, maximum: 10 },
        on: { type: "boolean" },
        s: { type: "string", enum: ["light", "dark"] },
        __proto__: { type: "string" },
      },
      required: ["n"],
    };
    expect(checkArgs(schema, '{"n":"7","on":"true","s":"dark","extra":1}')).toEqual({ ok: true, args: { n: 7, on: true, s: "dark" } });
    expect(checkArgs(schema, "{}")).toEqual({ ok: false, message: "missing: n" });
    expect(checkArgs(schema, '{"n":"7.5"}')).toEqual({ ok: false, message: "n must be an integer between 0 and 10" });
    expect(checkArgs(schema, '{"n":11}')).toEqual({ ok: false, message: "n must be an integer between 0 and 10" });
    expect(checkArgs(schema, '{"n":1,"s":"blue"}')).toEqual({ ok: false, message: 's must be one of "light", "dark"' });
    expect(checkArgs(schema, "[1]")).toEqual({ ok: false, message: "arguments must be a JSON object" });
    expect(checkArgs({ type: "object", properties: {} }, "")).toEqual({ ok: true, args: {} });
    const proto = checkArgs(schema, '{"n":1,"__proto__":{"x":1}}');
    expect(proto.ok && Object.getPrototypeOf(proto.args)).toBe(Object.prototype);
  });
});

describe("the system prompt", () => {
  it("carries the local time at TIMEZONE_OFFSET_MIN, and tool guidance only when tools are offered", () => {
    const at = Date.UTC(2026, 10, 20, 6, 5); // a Friday
    expect(localTime(at, 480)).toBe("Friday 2026-11-20 14:05 (UTC+08:00)");
    expect(localTime(at, -330)).toBe("Friday 2026-11-20 00:35 (UTC-05:30)");
    expect(systemPrompt("Be brief.", at, 0, false)).toBe("Be brief.\n\nLocal time now: Friday 2026-11-20 06:05 (UTC+00:00).");
    expect(systemPrompt("Be brief.", at, 0, true)).toMatch(/Use one only when the user asks/);
  });
});

describe("server tools offered", () => {
  const source = serverToolSource({ peers: {} as never, workflow: {} as never });
  const names = (mode: string | null, raw: Record<string, string> = {}) =>
    (source({ session: { mode, settings: parseSettings(raw).settings } } as unknown as HandlerCtx) as TurnTool[]).map((t) => t.name);

  it("are CHAT_SERVER_TOOLS in its order, none in meeting mode, none when the setting is empty", () => {
    expect(names(null)).toEqual(["end_conversation", "send_message", "list_group_members", "add_task"]);
    expect(names("working", { CHAT_SERVER_TOOLS: "add_task, nope ,add_task" })).toEqual(["add_task"]);
    expect(names("meeting")).toEqual([]);
    expect(names(null, { CHAT_SERVER_TOOLS: "" })).toEqual([]);
  });
});
