// Structured JSON logs, one object per line, as the Cloudflare dashboard (Workers Logs) indexes them.
// Every string is truncated head+tail and anything that looks like a credential is replaced before
// it is written, so no call site has to remember to do either.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const SECRET_KEY = /(token|secret|password|passwd|authorization|api[-_]?key|signature|credential|cookie)/i;
// Bearer values and JWT-shaped strings inside free text (e.g. an error message that quotes a header).
const SECRET_TEXT = [
  /(bearer[+\s]+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g,
  /([?&](?:token|authorization|access_token)=)[^&\s"]+/gi,
];

let maxLength = 2000;
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let minRank = RANK.info;

/** LOG_LEVEL: records below it are not written (per-message lines are debug). */
export function setLogLevel(level: LogLevel): void {
  minRank = RANK[level];
}

/** LOG_MAX_MESSAGE_LENGTH; values under 64 would make logs useless, so they are raised to 64. */
export function setLogMaxLength(n: number): void {
  if (Number.isFinite(n)) maxLength = Math.max(64, Math.floor(n));
}

/** Keeps the head and the tail: the start says what it is, the end usually says why it failed. */
export function truncate(text: string, max = maxLength): string {
  if (text.length <= max) return text;
  const omitted = text.length - max;
  const marker = `…[${omitted} chars omitted]…`;
  const keep = Math.max(0, max - marker.length);
  const head = Math.ceil(keep / 2);
  return text.slice(0, head) + marker + text.slice(text.length - (keep - head));
}

export function redactText(text: string): string {
  let out = text;
  out = out.replace(SECRET_TEXT[0]!, "$1[redacted]");
  out = out.replace(SECRET_TEXT[1]!, "[redacted-jwt]");
  out = out.replace(SECRET_TEXT[2]!, "$1[redacted]");
  return out;
}

function clean(value: unknown, key: string, depth: number): unknown {
  if (key && SECRET_KEY.test(key) && value !== undefined && value !== null && value !== "") {
    return typeof value === "boolean" || typeof value === "number" ? value : "[redacted]";
  }
  if (typeof value === "string") return truncate(redactText(value));
  if (value instanceof Error) return { name: value.name, message: truncate(redactText(value.message)) };
  if (value === null || typeof value !== "object") return value;
  if (depth >= 4) return "[nested]";
  if (Array.isArray(value)) {
    const items = value.slice(0, 20).map((v) => clean(v, "", depth + 1));
    if (value.length > 20) items.push(`[+${value.length - 20} more]`);
    return items;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = clean(v, k, depth + 1);
  return out;
}

/** The record as it is written: exported for tests that check redaction and truncation. */
export function formatLog(level: LogLevel, event: string, fields: LogFields = {}): string {
  const record = clean({ ...fields }, "", 0) as Record<string, unknown>;
  const line = JSON.stringify({ level, event, ...record });
  // A record can still be long when it has many fields; the dashboard truncates silently, we say so.
  return line.length <= maxLength * 4 ? line : JSON.stringify({ level, event, truncated: truncate(line, maxLength * 4) });
}

type LogTap = (level: LogLevel, event: string, fields: LogFields) => void;
let tap: LogTap | null = null;

/** Sees every record, whatever LOG_LEVEL says (the analytics module counts warnings and errors). */
export function onLogRecord(fn: LogTap | null): void {
  tap = fn;
}

function write(level: LogLevel, event: string, fields?: LogFields): void {
  if (tap) {
    try {
      tap(level, event, fields ?? {});
    } catch {
      /* a tap never costs the log line */
    }
  }
  if (RANK[level] < minRank) return;
  const line = formatLog(level, event, fields);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  // console.info, not console.log: `wrangler dev --log-level info` (npm run dev) shows these lines
  // and hides wrangler's own log-level output such as its table of every binding and var.
  else console.info(line);
}

export const log = {
  debug: (event: string, fields?: LogFields) => write("debug", event, fields),
  info: (event: string, fields?: LogFields) => write("info", event, fields),
  warn: (event: string, fields?: LogFields) => write("warn", event, fields),
  error: (event: string, fields?: LogFields) => write("error", event, fields),
};
