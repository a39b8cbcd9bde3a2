import { log } from "../log.ts";
import { recordWebhook } from "../metrics/analytics.ts";
import { LazyStore, type Schema, type Sql } from "../storage/sql.ts";

// The meeting webhook (PROTOCOL §6.1): signed twice (our X-Meeting-Signature and the Standard
// Webhooks headers), 5 s timeout, retried after each delay of MEETING_WEBHOOK_RETRY_S (plus up to
// 20 % jitter, so a receiver that comes back is not hit by every device at once) with the same
// webhook-id. The outbox row (the body, the state) and an alarm timer carry the retries, so they
// survive the object being evicted and the server restarting; nothing here ever blocks the
// summary or the archive. The row stays after the last attempt: it is the delivery state the API
// shows, and what a redelivery sends again.

export const WEBHOOK_TIMEOUT_MS = 5000;

export const OUTBOX_MIGRATION = {
  name: "webhook-outbox-v1",
  up: `CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE webhook_stats (outcome TEXT PRIMARY KEY, n INTEGER NOT NULL);`,
};

export const OUTBOX_STATE_MIGRATION = {
  name: "webhook-outbox-v2-state",
  up: `ALTER TABLE webhook_outbox ADD COLUMN state TEXT NOT NULL DEFAULT 'pending';
  ALTER TABLE webhook_outbox ADD COLUMN last_status INTEGER;
  ALTER TABLE webhook_outbox ADD COLUMN series_start INTEGER NOT NULL DEFAULT 0`,
};

/** The delays of MEETING_WEBHOOK_RETRY_S in ms; unparseable entries are skipped. */
export function retrySchedule(setting: string): number[] {
  return setting
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number)
    .filter((n) => Number.isFinite(n) && n >= 0)
    .map((n) => n * 1000);
}

/** The wait after failed attempt `n` of a series (1-based), or null when the series is over. */
export function retryDelayMs(schedule: readonly number[], n: number, random = Math.random()): number | null {
  const base = schedule[n - 1];
  return base === undefined ? null : Math.round(base * (1 + 0.2 * random));
}

const encoder = new TextEncoder();
/** UTF-8 bytes in a buffer of their own (what WebCrypto's typings want on every runtime). */
const utf8 = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(encoder.encode(text));

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(buf: ArrayBuffer): string {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s);
}

/** Standard Webhooks secrets look like `whsec_<base64>`: the key is the decoded part. */
function standardKeyBytes(secret: string): Uint8Array<ArrayBuffer> {
  if (secret.startsWith("whsec_")) {
    try {
      return Uint8Array.from(atob(secret.slice(6)), (c) => c.charCodeAt(0));
    } catch {
      /* not base64: use the text as is */
    }
  }
  return utf8(secret);
}

async function hmac(key: Uint8Array<ArrayBuffer>, text: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, utf8(text));
}

export async function signatureHeaders(secret: string, id: string, timestampS: number, body: string): Promise<Record<string, string>> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestampS),
  };
  if (!secret) return headers;
  headers["x-meeting-signature"] = `sha256=${hex(await hmac(utf8(secret), body))}`;
  headers["webhook-signature"] = `v1,${base64(await hmac(standardKeyBytes(secret), `${id}.${timestampS}.${body}`))}`;
  return headers;
}

export type Attempt = { ok: true; status: number } | { ok: false; reason: string; status: number | null };

export async function postWebhook(url: string, secret: string, id: string, body: string, nowMs: number): Promise<Attempt> {
  const headers = await signatureHeaders(secret, id, Math.floor(nowMs / 1000), body);
  try {
    const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
    // The body is not needed; cancelling it frees the connection.
    await res.body?.cancel();
    return res.ok ? { ok: true, status: res.status } : { ok: false, reason: `HTTP ${res.status}`, status: res.status };
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    return { ok: false, reason: name === "TimeoutError" || name === "AbortError" ? "timeout after 5 s" : "unreachable", status: null };
  }
}

export type DeliveryState = "pending" | "delivered" | "failed";

export interface OutboxEntry {
  id: string;
  url: string;
  body: string;
  attempts: number;
  state: DeliveryState;
  lastStatus: number | null;
  /** Attempts made before the current series (a redelivery starts a new one). */
  seriesStart: number;
}

/** What GET /api/meetings/:id shows. */
export interface WebhookView {
  state: DeliveryState | "off";
  attempts: number;
  lastStatus: number | null;
}

export class WebhookOutbox extends LazyStore {
  constructor(sql: Sql, schema: Schema) {
    super(sql, schema, [OUTBOX_MIGRATION, OUTBOX_STATE_MIGRATION]);
  }

