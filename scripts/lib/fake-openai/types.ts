import type { IncomingMessage, ServerResponse } from "node:http";

// Types shared by the fake OpenAI-compatible server's modules; re-exported from scripts/fake-openai.ts.

export type FailureMode = "http500" | "slow" | "non_json" | "truncated_json" | "fenced" | "hang" | "bad_body";
export const FAILURE_MODES: readonly FailureMode[] = ["http500", "slow", "non_json", "truncated_json", "fenced", "hang", "bad_body"];

/** Which provider a route plays: latency and kind-scoped failure modes are per kind. */
export type EndpointKind = "asr" | "llm" | "tts";
export const ENDPOINT_KINDS: readonly EndpointKind[] = ["asr", "llm", "tts"];

export interface ModeOptions {
  /** Apply to the next N failable requests only (queued after earlier one-shot modes); absent: until changed. */
  times?: number;
  /** `slow`: delay before answering (default 2000 ms). */
  delayMs?: number;
  /** `http500`: status to answer with (default 500; e.g. 429 or 401 to simulate those). */
  status?: number;
  /**
   * Only routes of this kind (a voice turn calls ASR, LLM and TTS, so an unscoped one-shot mode
   * would hit whichever comes first); absent: every failable route.
   */
  kind?: EndpointKind;
}

export interface ActiveMode extends ModeOptions {
  mode: FailureMode;
}

export interface ChatMessage {
  role: string;
  content: unknown;
  [k: string]: unknown;
}

/** An image part of a chat request (`image_url`), as received. */
export interface ImageInfo {
  /** Mime type of a data URI (`data:image/jpeg;base64,...`); null for other URLs. */
  mime: string | null;
  /** Decoded byte length of a data URI; null for other URLs. */
  bytes: number | null;
  /** Format from the magic bytes, to catch a mime type that lies. */
  sniffed: "jpeg" | "png" | "webp" | "gif" | null;
  /** The URL when it is not a data URI. */
  url: string | null;
}

export interface ChatRequestInfo {
  messages: ChatMessage[];
  model: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  /** `tools` as sent (null when absent). */
  tools: unknown[] | null;
  /** `tool_choice` as sent (undefined when absent). */
  toolChoice: unknown;
  /** Image parts of the user messages. */
  images: ImageInfo[];
}

/** One tool call of a scripted round. */
export interface ScriptedToolCall {
  name: string;
  /** An object (sent as its JSON) or a string sent verbatim, so tests can script malformed arguments. */
  arguments?: unknown;
  /** Defaults to a generated `call_...` id. */
  id?: string;
}

/** One LLM round: text, or tool calls (optionally preceded by text, as some models do). */
export type ChatRound = string | { text?: string; tool_calls?: ScriptedToolCall[] };

/** A fixed round, a queue (one per request, then the default answer), or a function of the request. */
export type Answer = ChatRound | ChatRound[] | ((req: ChatRequestInfo) => ChatRound | Promise<ChatRound>);

/** The answer to a chat request with an image: fixed, queued, or a function of the request. */
export type VisionAnswer = string | string[] | ((req: ChatRequestInfo) => string | Promise<string>);

/** What the fake made of an uploaded audio file. */
export interface AudioInfo {
  format: "wav" | "ogg" | "unknown";
  /** Of the decoded audio (Ogg Opus: the OpusHead input rate); null when unknown. */
  sampleRate: number | null;
  channels: number | null;
  durationMs: number | null;
  /** RMS level in dBFS (floored at -120 for digital silence); null when the audio was not decoded. */
  rmsDbfs: number | null;
  /** Size of the uploaded file. */
  bytes: number;
}

export interface TranscriptionRequestInfo extends AudioInfo {
  model: string;
  language: string | null;
  prompt: string | null;
  responseFormat: string;
  filename: string | null;
  mimeType: string | null;
  /** Decoded mono samples (WAV, Ogg Opus at 16 kHz); null when not decoded. */
  samples: Int16Array | null;
  headers: Record<string, string>;
}

