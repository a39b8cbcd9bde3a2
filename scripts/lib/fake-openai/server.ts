import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_ASR_ANSWER, speech, transcriptions } from "./audio-routes.ts";
import { chatCompletions, DEFAULT_ANSWER, DEFAULT_MODEL, defaultVisionAnswer } from "./chat.ts";
import { describeForm, parseMultipart, sendError, sendJson } from "./http.ts";
import type {
  ActiveMode,
  Answer,
  AsrAnswer,
  AsrOptions,
  ChatOptions,
  ChatRecord,
  ChatRound,
  EndpointKind,
  FakeOpenAI,
  FakeOpenAIOptions,
  FakeOpenAIState,
  LatencyConfig,
  RecordedRequest,
  Route,
  RouteContext,
  SpeechRecord,
  TranscriptionRecord,
  TtsOptions,
  VisionAnswer,
} from "./types.ts";

// The server: one route table, failure modes (global or one-shot, optionally per provider kind),
// a fixed latency per kind before the first byte, and records of every request.

export const DEFAULT_LATENCY: Readonly<LatencyConfig> = { asr: 0, llm: 0, tts: 0, llmChunk: 0, ttsChunk: 0 };
export const DEFAULT_CHAT_OPTIONS: Readonly<ChatOptions> = { refuseTools: false, chunkChars: 4, argsChunkChars: 6 };
export const DEFAULT_TTS_OPTIONS: Readonly<TtsOptions> = { wavSampleRate: 24000, pcmAsWav: false, msPerCjk: 180, msPerLatin: 60, minMs: 300, chunkMs: 100 };
export const DEFAULT_ASR_OPTIONS: Readonly<AsrOptions> = { silenceDbfs: -50 };

function listModels(ctx: RouteContext): void {
  const created = Math.floor(Date.now() / 1000);
  sendJson(ctx.res, 200, {
    object: "list",
    data: ctx.server.models.map((id) => ({ id, object: "model", created, owned_by: "fake-openai" })),
  });
}

