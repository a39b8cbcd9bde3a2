import { onLogRecord, type LogFields, type LogLevel } from "../log.ts";

// Figures an operator can watch (README "Analytics"): one Workers Analytics Engine data point per
// connect, disconnect, voice turn, provider call, webhook attempt and problem (every warn and error
// log record). One dataset; in every point blob1 is the kind, blob2 the device id and index1 the
// device id too (Analytics Engine samples per index value, so one chatty device cannot crowd the
// others out). The positions of the other blobs and doubles are fixed per kind and listed below;
// a double that was not measured is -1, so averages can leave it out.
//
// Portable: the dataset is anything with `writeDataPoint` (the `ANALYTICS` binding when the
// deployment has one). Without one every record* is a no-op; under `wrangler dev` the binding
// exists and discards the points. Writing never throws and never waits.

export interface DataPoint {
  indexes?: string[];
  blobs?: (string | null)[];
  doubles?: number[];
}

/** The part of the Workers `AnalyticsEngineDataset` binding we use. */
export interface AnalyticsDataset {
  writeDataPoint(point?: DataPoint): void;
}

let bound: AnalyticsDataset | undefined;

function isDataset(v: unknown): v is AnalyticsDataset {
  return typeof (v as AnalyticsDataset | undefined)?.writeDataPoint === "function";
}

/**
 * The dataset record* functions write to when they are given none: the runtime adapters bind
 * `env.ANALYTICS` (or nothing) once per isolate. Warn and error log records become `problem`
 * points from then on.
 */
export function bindAnalytics(dataset: unknown): void {
  bound = isDataset(dataset) ? dataset : undefined;
  onLogRecord(bound ? recordProblemLog : null);
}

/** The dataset in use (for tests and for code that wants to skip work when there is none). */
export function analyticsDataset(): AnalyticsDataset | undefined {
  return bound;
}

const MAX_BLOB = 96;

function blob(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "string" ? v : String(v);
  return s.length > MAX_BLOB ? s.slice(0, MAX_BLOB) : s;
}

function num(v: number | null | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : -1;
}

function write(
  dataset: AnalyticsDataset | undefined,
  kind: string,
  deviceId: string | undefined,
  blobs: unknown[],
  doubles: (number | null | undefined)[],
): void {
  const ds = dataset ?? bound;
  if (!ds) return;
  const id = blob(deviceId);
  try {
    ds.writeDataPoint({ indexes: [id], blobs: [kind, id, ...blobs.map(blob)], doubles: doubles.map(num) });
  } catch {
    // A full buffer (more than 250 points in one invocation) or a bad binding: the figure is lost,
    // the request is not.
  }
}

export interface ConnectPoint {
  deviceId: string;
  /** How the upgrade was authenticated (device-token, jwt, ...). */
  auth: string;
  mode: string | null;
  /** Upgrade accepted → hello answered. */
  helloMs: number;
  /** Live sockets of the device after this one (2 during a handover). */
  sockets: number;
}

/** kind `connect`: blob3 auth, blob4 mode · double1 upgrade→hello ms, double2 live sockets. */
export function recordConnect(p: ConnectPoint, dataset?: AnalyticsDataset): void {
  write(dataset, "connect", p.deviceId, [p.auth, p.mode ?? ""], [p.helloMs, p.sockets]);
}

export interface DisconnectPoint {
  deviceId: string;
  /** The close code (1000 normal, 1006 abnormal, 1012 restart, 4000 idle, 4009 replaced, ...). */
  code: number;
  /** Whether the socket got as far as the hello. */
  helloed: boolean;
  /** Socket open for, ms. */
  connectedMs: number;
  audioFrames: number;
}

/** kind `disconnect`: blob3 close code, blob4 "hello" or "no-hello" · double1 connected ms, double2 audio frames. */
export function recordDisconnect(p: DisconnectPoint, dataset?: AnalyticsDataset): void {
  write(dataset, "disconnect", p.deviceId, [String(p.code), p.helloed ? "hello" : "no-hello"], [p.connectedMs, p.audioFrames]);
}