/** A fixed text, a queue (one per non-silent request, then the default), or a function of the request. */
export type AsrAnswer = string | string[] | ((req: TranscriptionRequestInfo) => string | Promise<string>);

export interface TranscriptionRecord extends AudioInfo {
  model: string;
  language: string | null;
  prompt: string | null;
  responseFormat: string;
  filename: string | null;
  mimeType: string | null;
  /** The text answered. */
  text: string;
  /** Below the silence threshold, answered "" without consuming the answer queue. */
  silent: boolean;
  latencyMs: number;
  at: number;
}

export interface SpeechRecord {
  model: string;
  voice: unknown;
  input: string;
  /** `response_format` as requested (absent = "mp3", OpenAI's default). */
  requestedFormat: string;
  /** What was answered; null when refused. */
  format: "pcm" | "wav" | null;
  sampleRate: number | null;
  durationMs: number | null;
  speed: number;
  /** Body bytes (WAV: header included). */
  bytes: number;
  /** Separate writes of the body. */
  chunks: number;
  latencyMs: number;
  streamDelayMs: number;
  at: number;
}

export interface ChatToolCallRecord {
  id: string;
  name: string;
  /** As sent: a JSON string. */
  arguments: string;
}

export interface ChatRecord {
  model: string;
  stream: boolean;
  messages: ChatMessage[];
  tools: unknown[] | null;
  toolChoice: unknown;
  images: ImageInfo[];
  /** `refused`: answered 400 (refused or invalid `tools`/`tool_choice`). */
  outcome: "text" | "tool_calls" | "vision" | "refused";
  /** Answer text (null when only tool calls). */
  text: string | null;
  toolCalls: ChatToolCallRecord[];
  /** The round scripted tool calls but the request offered none (no tools, or tool_choice "none"). */
  toolCallsSuppressed: boolean;
  finishReason: string | null;
  /** Stream events written (0 when not streamed). */
  chunks: number;
  latencyMs: number;
  streamDelayMs: number;
  at: number;
}

/** Fixed provider time, applied before the first byte (and between stream chunks). */
export interface LatencyConfig {
  asr: number;
  llm: number;
  tts: number;
  /** Between the events of a streamed chat answer. */
  llmChunk: number;
  /** Between the body writes of a speech answer. */
  ttsChunk: number;
}

export interface ChatOptions {
  /** Answer any request carrying `tools` with 400, like providers without function calling. */
  refuseTools: boolean;
  /** Code points per streamed content delta. */
  chunkChars: number;
  /** Characters of `function.arguments` per streamed tool-call delta. */
  argsChunkChars: number;
}

export interface TtsOptions {
  /** Rate of WAV answers. */
  wavSampleRate: number;
  /** Answer WAV (at `wavSampleRate`) even when pcm was requested, like some compatible servers. */
  pcmAsWav: boolean;
  msPerCjk: number;
  /** Per latin letter, digit, space or punctuation mark. */
  msPerLatin: number;
  minMs: number;
  /** Audio per body write. */
  chunkMs: number;
}

export interface AsrOptions {
  /** Audio below this RMS level is answered "" (null: never). */
  silenceDbfs: number | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names; `authorization` is kept verbatim so tests can check the key was sent. */
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, the fields of a multipart form (files described), else text (undefined when empty). */
  body: unknown;
  raw: Buffer;
  /** The failure mode applied to this request, if any. */
  mode: FailureMode | null;
  /** The provider kind of the route, if any. */
  kind: EndpointKind | null;
  /** Wait applied before the first byte (configured latency plus a `slow` mode delay), once applied. */
  latencyMs: number;
  /** Sum of the per-chunk delays applied while streaming. */
  streamDelayMs: number;
  /** Response status once sent (null while pending or when the client went away first). */
  status: number | null;
  at: number;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  body: unknown;
  raw: Buffer;
  headers: Record<string, string>;
  /** The parsed form of a multipart request, else null. */
  form: FormData | null;
  /** Content mode to apply to the answer text (transport modes never reach the route). */
  mode: ActiveMode | null;
  server: FakeOpenAIState;
  record: RecordedRequest;
  /** Waits; false when the client went away or the server closed meanwhile. */
  delay(ms: number): Promise<boolean>;
}

