import OpenAI from "openai";
import { redactText, truncate } from "../log.ts";

// The streamed chat of a voice turn, over the openai SDK against any OpenAI-compatible base URL:
// text deltas as they arrive (speech starts after the first sentence), and tool calls accumulated
// from their streamed pieces. Portable: no runtime imports. Failures are ProviderErrors that say
// which provider and why, never the key.

export type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam;
export type ChatTool = OpenAI.Chat.ChatCompletionFunctionTool;

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model sent them (JSON text, not yet checked). */
  arguments: string;
}

export type ChatEvent = { type: "text"; text: string } | { type: "done"; toolCalls: ToolCall[]; finishReason: string | null };

export interface ChatRequest {
  messages: ChatMessage[];
  model?: string;
  maxTokens?: number;
  temperature?: number;
  tools?: ChatTool[];
  toolChoice?: "auto" | "none";
  signal: AbortSignal;
  /** Until the first chunk; the stream itself may then take as long as the turn allows. */
  firstChunkTimeoutMs: number;
}

export interface ChatLlm {
  stream(req: ChatRequest): AsyncGenerator<ChatEvent>;
}

/** A provider failure in a turn: the device's alert names the provider and the reason. */
export class ProviderError extends Error {
  readonly provider: "ASR" | "LLM" | "TTS" | "vision";
  readonly status: number | null;
  constructor(provider: ProviderError["provider"], message: string, status: number | null = null) {
    super(message);
    this.name = "ProviderError";
    this.provider = provider;
    this.status = status;
  }
}

export interface OpenAiConfig {
  baseUrl: string;
  apiKey: string;
  /** A fetch for runtimes without a usable global one (tests). */
  fetch?: typeof fetch;
}

// The SDK refuses to start without a key; local OpenAI-compatible servers often need none.
const NO_KEY = "sk-no-key";

export function openAiClient(config: OpenAiConfig): OpenAI {
  return new OpenAI({
    baseURL: config.baseUrl.trim(),
    apiKey: config.apiKey.trim() || NO_KEY,
    // Nothing from the process environment leaks into requests to a third-party base URL.
    organization: null,
    project: null,
    maxRetries: 0,
    logLevel: "off",
    ...(config.fetch ? { fetch: config.fetch } : {}),
  });
}

/** A failure of the SDK as a ProviderError; aborts by the caller are re-thrown as they are. */
export function providerError(provider: ProviderError["provider"], err: unknown, apiKey: string, signal?: AbortSignal): Error {
  if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError");
  if (err instanceof ProviderError) return err;
  const clean = (text: string) => {
    const k = apiKey.trim();
    return truncate(redactText(k ? text.split(k).join("[redacted]") : text), 200);
  };
  if (err instanceof OpenAI.APIConnectionTimeoutError || (err instanceof Error && err.name === "TimeoutError")) {
    return new ProviderError(provider, "did not answer in time");
  }
  if (err instanceof OpenAI.APIError && err.status) {
    return new ProviderError(provider, clean(`HTTP ${err.status}: ${err.message.replace(/^\d{3}\s*/, "") || "no detail"}`), err.status);
  }
  if (err instanceof OpenAI.APIConnectionError) return new ProviderError(provider, "could not be reached");
  return new ProviderError(provider, clean(err instanceof Error ? err.message : String(err)));
}

/** `signal` plus a deadline that only runs until `until` settles (the first chunk). */
export function deadline(signal: AbortSignal, ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError")), ms);
  const onAbort = () => controller.abort(signal.reason);
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
    },
  };
}

interface PartialCall {
  id: string;
  name: string;
  arguments: string;
}

export function openAiChat(config: OpenAiConfig & { model: string }): ChatLlm {
  const client = openAiClient(config);
  return {
    async *stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
      const limit = deadline(req.signal, req.firstChunkTimeoutMs);
      const calls = new Map<number, PartialCall>();
      let finishReason: string | null = null;
      try {
        const stream = await client.chat.completions.create(
          {
            model: req.model || config.model,
            messages: req.messages,
            stream: true,
            ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
            ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
            ...(req.tools?.length ? { tools: req.tools, tool_choice: req.toolChoice ?? "auto" } : {}),
          },
          { signal: limit.signal },
        );
        let first = true;
        for await (const chunk of stream) {
          if (first) {
            // From here on the turn's own signal (barge-in, the socket closing) governs.
            limit.clear();
            first = false;
          }
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          if (choice.finish_reason) finishReason = choice.finish_reason;
          const delta = choice.delta;
          if (delta?.content) yield { type: "text", text: delta.content };
          for (const tc of delta?.tool_calls ?? []) {
            const cur = calls.get(tc.index) ?? { id: "", name: "", arguments: "" };
            if (tc.id) cur.id = tc.id;
            if (tc.function?.name) cur.name += tc.function.name;
            if (tc.function?.arguments) cur.arguments += tc.function.arguments;
            calls.set(tc.index, cur);
          }
        }
      } catch (err) {
        throw providerError("LLM", err, config.apiKey, req.signal);
      } finally {
        limit.clear();
      }
      const toolCalls = [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([i, c]) => ({ id: c.id || `call_${i}`, name: c.name, arguments: c.arguments }))
        .filter((c) => c.name);
      yield { type: "done", toolCalls, finishReason };
    },
  };
}
