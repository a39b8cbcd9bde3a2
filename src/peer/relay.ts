import { z } from "zod";
import type { Settings } from "../config/settings.ts";
import { completeJson, llmFor } from "../llm/client.ts";
import { log } from "../log.ts";
import type { PeerEnvelope } from "./messages.ts";

// AI relay (PROTOCOL §9): a `category:"task"` message with free text gets `payload.normalized`
// {title, description, priority, assignees, due} from the LLM. The message is never held back by
// the LLM: on any failure it goes out as sent, with `relay:<code>` saying why.

const RELAY_TIMEOUT_MS = 8000;

const SYSTEM = [
  "You turn a short spoken or typed task request into JSON.",
  'Reply with exactly one JSON object and nothing else: {"title":string,"description":string,"priority":0|1|2|3,"assignees":string[],"due":string|null}.',
  "title: at most 60 characters, imperative, in the language of the request. description: the request restated, at most 300 characters.",
  "priority: 0 low, 1 normal, 2 high, 3 urgent. assignees: names or device ids mentioned, else []. due: ISO 8601 date or datetime if a deadline is said, else null.",
  "No code fences, no explanation.",
].join("\n");

export const NormalizedTask = z.object({
  title: z.string(),
  description: z.string(),
  priority: z.number().int().min(0).max(3),
  assignees: z.array(z.string()),
  due: z.string().nullable(),
});
export type NormalizedTask = z.infer<typeof NormalizedTask>;

/** Coerces what the model gave into the documented shape; null when it has no usable title. */
export function normalizeTask(raw: Record<string, unknown>, text: string): NormalizedTask | null {
  const str = (v: unknown) => (typeof v === "string" ? v.trim() : typeof v === "number" ? String(v) : "");
  const title = str(raw.title).slice(0, 120);
  if (!title) return null;
  const p = Number(raw.priority);
  const assignees = Array.isArray(raw.assignees) ? raw.assignees : typeof raw.assignees === "string" ? [raw.assignees] : [];
  return {
    title,
    description: (str(raw.description) || text).slice(0, 500),
    priority: Number.isInteger(p) && p >= 0 && p <= 3 ? p : 1,
    assignees: [...new Set(assignees.map(str).filter(Boolean))].slice(0, 10),
    due: str(raw.due) || null,
  };
}

export function needsRelay(envelope: PeerEnvelope): string | null {
  if (envelope.category !== "task") return null;
  const { text, normalized } = envelope.payload;
  if (normalized !== undefined || typeof text !== "string" || !text.trim()) return null;
  return text.trim();
}

export async function relayTask(envelope: PeerEnvelope, settings: Settings): Promise<PeerEnvelope> {
  const text = needsRelay(envelope);
  if (!text || !settings.LLM_BASE_URL) return envelope;
  const result = await completeJson(llmFor(settings), {
    system: SYSTEM,
    user: text.slice(0, 2000),
    maxTokens: 300,
    temperature: 0.2,
    timeoutMs: RELAY_TIMEOUT_MS,
  });
  if (result.ok) {
    const normalized = normalizeTask(result.value, text);
    if (normalized) return { ...envelope, payload: { ...envelope.payload, normalized } };
    log.warn("peer.relay_failed", { id: envelope.id, code: "LLM_OUTPUT_INVALID" });
    return { ...envelope, relay: "LLM_OUTPUT_INVALID" };
  }
  log.warn("peer.relay_failed", { id: envelope.id, code: result.code, message: result.message });
  return { ...envelope, relay: result.code };
}