export interface Route {
  method: string;
  /** Exact path, e.g. "/v1/chat/completions". */
  path: string;
  /** Whether failure modes apply (and consume their "next N" budget). */
  failable: boolean;
  /** Provider kind: selects the latency and kind-scoped modes. */
  kind?: EndpointKind;
  handle(ctx: RouteContext): void | Promise<void>;
}

export interface FakeOpenAIOptions {
  port?: number;
  host?: string;
  answer?: Answer;
  asrAnswer?: AsrAnswer;
  visionAnswer?: VisionAnswer;
  latency?: Partial<LatencyConfig>;
  chat?: Partial<ChatOptions>;
  tts?: Partial<TtsOptions>;
  asr?: Partial<AsrOptions>;
  /** When set, requests without `Authorization: Bearer <apiKey>` get 401. */
  apiKey?: string;
  /** Ids listed by GET /v1/models. */
  models?: string[];
  /** Extra routes, matched before the built-in ones. */
  routes?: Route[];
  /** Log each request to stderr. */
  verbose?: boolean;
}

/** What routes see of the server: answers, current settings and the typed records. */
export interface FakeOpenAIState {
  /** Consumes a chat round and returns its text ("" for a tool-call round without text). */
  nextAnswer(info: ChatRequestInfo): Promise<string>;
  nextRound(info: ChatRequestInfo): Promise<ChatRound>;
  nextVisionAnswer(info: ChatRequestInfo): Promise<string>;
  nextAsrAnswer(info: TranscriptionRequestInfo): Promise<string>;
  models: string[];
  readonly latency: Readonly<LatencyConfig>;
  readonly chat: Readonly<ChatOptions>;
  readonly tts: Readonly<TtsOptions>;
  readonly asr: Readonly<AsrOptions>;
  chats: ChatRecord[];
  transcriptions: TranscriptionRecord[];
  speeches: SpeechRecord[];
  /** The last uploaded audio file as it arrived (for tests that compare it with what was sent). */
  received: { lastAudio: Uint8Array | null };
}

export interface FakeOpenAIConfig {
  latency: LatencyConfig;
  chat: ChatOptions;
  tts: TtsOptions;
  asr: AsrOptions;
}

export interface FakeOpenAI {
  /** Base URL ending in /v1, as OpenAI clients expect. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** One per chat request that got past body validation (refused ones included). */
  chats: ChatRecord[];
  transcriptions: TranscriptionRecord[];
  speeches: SpeechRecord[];
  received: { lastAudio: Uint8Array | null };
  /** Chat rounds: a fixed one, a queue (a script, one round per request), or a function. */
  setAnswer(answer: Answer): void;
  setAsrAnswer(answer: AsrAnswer): void;
  setVisionAnswer(answer: VisionAnswer): void;
  setMode(mode: FailureMode | null, opts?: ModeOptions): void;
  setLatency(latency: Partial<LatencyConfig>): void;
  setChatOptions(opts: Partial<ChatOptions>): void;
  setTtsOptions(opts: Partial<TtsOptions>): void;
  setAsrOptions(opts: Partial<AsrOptions>): void;
  /** Current settings (a copy). */
  config(): FakeOpenAIConfig;
  /** Requests served so far (all paths, or one path such as "/v1/chat/completions"). */
  callCount(path?: string): number;
  /** Clears records and modes; answers and settings go back to the start options. */
  reset(): void;
  close(): Promise<void>;
}
