import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { redactText, truncate } from "../log.ts";
import { extractJsonObject, type JsonExtractErrorCode } from "./json-extract.ts";

// The LLM provider behind a small interface, implemented with the openai SDK against any
// OpenAI-compatible base URL. Portable: no runtime imports. Never throws: every failure is a
// result with a code, and no message ever carries the API key. No retries here (maxRetries 0):
// callers decide, since a device is waiting.

export interface LlmRequest {
  system: string;
  user: string;
  maxTokens?: number;
  temperature?: number;
  /** Ask for a JSON object (`response_format: {type:"json_object"}`). */
  json?: boolean;
  signal?: AbortSignal;
  /** Overrides the client's timeout (default 20 s) for this request. */
  timeoutMs?: number;
}

export type LlmErrorCode = "LLM_NOT_CONFIGURED" | "LLM_TIMEOUT" | "LLM_HTTP_ERROR" | "LLM_BAD_RESPONSE" | "LLM_EMPTY";

export type LlmResult = { ok: true; text: string; model: string; elapsedMs: number } | { ok: false; code: LlmErrorCode; message: string };

export interface Llm {
  complete(req: LlmRequest): Promise<LlmResult>;
}

export interface LlmConfig {
  baseUrl: string;
  apiKey: string;
  model: string;
  /** Default per-request timeout; 20 s when absent. */
  timeoutMs?: number;
  /** A fetch implementation for runtimes without a usable global one. */
  fetch?: typeof fetch;
}

export interface LlmSettings {
  LLM_BASE_URL: string;
  LLM_API_KEY: string;
  LLM_MODEL: string;
}

export const DEFAULT_LLM_TIMEOUT_MS = 20_000;
const MAX_CACHED_CLIENTS = 16;
// The SDK refuses to start without a key; local OpenAI-compatible servers often need none.
const NO_KEY = "sk-no-key";

const notConfigured: Llm = {
  complete: async () => ({ ok: false, code: "LLM_NOT_CONFIGURED", message: "LLM_BASE_URL is not set" }),
};

export function createLlm(config: LlmConfig): Llm {
  const baseUrl = config.baseUrl.trim();
  if (!baseUrl) return notConfigured;
  const apiKey = config.apiKey.trim();
  const model = config.model.trim();
  const defaultTimeout = config.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS;
  const clean = (text: string) => sanitize(text, apiKey);

  let client: OpenAI;
  try {
    client = new OpenAI({
      baseURL: baseUrl,
      apiKey: apiKey || NO_KEY,
      // Nothing from the process environment leaks into requests to a third-party base URL.
      organization: null,
      project: null,
      timeout: defaultTimeout,
      maxRetries: 0,
      logLevel: "off",
      ...(config.fetch ? { fetch: config.fetch } : {}),
    });
  } catch (err) {
    const message = clean(`LLM client could not be created: ${errorText(err)}`);
    return { complete: async () => ({ ok: false, code: "LLM_NOT_CONFIGURED", message }) };
  }

  return {
    async complete(req: LlmRequest): Promise<LlmResult> {
      const started = Date.now();
      if (req.signal?.aborted) return { ok: false, code: "LLM_TIMEOUT", message: "aborted by caller" };
      const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [];
      if (req.system) messages.push({ role: "system", content: req.system });
      messages.push({ role: "user", content: req.user });
      let completion: unknown;
      try {
        completion = await client.chat.completions.create(
          {
            model,
            messages,
            stream: false,
            ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
            ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
            ...(req.json ? { response_format: { type: "json_object" as const } } : {}),
          },
          { timeout: req.timeoutMs ?? defaultTimeout, maxRetries: 0, ...(req.signal ? { signal: req.signal } : {}) },
        );
      } catch (err) {
        return failure(err, clean);
      }
      const text = contentOf(completion);
      if (text === undefined) return { ok: false, code: "LLM_BAD_RESPONSE", message: "response has no choices[0].message" };
      if (text.trim() === "") return { ok: false, code: "LLM_EMPTY", message: "the model returned no content" };
      const answeredModel = (completion as { model?: unknown }).model;
      return {
        ok: true,
        text: text.trim(),
        model: typeof answeredModel === "string" && answeredModel ? answeredModel : model,
        elapsedMs: Date.now() - started,
      };
    },
  };
}

/** `choices[0].message.content` as a string ("" for null), or undefined when the shape is wrong. */
function contentOf(completion: unknown): string | undefined {
  if (!completion || typeof completion !== "object") return undefined;
  const choices = (completion as { choices?: unknown }).choices;
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const message = (choices[0] as { message?: unknown } | null)?.message;
  if (!message || typeof message !== "object") return undefined;
  const content = (message as { content?: unknown }).content;
  if (content === null || content === undefined) return "";
  return typeof content === "string" ? content : undefined;
}

