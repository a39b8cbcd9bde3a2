import { deadline, openAiClient, providerError, type OpenAiConfig } from "../../llm/chat-stream.ts";
import { encodeWav } from "../wav.ts";

// Speech to text from one utterance: a WAV of the decoded audio (what every OpenAI-compatible
// recogniser accepts), sent once the turn has ended.

export interface Asr {
  transcribe(pcm: Int16Array, sampleRate: number, opts: { signal: AbortSignal; timeoutMs: number; language?: string }): Promise<string>;
}

export function openAiAsr(config: OpenAiConfig & { model: string }): Asr {
  const client = openAiClient(config);
  return {
    async transcribe(pcm, sampleRate, opts) {
      const limit = deadline(opts.signal, opts.timeoutMs);
      try {
        const file = new File([encodeWav(pcm, sampleRate)], "utterance.wav", { type: "audio/wav" });
        const result = await client.audio.transcriptions.create(
          { file, model: config.model, ...(opts.language ? { language: opts.language } : {}) },
          { signal: limit.signal },
        );
        return typeof result.text === "string" ? result.text.trim() : "";
      } catch (err) {
        throw providerError("ASR", err, config.apiKey, opts.signal);
      } finally {
        limit.clear();
      }
    },
  };
}
