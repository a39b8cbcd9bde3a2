import { deadline, openAiClient, providerError, ProviderError, type OpenAiConfig } from "../../llm/chat-stream.ts";
import { PcmStream } from "../pcm-stream.ts";
import { StreamResampler } from "../resample.ts";

// Text to speech as PCM at the rate the device decodes (its hello's sample_rate), streamed: the
// body is converted chunk by chunk as it arrives, WAV at any rate or raw s16le, resampled on the way.

export interface SpeechRequest {
  text: string;
  /** The rate the caller wants samples at. */
  sampleRate: number;
  voice?: string;
  signal: AbortSignal;
  /** Until the first audio bytes. */
  timeoutMs: number;
}

export interface Tts {
  synthesize(req: SpeechRequest): AsyncGenerator<Int16Array>;
}

/** A streamed audio body (raw PCM at `defaultRate`, or a WAV) as PCM at `sampleRate`. */
export async function* pcmFromBody(
  body: ReadableStream<Uint8Array>,
  defaultRate: number,
  sampleRate: number,
  onFirstBytes: () => void,
): AsyncGenerator<Int16Array> {
  const stream = new PcmStream(defaultRate);
  let resampler: StreamResampler | null = null;
  let first = true;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (first) {
        onFirstBytes();
        first = false;
      }
      const pcm = stream.push(value);
      if (pcm.length === 0) continue;
      resampler ??= new StreamResampler(stream.sampleRate, sampleRate);
      const out = resampler.push(pcm);
      if (out.length) yield out;
    }
    const rest = stream.flush();
    if (rest.length) {
      resampler ??= new StreamResampler(stream.sampleRate, sampleRate);
      const out = resampler.push(rest);
      if (out.length) yield out;
    }
    const tail = resampler?.flush();
    if (tail?.length) yield tail;
  } finally {
    reader.cancel().catch(() => {});
  }
}

export function openAiTts(config: OpenAiConfig & { model: string; voice: string; format: "pcm" | "wav"; pcmRate: number }): Tts {
  const client = openAiClient(config);
  return {
    async *synthesize(req) {
      if (!config.model) throw new ProviderError("TTS", "TTS_MODEL is not set");
      const limit = deadline(req.signal, req.timeoutMs);
      let body: ReadableStream<Uint8Array> | null;
      try {
        const res = await client.audio.speech.create(
          { model: config.model, voice: req.voice || config.voice, input: req.text, response_format: config.format },
          { signal: limit.signal },
        );
        body = res.body;
      } catch (err) {
        limit.clear();
        throw providerError("TTS", err, config.apiKey, req.signal);
      }
      if (!body) {
        limit.clear();
        throw new ProviderError("TTS", "the answer has no audio");
      }
      try {
        yield* pcmFromBody(body, config.pcmRate, req.sampleRate, () => limit.clear());
      } catch (err) {
        throw err instanceof Error && err.name === "ProviderError" ? err : providerError("TTS", err, config.apiKey, req.signal);
      } finally {
        limit.clear();
      }
    },
  };
}
