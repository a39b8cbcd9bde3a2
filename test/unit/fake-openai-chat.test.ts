import OpenAI, { BadRequestError } from "openai";
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ANSWER, startFakeOpenAI, SUPPRESSED_TOOL_CALLS_TEXT, type FakeOpenAI } from "../../scripts/fake-openai.ts";

// Chat features of the fake that the voice turn and the tool loop rely on, through the real SDK:
// streamed deltas, scripted tool-call rounds (streamed and not), tools refused, image prompts.

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

const VOLUME_TOOL: ChatCompletionTool = {
  type: "function",
  function: {
    name: "self_audio_speaker_set_volume",
    description: "Set the speaker volume",
    parameters: { type: "object", properties: { volume: { type: "integer", minimum: 0, maximum: 100 } }, required: ["volume"] },
  },
};
const STATUS_TOOL: ChatCompletionTool = {
  type: "function",
  function: { name: "self_get_device_status", description: "Device status", parameters: { type: "object", properties: {} } },
};
const user = (content: string): ChatCompletionMessageParam[] => [
  { role: "system", content: "You are a voice assistant." },
  { role: "user", content },
];

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe("streamed chat", () => {
  it("splits the answer into several deltas, keeps an opening emoji whole, and ends with a finish_reason", async () => {
    const answer = "😀 今天天气不错，适合出去走走。我们去公园吧！";
    fake.setAnswer(answer);
    const chunks = await collect(await client.chat.completions.create({ model: "m", messages: user("天气"), stream: true }));
    const deltas = chunks.map((c) => c.choices[0]?.delta.content ?? "").filter((d) => d !== "");
    expect(deltas.length).toBeGreaterThanOrEqual(5);
    expect(deltas.join("")).toBe(answer);
    expect(deltas[0]?.startsWith("😀")).toBe(true);
    expect(deltas.every((d) => !/[\ud800-\udbff]$/.test(d))).toBe(true); // no delta ends in half a surrogate pair
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(fake.chats[0]).toMatchObject({ stream: true, outcome: "text", text: answer, finishReason: "stop" });
    expect(fake.chats[0]?.chunks).toBe(chunks.length);
  });

  it("delta size follows chunkChars", async () => {
    fake.setAnswer("abcdefghij");
    fake.setChatOptions({ chunkChars: 2 });
    const chunks = await collect(await client.chat.completions.create({ model: "m", messages: user("x"), stream: true }));
    expect(chunks.map((c) => c.choices[0]?.delta.content).filter(Boolean)).toEqual(["ab", "cd", "ef", "gh", "ij"]);
  });

  it("applies the per-chunk delay between events and records it", async () => {
    fake.setAnswer("one two three");
    fake.setLatency({ llmChunk: 3 });
    const chunks = await collect(await client.chat.completions.create({ model: "m", messages: user("x"), stream: true }));
    expect(fake.chats[0]?.streamDelayMs).toBe(3 * (chunks.length - 1));
    expect(fake.requests[0]?.streamDelayMs).toBe(3 * (chunks.length - 1));
  });
});

