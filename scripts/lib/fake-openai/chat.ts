import { approxTokens, badRequest, nextId, sendJson, shapeAnswer, splitText, writeChunk } from "./http.ts";
import type { ChatMessage, ChatRecord, ChatRequestInfo, ChatRound, ChatToolCallRecord, ImageInfo, RouteContext } from "./types.ts";

// POST /v1/chat/completions: scripted rounds (text or tool calls), vision answers for image
// prompts, and OpenAI's SSE stream shape, including how it streams tool calls. Request checks that
// OpenAI itself makes (empty `tools`, `tool_choice` without `tools`) are kept, so a Worker that
// would fail against the real API fails here too.

export const DEFAULT_ANSWER = '{"ok":true,"source":"fake-openai"}';
export const DEFAULT_MODEL = "fake-model";
/** Answered when a round scripts tool calls but the request offered no tools (a real model could not call any). */
export const SUPPRESSED_TOOL_CALLS_TEXT = "(fake-openai: this round scripted tool calls, but the request offered no tools)";

export function defaultVisionAnswer(info: ChatRequestInfo): string {
  const bytes = info.images[0]?.bytes;
  return `I see a test image. It is ${bytes ?? "an unknown number of"} bytes.`;
}

function messageText(messages: ChatMessage[]): string {
  return messages.map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? ""))).join("\n");
}

function sniff(b: Buffer): ImageInfo["sniffed"] {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "png";
  if (b.toString("latin1", 0, 4) === "RIFF" && b.toString("latin1", 8, 12) === "WEBP") return "webp";
  if (b.toString("latin1", 0, 4) === "GIF8") return "gif";
  return null;
}

function imageInfo(url: string): ImageInfo {
  const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!m) return { mime: null, bytes: null, sniffed: null, url };
  const data = m[3] ?? "";
  const bytes = /;base64/i.test(m[2] ?? "") ? Buffer.from(data, "base64") : Buffer.from(decodeURIComponent(data), "latin1");
  return { mime: m[1] || null, bytes: bytes.length, sniffed: sniff(bytes), url: null };
}

/** Image parts of user messages: `{type:"image_url", image_url:{url}}` (or a bare string `image_url`, as some clients send). */
export function extractImages(messages: ChatMessage[]): ImageInfo[] {
  const out: ImageInfo[] = [];
  for (const m of messages) {
    if (m.role !== "user" || !Array.isArray(m.content)) continue;
    for (const part of m.content as unknown[]) {
      if (!part || typeof part !== "object") continue;
      const p = part as { type?: unknown; image_url?: unknown };
      if (p.type !== "image_url") continue;
      const url = typeof p.image_url === "string" ? p.image_url : (p.image_url as { url?: unknown } | undefined)?.url;
      if (typeof url === "string") out.push(imageInfo(url));
    }
  }
  return out;
}

interface Planned {
  text: string | null;
  toolCalls: ChatToolCallRecord[];
}

function plan(round: ChatRound): Planned {
  if (typeof round === "string") return { text: round, toolCalls: [] };
  const toolCalls = (round.tool_calls ?? []).map((c) => ({
    id: c.id ?? nextId("call").replace("-", "_"),
    name: c.name,
    arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments ?? {}),
  }));
  return { text: round.text ?? (toolCalls.length ? null : ""), toolCalls };
}

