import { DEFAULT_ASR_ANSWER } from "./audio-routes.ts";
import { defaultVisionAnswer } from "./chat.ts";
import { badRequest, sendJson } from "./http.ts";
import { ENDPOINT_KINDS, FAILURE_MODES, type ChatRound, type EndpointKind, type FailureMode, type FakeOpenAI, type Route } from "./types.ts";

// HTTP control endpoints (`POST /__control/...`, JSON in and out) for tests that cannot call the
// fake's JS API, e.g. Worker tests inside workerd. Each setter answers with the resulting settings.
// Functions cannot cross HTTP, so answers here are fixed texts or queues.

type Body = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === "boolean" ? v : undefined);
const kindOf = (v: unknown): EndpointKind | undefined => (ENDPOINT_KINDS.includes(v as EndpointKind) ? (v as EndpointKind) : undefined);
const strings = (v: unknown): string | string[] | undefined =>
  typeof v === "string" ? v : Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;

/** A chat answer from JSON: a text, a round object, or a list of rounds (a script). */
function chatAnswer(v: unknown): ChatRound | ChatRound[] {
  if (typeof v === "string" || Array.isArray(v)) return v as ChatRound | ChatRound[];
  if (v && typeof v === "object") return v as ChatRound;
  return String(v);
}

/** Without undefined values, so a patch leaves unset fields alone. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function controlRoutes(getFake: () => FakeOpenAI): Route[] {
  const control = (path: string, handle: (body: Body, f: FakeOpenAI) => unknown): Route => ({
    method: "POST",
    path,
    failable: false,
    handle: (ctx) => {
      const body = ctx.body && typeof ctx.body === "object" && !Array.isArray(ctx.body) ? (ctx.body as Body) : {};
      try {
        sendJson(ctx.res, 200, handle(body, getFake()) ?? { ok: true });
      } catch (err) {
        badRequest(ctx.res, err instanceof Error ? err.message : String(err));
      }
    },
  });
  return [
    control("/__control/answer", (b, f) => f.setAnswer(chatAnswer(b.answer))),
    control("/__control/script", (b, f) => {
      if (!Array.isArray(b.rounds)) throw new Error("rounds must be an array of rounds (a text or {text?, tool_calls?})");
      f.setAnswer(b.rounds as ChatRound[]);
    }),
    control("/__control/mode", (b, f) => {
      const mode = b.mode ?? null;
      if (mode !== null && !FAILURE_MODES.includes(mode as FailureMode)) throw new Error(`unknown mode ${String(mode)}; one of ${FAILURE_MODES.join(", ")}`);
      f.setMode(mode as FailureMode | null, defined({ times: num(b.times), delayMs: num(b.delayMs), status: num(b.status), kind: kindOf(b.kind) }));
    }),
    control("/__control/reset", (_b, f) => f.reset()),
    control("/__control/calls", (b, f) => ({ calls: f.callCount(typeof b.path === "string" ? b.path : "/v1/chat/completions") })),
    control("/__control/asr", (b, f) => {
      if ("answer" in b) f.setAsrAnswer(b.answer === null ? DEFAULT_ASR_ANSWER : (strings(b.answer) ?? String(b.answer)));
      if ("silenceDbfs" in b) f.setAsrOptions({ silenceDbfs: typeof b.silenceDbfs === "number" ? b.silenceDbfs : null });
      return f.config().asr;
    }),
    control("/__control/vision", (b, f) => {
      f.setVisionAnswer(b.answer === null || b.answer === undefined ? defaultVisionAnswer : (strings(b.answer) ?? String(b.answer)));
    }),
    control("/__control/chat", (b, f) => {
      f.setChatOptions(defined({ refuseTools: bool(b.refuseTools), chunkChars: num(b.chunkChars), argsChunkChars: num(b.argsChunkChars) }));
      return f.config().chat;
    }),
    control("/__control/tts", (b, f) => {
      f.setTtsOptions(
        defined({
          wavSampleRate: num(b.wavSampleRate),
          pcmAsWav: bool(b.pcmAsWav),
          msPerCjk: num(b.msPerCjk),
          msPerLatin: num(b.msPerLatin),
          minMs: num(b.minMs),
          chunkMs: num(b.chunkMs),
        }),
      );
      return f.config().tts;
    }),
    control("/__control/latency", (b, f) => {
      f.setLatency(defined({ asr: num(b.asr), llm: num(b.llm), tts: num(b.tts), llmChunk: num(b.llmChunk), ttsChunk: num(b.ttsChunk) }));
      return f.config().latency;
    }),
    control("/__control/config", (_b, f) => f.config()),
    // The last audio file a transcription request uploaded, as base64 (null before any).
    control("/__control/last-audio", (_b, f) => ({ base64: f.received.lastAudio ? Buffer.from(f.received.lastAudio).toString("base64") : null })),
    // Everything recorded, without raw bodies: typed records per endpoint plus a line per request.
    control("/__control/records", (_b, f) => ({
      chats: f.chats,
      transcriptions: f.transcriptions,
      speeches: f.speeches,
      requests: f.requests.map(({ method, path, kind, mode, status, latencyMs, streamDelayMs, at }) => ({
        method,
        path,
        kind,
        mode,
        status,
        latencyMs,
        streamDelayMs,
        at,
      })),
    })),
  ];
}