export const ROUTES: readonly Route[] = [
  { method: "POST", path: "/v1/chat/completions", failable: true, kind: "llm", handle: chatCompletions },
  { method: "POST", path: "/v1/audio/transcriptions", failable: true, kind: "asr", handle: transcriptions },
  { method: "POST", path: "/v1/audio/speech", failable: true, kind: "tts", handle: speech },
  { method: "GET", path: "/v1/models", failable: false, handle: listModels },
];

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const text = raw.toString("utf8");
  if (contentType?.includes("json") || /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** A patch of settings: unknown keys and undefined values leave the setting as it is. */
function merge<T extends object>(base: T, patch: Partial<T> | undefined): T {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === undefined || !(k in base)) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** A queue is copied so the caller's array is never consumed. */
const own = <T>(a: T): T => (Array.isArray(a) ? ([...a] as T) : a);

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const chats: ChatRecord[] = [];
  const transcriptionRecords: TranscriptionRecord[] = [];
  const received: { lastAudio: Uint8Array | null } = { lastAudio: null };
  const speeches: SpeechRecord[] = [];
  const routes: Route[] = [...(opts.routes ?? []), ...ROUTES];
  const initial = {
    answer: opts.answer ?? DEFAULT_ANSWER,
    asrAnswer: opts.asrAnswer ?? DEFAULT_ASR_ANSWER,
    visionAnswer: opts.visionAnswer ?? defaultVisionAnswer,
    latency: merge({ ...DEFAULT_LATENCY }, opts.latency),
    chat: merge({ ...DEFAULT_CHAT_OPTIONS }, opts.chat),
    tts: merge({ ...DEFAULT_TTS_OPTIONS }, opts.tts),
    asr: merge({ ...DEFAULT_ASR_OPTIONS }, opts.asr),
  };
  let answer: Answer = own(initial.answer);
  let asrAnswer: AsrAnswer = own(initial.asrAnswer);
  let visionAnswer: VisionAnswer = own(initial.visionAnswer);
  let latency = { ...initial.latency };
  let chat = { ...initial.chat };
  let tts = { ...initial.tts };
  let asr = { ...initial.asr };
  // Global modes per kind ("all" for unscoped); one-shot modes in the order they were set.
  let globalModes = new Map<EndpointKind | "all", ActiveMode>();
  let oneShot: Array<ActiveMode & { remaining: number }> = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closed = false;

  const nextRound = async (info: Parameters<FakeOpenAIState["nextRound"]>[0]): Promise<ChatRound> => {
    if (typeof answer === "function") return answer(info);
    if (Array.isArray(answer)) return answer.shift() ?? DEFAULT_ANSWER;
    return answer;
  };

  const state: FakeOpenAIState = {
    models: opts.models ?? [DEFAULT_MODEL],
    nextRound,
    async nextAnswer(info) {
      const round = await nextRound(info);
      return typeof round === "string" ? round : (round.text ?? "");
    },
    async nextVisionAnswer(info) {
      if (typeof visionAnswer === "function") return visionAnswer(info);
      if (Array.isArray(visionAnswer)) return visionAnswer.shift() ?? defaultVisionAnswer(info);
      return visionAnswer;
    },
    async nextAsrAnswer(info) {
      if (typeof asrAnswer === "function") return asrAnswer(info);
      if (Array.isArray(asrAnswer)) return asrAnswer.shift() ?? DEFAULT_ASR_ANSWER;
      return asrAnswer;
    },
    get latency() {
      return latency;
    },
    get chat() {
      return chat;
    },
    get tts() {
      return tts;
    },
    get asr() {
      return asr;
    },
    chats,
    transcriptions: transcriptionRecords,
    speeches,
    received,
  };

  const takeMode = (kind: EndpointKind | undefined): ActiveMode | null => {
    const index = oneShot.findIndex((m) => m.kind === undefined || m.kind === kind);
    const next = oneShot[index];
    if (next) {
      next.remaining -= 1;
      if (next.remaining <= 0) oneShot.splice(index, 1);
      const { remaining: _r, ...mode } = next;
      return mode;
    }
    return (kind && globalModes.get(kind)) || globalModes.get("all") || null;
  };

  const delay = (ms: number, res: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      if (res.destroyed || closed) return resolve(false);
      const onClose = () => {
        clearTimeout(t);
        timers.delete(t);
        resolve(false);
      };
      const t = setTimeout(() => {
        timers.delete(t);
        res.off("close", onClose);
        resolve(!res.destroyed && !closed);
      }, ms);
      timers.add(t);
      res.once("close", onClose);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://fake");
    const headers = headerRecord(req);
    const method = (req.method ?? "GET").toUpperCase();
    const route = routes.find((r) => r.method === method && r.path === url.pathname.replace(/\/+$/, ""));
    const contentType = headers["content-type"] ?? "";
    const form = contentType.startsWith("multipart/form-data") ? await parseMultipart(raw, contentType) : null;
    const mode = route?.failable ? takeMode(route.kind) : null;
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: form ? describeForm(form) : parseBody(raw, headers["content-type"]),
      raw,
      mode: mode?.mode ?? null,
      kind: route?.kind ?? null,
      latencyMs: 0,
      streamDelayMs: 0,
      status: null,
      at: Date.now(),
    };
    requests.push(record);
    res.once("finish", () => {
      record.status = res.statusCode;
    });
    if (opts.verbose) process.stderr.write(`fake-openai: ${method} ${url.pathname}${mode ? ` [${mode.mode}]` : ""}\n`);

    if (!route) {
      sendError(res, 404, `no route for ${method} ${url.pathname}`, "invalid_request_error", "not_found");
      return;
    }
    if (opts.apiKey !== undefined && headers.authorization !== `Bearer ${opts.apiKey}`) {
      sendError(res, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
      return;
    }
    let wait = route.kind ? latency[route.kind] : 0;
    switch (mode?.mode) {
      case "hang":
        return; // the response stays open until the client gives up or the server closes
      case "http500":
        sendError(res, mode.status ?? 500, "The fake server had an error while processing your request.");
        return;
      case "bad_body": {
        const text = "<html><body>502 upstream proxy says hello</body></html>";
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case "slow":
        wait += mode.delayMs ?? 2000;
        break;
    }
    // Provider time before the first byte, recorded once served so a benchmark can subtract it.
    if (wait > 0) {
      if (!(await delay(wait, res))) return;
      record.latencyMs = wait;
    }
    if (res.destroyed) return;
    await route.handle({ req, res, path: url.pathname, body: record.body, raw, headers, form, mode, server: state, record, delay: (ms) => delay(ms, res) });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `fake-openai handler failed: ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;

  return {
    url: `http://${host}:${addr.port}/v1`,
    port: addr.port,
    requests,
    chats,
    transcriptions: transcriptionRecords,
    speeches,
    received,
    setAnswer(next) {
      answer = own(next);
    },
    setAsrAnswer(next) {
      asrAnswer = own(next);
    },
    setVisionAnswer(next) {
      visionAnswer = own(next);
    },
    setMode(mode, modeOpts = {}) {
      const { times, ...rest } = modeOpts;
      if (mode === null) {
        if (rest.kind === undefined) {
          globalModes = new Map();
          oneShot = [];
        } else {
          globalModes.delete(rest.kind);
          oneShot = oneShot.filter((m) => m.kind !== rest.kind);
        }
        return;
      }
      if (times !== undefined) {
        if (times > 0) oneShot.push({ mode, ...rest, remaining: Math.floor(times) });
      } else {
        globalModes.set(rest.kind ?? "all", { mode, ...rest });
      }
    },
    setLatency(patch) {
      latency = merge(latency, patch);
    },
    setChatOptions(patch) {
      chat = merge(chat, patch);
    },
    setTtsOptions(patch) {
      tts = merge(tts, patch);
    },
    setAsrOptions(patch) {
      asr = merge(asr, patch);
    },
    config() {
      return { latency: { ...latency }, chat: { ...chat }, tts: { ...tts }, asr: { ...asr } };
    },
    callCount(path) {
      return path === undefined ? requests.length : requests.filter((r) => r.path === path).length;
    },
    reset() {
      requests.length = 0;
      chats.length = 0;
      transcriptionRecords.length = 0;
      received.lastAudio = null;
      speeches.length = 0;
      globalModes = new Map();
      oneShot = [];
      answer = own(initial.answer);
      asrAnswer = own(initial.asrAnswer);
      visionAnswer = own(initial.visionAnswer);
      latency = { ...initial.latency };
      chat = { ...initial.chat };
      tts = { ...initial.tts };
      asr = { ...initial.asr };
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
