import { decodeAudio, encodeWav, pcmBytes, synthesizeSpeech } from "./audio.ts";
import { badRequest, writeChunk } from "./http.ts";
import type { RouteContext, SpeechRecord, TranscriptionRecord, TranscriptionRequestInfo, TtsOptions } from "./types.ts";

// POST /v1/audio/transcriptions and POST /v1/audio/speech, shaped like OpenAI's answers so the
// `openai` SDK can be used unchanged. Validation follows the real API where a Worker could get it
// wrong (missing model/file/voice, unsupported formats).

export const DEFAULT_ASR_ANSWER = "今天天气怎么样";
/** OpenAI's `pcm` is 24 kHz s16le mono, whatever is asked. */
export const PCM_SAMPLE_RATE = 24000;

const TRANSCRIPTION_FORMATS = ["json", "text", "verbose_json"];
const OPENAI_SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"];

const field = (form: FormData, name: string): string | null => {
  const v = form.get(name);
  return typeof v === "string" ? v : null;
};

export async function transcriptions(ctx: RouteContext): Promise<void> {
  const form = ctx.form;
  if (!form) {
    badRequest(ctx.res, "Expected a multipart/form-data body");
    return;
  }
  const file = form.get("file");
  if (!file || typeof file === "string") {
    badRequest(ctx.res, "Missing required parameter: 'file'.", "file");
    return;
  }
  const model = field(form, "model");
  if (!model) {
    badRequest(ctx.res, "Missing required parameter: 'model'.", "model");
    return;
  }
  const responseFormat = field(form, "response_format") ?? "json";
  if (!TRANSCRIPTION_FORMATS.includes(responseFormat)) {
    badRequest(
      ctx.res,
      `response_format '${responseFormat}' is not supported by this server; use one of ${TRANSCRIPTION_FORMATS.join(", ")}`,
      "response_format",
    );
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  ctx.server.received.lastAudio = bytes;
  if (bytes.length === 0) {
    badRequest(ctx.res, "Audio file is empty.", "file");
    return;
  }
  let decoded: Awaited<ReturnType<typeof decodeAudio>>;
  try {
    decoded = await decodeAudio(bytes);
  } catch (err) {
    badRequest(ctx.res, `Invalid file format: ${err instanceof Error ? err.message : String(err)}`, "file", "invalid_value");
    return;
  }
  const { samples, ...audio } = decoded;
  const info: TranscriptionRequestInfo = {
    ...audio,
    bytes: bytes.length,
    model,
    language: field(form, "language"),
    prompt: field(form, "prompt"),
    responseFormat,
    filename: file instanceof File ? file.name : null,
    mimeType: file.type || null,
    samples,
    headers: ctx.headers,
  };
  // Recognisers answer silence with nothing; it does not use up a scripted answer.
  const threshold = ctx.server.asr.silenceDbfs;
  const silent = threshold !== null && info.rmsDbfs !== null && info.rmsDbfs < threshold;
  const text = silent ? "" : await ctx.server.nextAsrAnswer(info);
  const { samples: _s, headers: _h, ...kept } = info;
  const record: TranscriptionRecord = { ...kept, text, silent, latencyMs: ctx.record.latencyMs, at: ctx.record.at };
  ctx.server.transcriptions.push(record);

  const seconds = (info.durationMs ?? 0) / 1000;
  if (responseFormat === "text") {
    ctx.res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
    ctx.res.end(text);
    return;
  }
  const value =
    responseFormat === "verbose_json"
      ? { task: "transcribe", language: info.language ?? "chinese", duration: seconds, text, segments: [] }
      : { text, usage: { type: "duration", seconds: Math.ceil(seconds) } };
  const json = JSON.stringify(value);
  ctx.res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  ctx.res.end(json);
}

/**
 * Recent answers of the speech route. Synthesis costs ~7 ms of this process's CPU per second of
 * audio; many devices asking for the same sentence (the benchmark) would queue behind it and turn
 * the fixed latency into a variable one. The signal is deterministic, so a repeat is served as is.
 */
const SPEECH_CACHE_MAX = 32;
const speechCache = new Map<string, { samples: Int16Array; data: Uint8Array }>();

function synthesized(input: string, format: "pcm" | "wav", sampleRate: number, tts: TtsOptions, speed: number, voice: string) {
  const key = JSON.stringify([input, format, sampleRate, tts.msPerCjk, tts.msPerLatin, tts.minMs, speed, voice]);
  const hit = speechCache.get(key);
  if (hit) return hit;
  const samples = synthesizeSpeech(input, sampleRate, tts, { speed, voice });
  const made = { samples, data: format === "wav" ? encodeWav(samples, sampleRate) : pcmBytes(samples) };
  speechCache.set(key, made);
  if (speechCache.size > SPEECH_CACHE_MAX) speechCache.delete(speechCache.keys().next().value!);
  return made;
}

export async function speech(ctx: RouteContext): Promise<void> {
  const body = ctx.body;
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    badRequest(ctx.res, "request body must be a JSON object");
    return;
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== "string" || !b.model) return badRequest(ctx.res, "Missing required parameter: 'model'.", "model");
  if (typeof b.input !== "string" || !b.input) return badRequest(ctx.res, "Missing required parameter: 'input'.", "input");
  if (b.input.length > 4096)
    return badRequest(ctx.res, "Invalid 'input': string too long. Expected a string with maximum length 4096.", "input", "string_above_max_length");
  if (b.voice === undefined || b.voice === null || b.voice === "") return badRequest(ctx.res, "Missing required parameter: 'voice'.", "voice");
  const speed = b.speed === undefined ? 1 : b.speed;
  if (typeof speed !== "number" || !(speed >= 0.25 && speed <= 4)) return badRequest(ctx.res, "Invalid 'speed': expected a number from 0.25 to 4.0.", "speed");
  if (b.stream_format === "sse") return badRequest(ctx.res, "stream_format 'sse' is not supported by this server", "stream_format");
  const requested = typeof b.response_format === "string" ? b.response_format : "mp3";
  if (!OPENAI_SPEECH_FORMATS.includes(requested))
    return badRequest(ctx.res, `Invalid value for 'response_format': '${requested}'.`, "response_format", "invalid_value");
  if (requested !== "pcm" && requested !== "wav") {
    return badRequest(ctx.res, `response_format '${requested}' is not supported by this server; use pcm or wav`, "response_format", "unsupported_value");
  }

  const tts = ctx.server.tts;
  const format: "pcm" | "wav" = requested === "wav" || tts.pcmAsWav ? "wav" : "pcm";
  const sampleRate = format === "pcm" ? PCM_SAMPLE_RATE : tts.wavSampleRate;
  const voice = typeof b.voice === "string" ? b.voice : JSON.stringify(b.voice);
  const { samples, data } = synthesized(b.input, format, sampleRate, tts, speed, voice);
  const record: SpeechRecord = {
    model: b.model,
    voice: b.voice,
    input: b.input,
    requestedFormat: requested,
    format,
    sampleRate,
    durationMs: Math.round((samples.length / sampleRate) * 1000 * 100) / 100,
    speed,
    bytes: data.length,
    chunks: 0,
    latencyMs: ctx.record.latencyMs,
    streamDelayMs: 0,
    at: ctx.record.at,
  };
  ctx.server.speeches.push(record);

  // No content-length: chunked transfer, several writes, so clients see a streaming body.
  const res = ctx.res;
  res.writeHead(200, { "content-type": format === "wav" ? "audio/wav" : "audio/pcm" });
  const step = Math.max(2, Math.round((tts.chunkMs / 1000) * sampleRate) * 2);
  const first = format === "wav" ? 44 + step : step; // the WAV header travels with the first audio
  const chunkDelay = ctx.server.latency.ttsChunk;
  for (let at = 0; at < data.length; ) {
    if (record.chunks > 0 && chunkDelay > 0) {
      if (!(await ctx.delay(chunkDelay))) return;
      record.streamDelayMs += chunkDelay;
      ctx.record.streamDelayMs += chunkDelay;
    }
    if (res.destroyed) return;
    const end = Math.min(data.length, at + (at === 0 ? first : step));
    record.chunks += 1;
    await writeChunk(res, data.subarray(at, end));
    at = end;
  }
  res.end();
}