  add(id: string, url: string, body: string, now: number): void {
    this.db.exec("INSERT OR IGNORE INTO webhook_outbox (id, url, body, created_at) VALUES (?, ?, ?, ?)", id, url, body, now);
  }

  get(id: string): OutboxEntry | undefined {
    if (!this.schema.exists()) return undefined;
    const r = this.sql
      .exec<{ id: string; url: string; body: string; attempts: number; state: string; last_status: number | null; series_start: number }>(
        "SELECT id, url, body, attempts, state, last_status, series_start FROM webhook_outbox WHERE id = ?",
        id,
      )
      .toArray()[0];
    if (!r) return undefined;
    return {
      id: r.id,
      url: r.url,
      body: r.body,
      attempts: r.attempts,
      state: r.state as DeliveryState,
      lastStatus: r.last_status,
      seriesStart: r.series_start,
    };
  }

  /** Records an attempt's outcome: still pending (another try is due), delivered or failed. */
  attempted(id: string, state: DeliveryState, lastStatus: number | null): void {
    this.db.exec("UPDATE webhook_outbox SET attempts = attempts + 1, state = ?, last_status = ? WHERE id = ?", state, lastStatus, id);
  }

  /** Starts a new series of attempts with the same id and body; false while one is pending. */
  restart(id: string): boolean {
    const e = this.get(id);
    if (!e || e.state === "pending") return false;
    this.db.exec("UPDATE webhook_outbox SET state = 'pending', series_start = attempts WHERE id = ?", id);
    return true;
  }

  /** Counts final outcomes and returns the totals, for the log line operators read. */
  count(outcome: "ok" | "retry_ok" | "fail"): Record<"ok" | "retry_ok" | "fail", number> {
    this.db.exec("INSERT INTO webhook_stats (outcome, n) VALUES (?, 1) ON CONFLICT(outcome) DO UPDATE SET n = n + 1", outcome);
    const totals = { ok: 0, retry_ok: 0, fail: 0 };
    for (const r of this.db.exec<{ outcome: string; n: number }>("SELECT outcome, n FROM webhook_stats").toArray()) {
      if (r.outcome in totals) totals[r.outcome as keyof typeof totals] = r.n;
    }
    return totals;
  }
}

/**
 * One delivery attempt for a pending outbox entry. Returns when to try again (ms from now), or null
 * when the series is over (delivered, or failed after the last delay of the schedule).
 */
export async function attemptDelivery(
  outbox: WebhookOutbox,
  id: string,
  opts: { secret: string; schedule: readonly number[]; now: number; deviceId: string; random?: number },
): Promise<number | null> {
  const entry = outbox.get(id);
  if (entry?.state !== "pending") return null;
  const started = Date.now();
  const attempt = await postWebhook(entry.url, opts.secret, entry.id, entry.body, opts.now);
  const ms = Date.now() - started;
  const attemptNo = entry.attempts + 1;
  const inSeries = attemptNo - entry.seriesStart;
  const { deviceId } = opts;
  if (attempt.ok) {
    outbox.attempted(id, "delivered", attempt.status);
    recordWebhook({ deviceId, outcome: "delivered", status: attempt.status, attempt: attemptNo, ms });
    const totals = outbox.count(inSeries === 1 ? "ok" : "retry_ok");
    log.info("meeting.webhook_delivered", { deviceId, webhookId: id, attempt: attemptNo, status: attempt.status, ...totals });
    return null;
  }
  const delay = retryDelayMs(opts.schedule, inSeries, opts.random);
  outbox.attempted(id, delay === null ? "failed" : "pending", attempt.status);
  recordWebhook({ deviceId, outcome: delay === null ? "failed" : "retry", status: attempt.status, attempt: attemptNo, ms });
  if (delay === null) {
    const totals = outbox.count("fail");
    log.warn("meeting.webhook_failed", { deviceId, webhookId: id, attempts: attemptNo, reason: attempt.reason, ...totals });
    return null;
  }
  log.warn("meeting.webhook_retry", { deviceId, webhookId: id, attempt: attemptNo, reason: attempt.reason, retryInMs: delay });
  return delay;
}

/** The delivery state of a meeting's webhook. */
export function webhookView(outbox: WebhookOutbox, meetingId: string): WebhookView {
  const e = outbox.get(`wh_${meetingId}`);
  return e ? { state: e.state, attempts: e.attempts, lastStatus: e.lastStatus } : { state: "off", attempts: 0, lastStatus: null };
}
