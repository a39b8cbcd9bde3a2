import { log } from "../log.ts";
import { LazyStore } from "../storage/sql.ts";

// The meeting webhook (PROTOCOL §6.1): signed twice (our X-Meeting-Signature and the Standard
// Webhooks headers), 5 s timeout, one retry after a random 2-5 s with the same webhook-id. The
// outbox row and an alarm timer carry the retry, so it survives the object being evicted; nothing
// here ever blocks the summary or the archive.

export const WEBHOOK_TIMEOUT_MS = 5000;
export const MAX_ATTEMPTS = 2;

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

export type Attempt = { ok: true; status: number } | { ok: false; reason: string };

export async function postWebhook(url: string, secret: string, id: string, body: string, nowMs: number): Promise<Attempt> {
  const headers = await signatureHeaders(secret, id, Math.floor(nowMs / 1000), body);
  try {
    const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
    // The body is not needed; cancelling it frees the connection.
    await res.body?.cancel();
    return res.ok ? { ok: true, status: res.status } : { ok: false, reason: `HTTP ${res.status}` };
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    return { ok: false, reason: name === "TimeoutError" || name === "AbortError" ? "timeout after 5 s" : "unreachable" };
  }
}

export function retryDelayMs(random = Math.random()): number {
  return 2000 + Math.floor(random * 3000);
}

export interface OutboxEntry {
  id: string;
  url: string;
  body: string;
  attempts: number;
}

export class WebhookOutbox extends LazyStore {
  add(id: string, url: string, body: string, now: number): void {
    this.db.exec("INSERT OR IGNORE INTO webhook_outbox (id, url, body, created_at) VALUES (?, ?, ?, ?)", id, url, body, now);
  }

  get(id: string): OutboxEntry | undefined {
    if (!this.schema.exists()) return undefined;
    return this.sql
      .exec<{ id: string; url: string; body: string; attempts: number }>("SELECT id, url, body, attempts FROM webhook_outbox WHERE id = ?", id)
      .toArray()[0];
  }

  attempted(id: string): void {
    this.db.exec("UPDATE webhook_outbox SET attempts = attempts + 1 WHERE id = ?", id);
  }

  remove(id: string): void {
    this.db.exec("DELETE FROM webhook_outbox WHERE id = ?", id);
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
 * One delivery attempt for an outbox entry. Returns when to try again (ms from now), or null when
 * the entry is finished (delivered, or failed twice).
 */
export async function attemptDelivery(outbox: WebhookOutbox, id: string, secret: string, now: number, deviceId: string): Promise<number | null> {
  const entry = outbox.get(id);
  if (!entry) return null;
  outbox.attempted(id);
  const attempt = await postWebhook(entry.url, secret, entry.id, entry.body, now);
  const attemptNo = entry.attempts + 1;
  if (attempt.ok) {
    outbox.remove(id);
    const totals = outbox.count(attemptNo === 1 ? "ok" : "retry_ok");
    log.info("meeting.webhook_delivered", { deviceId, webhookId: id, attempt: attemptNo, status: attempt.status, ...totals });
    return null;
  }
  if (attemptNo >= MAX_ATTEMPTS) {
    outbox.remove(id);
    const totals = outbox.count("fail");
    log.warn("meeting.webhook_failed", { deviceId, webhookId: id, attempts: attemptNo, reason: attempt.reason, ...totals });
    return null;
  }
  const delay = retryDelayMs();
  log.warn("meeting.webhook_retry", { deviceId, webhookId: id, reason: attempt.reason, retryInMs: delay });
  return delay;
}