function failure(err: unknown, clean: (s: string) => string): LlmResult & { ok: false } {
  if (err instanceof APIUserAbortError) return { ok: false, code: "LLM_TIMEOUT", message: "aborted by caller" };
  if (err instanceof APIConnectionTimeoutError) return { ok: false, code: "LLM_TIMEOUT", message: "the LLM did not answer in time" };
  if (err instanceof APIConnectionError) return { ok: false, code: "LLM_HTTP_ERROR", message: clean(`connection failed: ${causeText(err)}`) };
  if (err instanceof APIError) {
    const status = err.status ?? 0;
    // The SDK's message starts with the status already.
    const detail = err.message.replace(/^\d{3}\s*/, "") || "no detail";
    return { ok: false, code: "LLM_HTTP_ERROR", message: clean(status ? `HTTP ${status}: ${detail}` : detail) };
  }
  if (err instanceof SyntaxError) return { ok: false, code: "LLM_BAD_RESPONSE", message: clean(`response is not JSON: ${err.message}`) };
  if (isAbort(err)) return { ok: false, code: "LLM_TIMEOUT", message: "aborted" };
  return { ok: false, code: "LLM_BAD_RESPONSE", message: clean(errorText(err)) };
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}

/** The innermost useful reason of a network failure ("fetch failed" alone says little). */
function causeText(err: Error): string {
  const parts: string[] = [];
  let cur: unknown = err.cause ?? err;
  for (let depth = 0; cur && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    parts.push(typeof code === "string" ? `${errorText(cur)} (${code})` : errorText(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function sanitize(text: string, apiKey: string): string {
  let out = text;
  if (apiKey) out = out.split(apiKey).join("[redacted]");
  return truncate(redactText(out), 300);
}

// ---------------------------------------------------------------------------------------------
// One client per settings fingerprint.

const clients = new Map<string, Llm>();

/** A hash of base URL, model and key: the cache key, so the raw key is never a map key. */
export function llmFingerprint(settings: LlmSettings): string {
  return hash53(`${settings.LLM_BASE_URL.trim()}\u0000${settings.LLM_MODEL.trim()}\u0000${settings.LLM_API_KEY.trim()}`);
}

export function llmFor(settings: LlmSettings): Llm {
  if (!settings.LLM_BASE_URL.trim()) return notConfigured;
  const key = llmFingerprint(settings);
  const cached = clients.get(key);
  if (cached) {
    // Refresh recency so the bound evicts the least recently used client.
    clients.delete(key);
    clients.set(key, cached);
    return cached;
  }
  const llm = createLlm({ baseUrl: settings.LLM_BASE_URL, apiKey: settings.LLM_API_KEY, model: settings.LLM_MODEL });
  clients.set(key, llm);
  while (clients.size > MAX_CACHED_CLIENTS) {
    const oldest = clients.keys().next().value;
    if (oldest === undefined) break;
    clients.delete(oldest);
  }
  return llm;
}

/** Forgets every cached client (runtime settings changed). */
export function dropLlmClients(): void {
  clients.clear();
}

/** The cache keys (fingerprints), for tests and diagnostics. */
export function cachedLlmFingerprints(): string[] {
  return [...clients.keys()];
}

// cyrb53: a fast, well-mixed, synchronous 53-bit string hash (no crypto needed: it only has to
// keep distinct settings apart without storing the key itself).
function hash53(s: string, seed = 0): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}

// ---------------------------------------------------------------------------------------------
// JSON answers.

export type LlmJsonResult =
  | { ok: true; value: Record<string, unknown>; text: string; model: string; elapsedMs: number }
  | { ok: false; code: LlmErrorCode | JsonExtractErrorCode; message: string; text?: string };

/**
 * complete() (asking for JSON unless `json:false`) then extractJsonObject(). On an output failure
 * the raw text is returned too, for heuristics and logs.
 */
export async function completeJson(llm: Llm, req: LlmRequest): Promise<LlmJsonResult> {
  const result = await llm.complete({ ...req, json: req.json ?? true });
  if (!result.ok) return result;
  const extracted = extractJsonObject(result.text);
  if (!extracted.ok) {
    const why =
      extracted.code === "LLM_OUTPUT_TRUNCATED"
        ? "the JSON in the answer is cut off"
        : extracted.code === "LLM_OUTPUT_EMPTY"
          ? "the answer is empty"
          : "the answer contains no JSON object";
    return { ok: false, code: extracted.code, message: why, text: result.text };
  }
  return { ok: true, value: extracted.value, text: result.text, model: result.model, elapsedMs: result.elapsedMs };
}