export async function chatCompletions(ctx: RouteContext): Promise<void> {
  const body = ctx.body;
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    badRequest(ctx.res, "request body must be a JSON object");
    return;
  }
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    badRequest(ctx.res, "messages must be a non-empty array", "messages", "invalid_messages");
    return;
  }
  const messages = b.messages as ChatMessage[];
  const model = typeof b.model === "string" && b.model ? b.model : DEFAULT_MODEL;
  const tools = b.tools === undefined || b.tools === null ? null : Array.isArray(b.tools) ? (b.tools as unknown[]) : [b.tools];
  const info: ChatRequestInfo = { messages, model, body: b, headers: ctx.headers, tools, toolChoice: b.tool_choice, images: extractImages(messages) };
  const stream = b.stream === true;
  const record: ChatRecord = {
    model,
    stream,
    messages,
    tools,
    toolChoice: b.tool_choice,
    images: info.images,
    outcome: "refused",
    text: null,
    toolCalls: [],
    toolCallsSuppressed: false,
    finishReason: null,
    chunks: 0,
    latencyMs: ctx.record.latencyMs,
    streamDelayMs: 0,
    at: ctx.record.at,
  };
  ctx.server.chats.push(record);

  // A refused request consumes no round: the retry without tools gets the round it was scripted for.
  if (tools && ctx.server.chat.refuseTools) {
    badRequest(ctx.res, "tools not supported", "tools");
    return;
  }
  if (tools && tools.length === 0) {
    badRequest(ctx.res, "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.", "tools", "empty_array");
    return;
  }
  if (!tools && b.tool_choice !== undefined && b.tool_choice !== null) {
    badRequest(ctx.res, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice");
    return;
  }

  const vision = info.images.length > 0;
  const planned = vision ? { text: await ctx.server.nextVisionAnswer(info), toolCalls: [] } : plan(await ctx.server.nextRound(info));
  if (planned.toolCalls.length && (!tools || b.tool_choice === "none")) {
    record.toolCallsSuppressed = true;
    planned.text ??= SUPPRESSED_TOOL_CALLS_TEXT;
    planned.toolCalls = [];
  }
  const text = planned.text === null ? null : shapeAnswer(planned.text, ctx.mode);
  const toolCalls = planned.toolCalls;
  const finishReason = toolCalls.length ? "tool_calls" : ctx.mode?.mode === "truncated_json" ? "length" : "stop";
  Object.assign(record, { outcome: vision ? "vision" : toolCalls.length ? "tool_calls" : "text", text, toolCalls, finishReason });

  const id = nextId("chatcmpl");
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = approxTokens(messageText(messages));
  const completionTokens = approxTokens((text ?? "") + toolCalls.map((c) => c.name + c.arguments).join(""));
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const wireCalls = toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));

  if (!stream) {
    const message = { role: "assistant", content: text, refusal: null, ...(wireCalls.length ? { tool_calls: wireCalls } : {}) };
    sendJson(ctx.res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
      usage,
    });
    return;
  }

  const res = ctx.res;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const event = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    event({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const chunkDelay = ctx.server.latency.llmChunk;
  // Each event is its own write, with the configured pause between events after the first.
  const send = async (data: string): Promise<boolean> => {
    if (record.chunks > 0 && chunkDelay > 0) {
      if (!(await ctx.delay(chunkDelay))) return false;
      record.streamDelayMs += chunkDelay;
      ctx.record.streamDelayMs += chunkDelay;
    }
    if (res.destroyed) return false;
    record.chunks += 1;
    await writeChunk(res, data);
    return true;
  };

  let roleSent = false;
  if (text !== null && (text !== "" || toolCalls.length === 0)) {
    if (!(await send(chunk({ role: "assistant", content: "" }, null)))) return;
    roleSent = true;
    for (const piece of splitText(text, ctx.server.chat.chunkChars)) if (!(await send(chunk({ content: piece }, null)))) return;
  }
  for (const [index, call] of toolCalls.entries()) {
    // As OpenAI does: id, type and name in the call's first delta, the arguments in later ones.
    const first = { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] };
    if (!(await send(chunk(roleSent ? first : { role: "assistant", content: null, ...first }, null)))) return;
    roleSent = true;
    for (const piece of splitText(call.arguments, ctx.server.chat.argsChunkChars)) {
      if (!(await send(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null)))) return;
    }
  }
  if (!(await send(chunk({}, finishReason)))) return;
  const streamOptions = b.stream_options as { include_usage?: unknown } | undefined;
  if (streamOptions?.include_usage === true) {
    if (!(await send(event({ id, object: "chat.completion.chunk", created, model, choices: [], usage })))) return;
  }
  res.end("data: [DONE]\n\n");
}
