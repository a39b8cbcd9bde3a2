import type { Settings } from "../../config/settings.ts";
import { openAiChat, type ChatLlm } from "../../llm/chat-stream.ts";
import { openAiAsr, type Asr } from "./asr.ts";
import { openAiTts, type Tts } from "./tts.ts";
import { workersAiAsr, workersAiTts, type AiRunner } from "./workers-ai.ts";

// Which ASR, LLM and TTS a turn uses, from the settings in force: an OpenAI-compatible server when
// its base URL is set, else Workers AI (ASR, TTS) when the Worker has an AI binding and the
// provider setting allows it. A missing provider is a reason the device's alert can name.
// Clients are cached per settings fingerprint and dropped when runtime settings change.

export type Provided<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface VoiceProviders {
  asr: Provided<Asr>;
  llm: Provided<ChatLlm>;
  tts: Provided<Tts>;
}

const MAX_CACHED = 32;
const cache = new Map<string, unknown>();

function cached<T>(key: string, make: () => T): T {
  const hit = cache.get(key) as T | undefined;
  if (hit !== undefined) return hit;
  const made = make();
  cache.set(key, made);
  while (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  return made;
}

/** Forgets every cached client (runtime settings changed). */
export function dropVoiceClients(): void {
  cache.clear();
}

export function providersFor(s: Settings, ai: AiRunner | undefined): VoiceProviders {
  return { asr: asrFor(s, ai), llm: llmFor(s), tts: ttsFor(s, ai) };
}

function asrFor(s: Settings, ai: AiRunner | undefined): Provided<Asr> {
  const openai = s.ASR_PROVIDER === "openai" || (s.ASR_PROVIDER === "auto" && s.ASR_BASE_URL !== "");
  if (openai) {
    if (!s.ASR_BASE_URL) return { ok: false, reason: "ASR is not configured (ASR_BASE_URL)" };
    const cfg = { baseUrl: s.ASR_BASE_URL, apiKey: s.ASR_API_KEY, model: s.ASR_MODEL };
    return { ok: true, value: cached(`asr\0${JSON.stringify(cfg)}`, () => openAiAsr(cfg)) };
  }
  if (ai && s.ASR_PROVIDER !== "openai") return { ok: true, value: workersAiAsr(ai, s.WORKERS_AI_ASR_MODEL) };
  return { ok: false, reason: "ASR is not configured (ASR_BASE_URL or an AI binding)" };
}

function llmFor(s: Settings): Provided<ChatLlm> {
  if (!s.LLM_BASE_URL) return { ok: false, reason: "LLM is not configured (LLM_BASE_URL)" };
  const cfg = { baseUrl: s.LLM_BASE_URL, apiKey: s.LLM_API_KEY, model: s.LLM_MODEL };
  return { ok: true, value: cached(`llm\0${JSON.stringify(cfg)}`, () => openAiChat(cfg)) };
}

function ttsFor(s: Settings, ai: AiRunner | undefined): Provided<Tts> {
  const openai = s.TTS_PROVIDER === "openai" || (s.TTS_PROVIDER === "auto" && s.TTS_BASE_URL !== "");
  if (openai) {
    if (!s.TTS_BASE_URL) return { ok: false, reason: "TTS is not configured (TTS_BASE_URL)" };
    if (!s.TTS_MODEL) return { ok: false, reason: "TTS is not configured (TTS_MODEL)" };
    const cfg = { baseUrl: s.TTS_BASE_URL, apiKey: s.TTS_API_KEY, model: s.TTS_MODEL, voice: s.TTS_VOICE, format: s.TTS_FORMAT, pcmRate: s.TTS_SAMPLE_RATE };
    return { ok: true, value: cached(`tts\0${JSON.stringify(cfg)}`, () => openAiTts(cfg)) };
  }
  if (ai && s.TTS_PROVIDER !== "openai") return { ok: true, value: workersAiTts(ai, s.WORKERS_AI_TTS_MODEL, s.WORKERS_AI_TTS_SPEAKER) };
  return { ok: false, reason: "TTS is not configured (TTS_BASE_URL or an AI binding)" };
}