export interface TurnPoint {
  deviceId: string;
  /** What ended the user's speech: vad, manual, typed, wake, ... */
  trigger: string;
  /** ok, interrupted (barge-in or abort), failed (a provider or the turn failed), empty (nothing recognised). */
  outcome: string;
  /** End of speech → first reply frame sent. */
  firstFrameMs?: number | null;
  asrMs?: number | null;
  llmFirstTokenMs?: number | null;
  ttsFirstAudioMs?: number | null;
  /** firstFrameMs minus the providers' share: our own time. */
  serverOverheadMs?: number | null;
  /** The utterance's length. */
  audioMs?: number | null;
  /** Reply frames sent. */
  frames?: number | null;
  toolCalls?: number | null;
  toolMs?: number | null;
}

/**
 * kind `turn`: blob3 trigger, blob4 outcome · double1 firstFrameMs, double2 asrMs, double3
 * llmFirstTokenMs, double4 ttsFirstAudioMs, double5 serverOverheadMs, double6 audioMs, double7
 * frames, double8 toolCalls, double9 toolMs.
 */
export function recordTurn(p: TurnPoint, dataset?: AnalyticsDataset): void {
  write(
    dataset,
    "turn",
    p.deviceId,
    [p.trigger, p.outcome],
    [p.firstFrameMs, p.asrMs, p.llmFirstTokenMs, p.ttsFirstAudioMs, p.serverOverheadMs, p.audioMs, p.frames, p.toolCalls, p.toolMs],
  );
}

export interface ProviderPoint {
  deviceId?: string;
  /** llm, asr, tts, vision. */
  provider: string;
  /** What the call was for: chat, summary, insight, relay, ... */
  purpose: string;
  model?: string;
  /** ok, or the failure's code (timeout, HTTP 429, LLM_OUTPUT_NOT_JSON, ...). */
  outcome: string;
  /** Request → answer (or → first byte/token for a stream). */
  ms: number;
}

/** kind `provider`: blob3 provider, blob4 purpose, blob5 outcome, blob6 model · double1 ms. */
export function recordProvider(p: ProviderPoint, dataset?: AnalyticsDataset): void {
  write(dataset, "provider", p.deviceId, [p.provider, p.purpose, p.outcome, p.model ?? ""], [p.ms]);
}

export interface WebhookPoint {
  deviceId: string;
  /** delivered, retry (failed, another attempt is scheduled), failed (the series is over). */
  outcome: "delivered" | "retry" | "failed";
  /** The receiver's HTTP status, or null when it was unreachable or timed out. */
  status: number | null;
  /** Attempt number over the meeting's lifetime (1 = first). */
  attempt: number;
  ms: number;
}

/** kind `webhook`: blob3 outcome, blob4 HTTP status ("" when none) · double1 attempt, double2 ms. */
export function recordWebhook(p: WebhookPoint, dataset?: AnalyticsDataset): void {
  write(dataset, "webhook", p.deviceId, [p.outcome, p.status === null ? "" : String(p.status)], [p.attempt, p.ms]);
}

export interface ProblemPoint {
  deviceId?: string;
  level: "warn" | "error";
  /** The log event name, e.g. meeting.webhook_failed, object.entry_failed, auth.rejected. */
  event: string;
  /** A code the record carried, if any. */
  code?: string;
}

/** kind `problem`: blob3 level, blob4 event, blob5 code · double1 1. */
export function recordProblem(p: ProblemPoint, dataset?: AnalyticsDataset): void {
  write(dataset, "problem", p.deviceId, [p.level, p.event, p.code ?? ""], [1]);
}

function recordProblemLog(level: LogLevel, event: string, fields: LogFields): void {
  if (level !== "warn" && level !== "error") return;
  const deviceId = typeof fields.deviceId === "string" ? fields.deviceId : undefined;
  const code = typeof fields.code === "string" || typeof fields.code === "number" ? String(fields.code) : undefined;
  recordProblem({ level, event, ...(deviceId ? { deviceId } : {}), ...(code ? { code } : {}) });
}
