import { fileURLToPath } from "node:url";
import { controlRoutes } from "./lib/fake-openai/control.ts";
import { startFakeOpenAI } from "./lib/fake-openai/server.ts";
import {
  ENDPOINT_KINDS,
  FAILURE_MODES,
  type ChatRound,
  type EndpointKind,
  type FailureMode,
  type FakeOpenAI,
  type LatencyConfig,
} from "./lib/fake-openai/types.ts";

// A fake OpenAI-compatible server for tests (real HTTP, real `openai` SDK) and for trying the Worker
// by hand. Endpoints: POST /v1/chat/completions (text, scripted tool calls, vision, SSE streaming),
// POST /v1/audio/transcriptions (WAV or Ogg Opus; silence → ""), POST /v1/audio/speech (pcm 24 kHz
// streamed, or wav), GET /v1/models.
//
//   node scripts/fake-openai.ts --port 8788 [--host 127.0.0.1] [--answer '{"a":1}'] [--mode fenced]
//        [--delay-ms 3000] [--api-key sk-test] [--control]
//        [--script '["text",{"tool_calls":[{"name":"f","arguments":{"x":1}}]}]']
//        [--asr-answer TEXT] [--vision-answer TEXT] [--refuse-tools]
//        [--asr-latency-ms N] [--llm-latency-ms N] [--tts-latency-ms N]
//        [--llm-chunk-delay-ms N] [--tts-chunk-delay-ms N]
//        [--tts-wav-rate 22050] [--tts-pcm-as-wav] [--tts-ms-per-cjk 180] [--tts-ms-per-latin 60]
//
// --*-latency-ms: fixed provider time before the first byte of that kind's answers; --*-chunk-delay-ms:
// pause between streamed chat events / speech body writes. --control adds the /__control/* endpoints
// (scripts/lib/fake-openai/control.ts). --mode with --mode-kind asr|llm|tts scopes a failure mode.
//
// Routes live in one table (ROUTES); a new endpoint is one more entry. Failure modes apply to routes
// marked `failable`: transport modes (http500, slow, hang, bad_body) are handled before the route
// runs; content modes (non_json, truncated_json, fenced) reshape the chat answer text (`shapeAnswer`).
// The modules are under scripts/lib/fake-openai/; this file is the entry and re-exports them.

export * from "./lib/fake-openai/types.ts";
export { sendJson, sendError, badRequest, shapeAnswer } from "./lib/fake-openai/http.ts";
export { DEFAULT_ANSWER, DEFAULT_MODEL, SUPPRESSED_TOOL_CALLS_TEXT, defaultVisionAnswer, extractImages } from "./lib/fake-openai/chat.ts";
export { DEFAULT_ASR_ANSWER, PCM_SAMPLE_RATE } from "./lib/fake-openai/audio-routes.ts";
export {
  decodeAudio,
  encodeWav,
  muxOggOpus,
  parseOggOpus,
  parseWav,
  pcmBytes,
  pcmFromBytes,
  rmsDbfs,
  speechDurationMs,
  synthesizeSpeech,
  SILENCE_FLOOR_DBFS,
  type Pcm,
  type SpeechTiming,
} from "./lib/fake-openai/audio.ts";
export { ROUTES, startFakeOpenAI, DEFAULT_LATENCY, DEFAULT_CHAT_OPTIONS, DEFAULT_TTS_OPTIONS, DEFAULT_ASR_OPTIONS } from "./lib/fake-openai/server.ts";
export { controlRoutes } from "./lib/fake-openai/control.ts";

// ---------------------------------------------------------------------------------------------
// CLI.

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        out[a.slice(2)] = next;
        i++;
      } else out[a.slice(2)] = "true";
    }
  }
  return out;
}

function numberArg(args: Record<string, string>, name: string): number | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number, got ${v}`);
  return n;
}

const USAGE = `usage: node scripts/fake-openai.ts [--port 8788] [--host 127.0.0.1] [--api-key KEY] [--control]
  chat:    [--answer TEXT] [--script JSON_ROUNDS] [--vision-answer TEXT] [--refuse-tools]
  asr:     [--asr-answer TEXT]
  tts:     [--tts-wav-rate N] [--tts-pcm-as-wav] [--tts-ms-per-cjk N] [--tts-ms-per-latin N]
  latency: [--asr-latency-ms N] [--llm-latency-ms N] [--tts-latency-ms N] [--llm-chunk-delay-ms N] [--tts-chunk-delay-ms N]
  failure: [--mode MODE] [--mode-kind asr|llm|tts] [--delay-ms N]
modes: ${FAILURE_MODES.join(", ")}
`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const script = args.script === undefined ? undefined : (JSON.parse(args.script) as ChatRound[]);
  if (script !== undefined && !Array.isArray(script)) throw new Error("--script needs a JSON array of rounds");
  const latency: Partial<LatencyConfig> = {
    asr: numberArg(args, "asr-latency-ms"),
    llm: numberArg(args, "llm-latency-ms"),
    tts: numberArg(args, "tts-latency-ms"),
    llmChunk: numberArg(args, "llm-chunk-delay-ms"),
    ttsChunk: numberArg(args, "tts-chunk-delay-ms"),
  };
  let fake: FakeOpenAI | undefined;
  fake = await startFakeOpenAI({
    port: args.port ? Number(args.port) : 8788,
    host: args.host ?? "127.0.0.1",
    answer: script ?? args.answer,
    asrAnswer: args["asr-answer"],
    visionAnswer: args["vision-answer"],
    latency,
    chat: { refuseTools: args["refuse-tools"] === "true" ? true : undefined },
    tts: {
      wavSampleRate: numberArg(args, "tts-wav-rate"),
      pcmAsWav: args["tts-pcm-as-wav"] === "true" ? true : undefined,
      msPerCjk: numberArg(args, "tts-ms-per-cjk"),
      msPerLatin: numberArg(args, "tts-ms-per-latin"),
    },
    apiKey: args["api-key"],
    routes: args.control === "true" ? controlRoutes(() => fake as FakeOpenAI) : [],
    verbose: true,
  });
  if (args.mode) {
    if (!FAILURE_MODES.includes(args.mode as FailureMode)) throw new Error(`unknown mode ${args.mode}; one of ${FAILURE_MODES.join(", ")}`);
    const kind = args["mode-kind"];
    if (kind !== undefined && !ENDPOINT_KINDS.includes(kind as EndpointKind)) throw new Error(`--mode-kind must be one of ${ENDPOINT_KINDS.join(", ")}`);
    fake.setMode(args.mode as FailureMode, { delayMs: numberArg(args, "delay-ms"), ...(kind ? { kind: kind as EndpointKind } : {}) });
  }
  process.stdout.write(`fake-openai listening on ${fake.url} (LLM_BASE_URL=${fake.url})\n`);
  const stop = () => {
    void fake?.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`fake-openai: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
