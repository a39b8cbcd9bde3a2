import { ProviderError } from "../../llm/chat-stream.ts";
import { encodeWav } from "../wav.ts";
import type { Asr } from "./asr.ts";
import { pcmFromBody, type Tts } from "./tts.ts";

// Workers AI as optional providers behind the same interfaces, used when the Worker has an `AI`
// binding and ASR_PROVIDER / TTS_PROVIDER say so (or no OpenAI-compatible URL is set). Workers AI
// does not run under offline `wrangler dev`; these adapters are unit-tested against a runner that
// answers in the documented shapes.

/** The slice of the `Ai` binding used here. */
export interface AiRunner {
  run(model: string, inputs: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function failure(provider: "ASR" | "TTS", err: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError");
  return err instanceof ProviderError ? err : new ProviderError(provider, `Workers AI: ${err instanceof Error ? err.message : String(err)}`.slice(0, 200));
}

/** `@cf/openai/whisper-large-v3-turbo` (audio as base64) and similar Whisper models. */
export function workersAiAsr(ai: AiRunner, model: string): Asr {
  return {
    async transcribe(pcm, sampleRate, opts) {
      try {
        const out = (await ai.run(
          model,
          { audio: base64(encodeWav(pcm, sampleRate)), ...(opts.language ? { language: opts.language } : {}) },
          { signal: opts.signal },
        )) as {
          text?: unknown;
        };
        return typeof out?.text === "string" ? out.text.trim() : "";
      } catch (err) {
        throw failure("ASR", err, opts.signal);
      }
    },
  };
}

/** `@cf/deepgram/aura-1` asked for raw 16-bit PCM (`encoding: linear16`, `container: none`). */
export function workersAiTts(ai: AiRunner, model: string, speaker: string): Tts {
  const RATE = 24000;
  return {
    async *synthesize(req) {
      let out: unknown;
      try {
        out = await ai.run(
          model,
          { text: req.text, encoding: "linear16", container: "none", sample_rate: RATE, ...(speaker ? { speaker } : {}) },
          { returnRawResponse: true, signal: req.signal },
        );
      } catch (err) {
        throw failure("TTS", err, req.signal);
      }
      const body =
        out instanceof Response ? out.body : out instanceof ReadableStream ? out : out instanceof Uint8Array ? new Blob([out.slice()]).stream() : null;
      if (!body) throw new ProviderError("TTS", "Workers AI answered no audio stream");
      yield* pcmFromBody(body as ReadableStream<Uint8Array>, RATE, req.sampleRate, () => {});
    },
  };
}