describe("tool calls", () => {
  it("streams a tool-call round the way OpenAI does; the SDK's accumulated arguments parse to the scripted JSON", async () => {
    fake.setAnswer([{ tool_calls: [{ name: "self_audio_speaker_set_volume", arguments: { volume: 50 } }] }, "好的，音量已经调到50。"]);
    const raw = await collect(await client.chat.completions.create({ model: "m", messages: user("把音量调到50"), tools: [VOLUME_TOOL], stream: true }));
    const toolDeltas = raw.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(toolDeltas[0]).toMatchObject({ index: 0, type: "function", function: { name: "self_audio_speaker_set_volume", arguments: "" } });
    expect(toolDeltas[0]?.id).toMatch(/^call_/);
    const argDeltas = toolDeltas.slice(1);
    expect(argDeltas.length).toBeGreaterThanOrEqual(2);
    expect(argDeltas.every((d) => d.index === 0 && d.id === undefined && d.function?.name === undefined)).toBe(true);
    expect(JSON.parse(argDeltas.map((d) => d.function?.arguments ?? "").join(""))).toEqual({ volume: 50 });
    expect(raw.at(-1)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(raw[0]?.choices[0]?.delta).toMatchObject({ role: "assistant", content: null });

    // The second round: the tool result is fed back, tools are still offered, tool_choice "none".
    const call = toolDeltas[0];
    const stream = client.chat.completions.stream({
      model: "m",
      stream: true,
      tools: [VOLUME_TOOL],
      tool_choice: "none",
      messages: [
        ...user("把音量调到50"),
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: call?.id ?? "", type: "function", function: { name: "self_audio_speaker_set_volume", arguments: '{"volume":50}' } }],
        },
        { role: "tool", tool_call_id: call?.id ?? "", content: "true" },
      ],
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe("好的，音量已经调到50。");
    expect(fake.chats.map((c) => c.outcome)).toEqual(["tool_calls", "text"]);
    expect(fake.chats[1]?.toolChoice).toBe("none");
    expect(fake.chats[1]?.messages.at(-1)).toMatchObject({ role: "tool", tool_call_id: call?.id, content: "true" });
    expect(fake.chats[0]?.toolCalls).toEqual([{ id: call?.id, name: "self_audio_speaker_set_volume", arguments: '{"volume":50}' }]);
  });

  it("the SDK's stream helper accumulates several calls of one round", async () => {
    fake.setAnswer({
      text: "我先看看。",
      tool_calls: [
        { name: "self_get_device_status", arguments: {} },
        { name: "self_audio_speaker_set_volume", arguments: { volume: 75 }, id: "call_fixed" },
      ],
    });
    const stream = client.chat.completions.stream({ model: "m", messages: user("大声点"), tools: [STATUS_TOOL, VOLUME_TOOL], stream: true });
    const final = await stream.finalChatCompletion();
    const message = final.choices[0]?.message;
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(message?.content).toBe("我先看看。");
    const calls = (message?.tool_calls ?? []).map((c) =>
      c.type === "function" ? { id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) as unknown } : null,
    );
    expect(calls[0]).toMatchObject({ name: "self_get_device_status", args: {} });
    expect(calls[1]).toEqual({ id: "call_fixed", name: "self_audio_speaker_set_volume", args: { volume: 75 } });
  });

  it("answers tool calls without streaming too", async () => {
    fake.setAnswer([{ tool_calls: [{ name: "self_audio_speaker_set_volume", arguments: { volume: 50 } }] }]);
    const res = await client.chat.completions.create({ model: "m", messages: user("音量50"), tools: [VOLUME_TOOL] });
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ volume: 50 });
  });

  it("sends string arguments verbatim, so malformed arguments can be scripted", async () => {
    fake.setAnswer({ tool_calls: [{ name: "self_audio_speaker_set_volume", arguments: '{"volume":"fifty"' }] });
    const res = await client.chat.completions.create({ model: "m", messages: user("x"), tools: [VOLUME_TOOL] });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.arguments).toBe('{"volume":"fifty"');
  });

  it("a script is a queue of rounds, one per request, then the default answer", async () => {
    fake.setAnswer([
      { tool_calls: [{ name: "self_get_device_status" }] },
      { tool_calls: [{ name: "self_audio_speaker_set_volume", arguments: { volume: 10 } }] },
      "done",
    ]);
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      const res = await client.chat.completions.create({ model: "m", messages: user("x"), tools: [STATUS_TOOL, VOLUME_TOOL] });
      outcomes.push(
        res.choices[0]?.message.tool_calls?.[0]?.type === "function" ? res.choices[0].message.tool_calls[0].function.name : res.choices[0]?.message.content,
      );
    }
    expect(outcomes).toEqual(["self_get_device_status", "self_audio_speaker_set_volume", "done", DEFAULT_ANSWER]);
  });

  it("never returns tool calls to a request that offered none (no tools, or tool_choice none)", async () => {
    fake.setAnswer([{ tool_calls: [{ name: "self_get_device_status" }] }, { text: "只说话", tool_calls: [{ name: "self_get_device_status" }] }]);
    const first = await client.chat.completions.create({ model: "m", messages: user("x") });
    expect(first.choices[0]?.message.content).toBe(SUPPRESSED_TOOL_CALLS_TEXT);
    expect(first.choices[0]?.message.tool_calls).toBeUndefined();
    const second = await client.chat.completions.create({ model: "m", messages: user("x"), tools: [STATUS_TOOL], tool_choice: "none" });
    expect(second.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: "只说话" } });
    expect(fake.chats.map((c) => c.toolCallsSuppressed)).toEqual([true, true]);
  });

  it("refuses tools with 400 when told to, without using up the round, so the retry without tools gets it", async () => {
    fake.setChatOptions({ refuseTools: true });
    fake.setAnswer(["plain answer"]);
    const err = await client.chat.completions.create({ model: "m", messages: user("x"), tools: [VOLUME_TOOL], stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).status).toBe(400);
    expect((err as BadRequestError).error).toMatchObject({ message: "tools not supported", type: "invalid_request_error" });
    const retry = await client.chat.completions.create({ model: "m", messages: user("x") });
    expect(retry.choices[0]?.message.content).toBe("plain answer");
    expect(fake.chats.map((c) => [c.outcome, c.tools?.length ?? 0])).toEqual([
      ["refused", 1],
      ["text", 0],
    ]);
    expect(fake.requests.map((r) => r.status)).toEqual([400, 200]);
  });

  it("rejects what OpenAI rejects: an empty tools array, tool_choice without tools", async () => {
    const empty = await client.chat.completions.create({ model: "m", messages: user("x"), tools: [] }).catch((e: unknown) => e);
    expect((empty as BadRequestError).status).toBe(400);
    const choiceOnly = await client.chat.completions.create({ model: "m", messages: user("x"), tool_choice: "none" }).catch((e: unknown) => e);
    expect((choiceOnly as BadRequestError).status).toBe(400);
    expect((choiceOnly as BadRequestError).message).toContain("tool_choice");
  });
});

describe("image prompts", () => {
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(1230, 7)]);
  const visionMessages = (url: string): ChatCompletionMessageParam[] => [
    {
      role: "user",
      content: [
        { type: "text", text: "What is in the picture?" },
        { type: "image_url", image_url: { url } },
      ],
    },
  ];

  it("answers with the vision answer and records the image's size and type, without using a chat round", async () => {
    fake.setAnswer(["scripted round"]);
    const res = await client.chat.completions.create({ model: "vision-m", messages: visionMessages(`data:image/jpeg;base64,${jpeg.toString("base64")}`) });
    expect(res.choices[0]?.message.content).toBe("I see a test image. It is 1234 bytes.");
    expect(fake.chats[0]).toMatchObject({ outcome: "vision", images: [{ mime: "image/jpeg", bytes: 1234, sniffed: "jpeg", url: null }] });
    expect((await client.chat.completions.create({ model: "m", messages: user("x") })).choices[0]?.message.content).toBe("scripted round");
  });

  it("takes a configured vision answer (a function sees the images), streamed as well", async () => {
    fake.setVisionAnswer(({ images }) => `a ${images[0]?.sniffed} of ${images[0]?.bytes} bytes`);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    const chunks = await collect(
      await client.chat.completions.create({ model: "m", messages: visionMessages(`data:image/png;base64,${png.toString("base64")}`), stream: true }),
    );
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("a png of 10 bytes");
  });
});
