import { z } from "zod";

// The shape of a meeting summary (PROTOCOL §6.1), its limits, and the small text helpers the
// prompt, the normaliser and the heuristic share.

export const TRANSCRIPT_TAIL_CHARS = 4000;
export const MAX_ITEM_CHARS = 200;
export const MAX_TITLE_CHARS = 80;
export const SUMMARY_LISTS = ["bullets", "decisions", "actions", "risks", "nextSteps"] as const;
export type SummaryList = (typeof SUMMARY_LISTS)[number];
export const SUMMARY_LIMITS: Readonly<Record<SummaryList, number>> = { bullets: 6, decisions: 4, actions: 4, risks: 4, nextSteps: 4 };

export type Segment = { text: string; speakerId?: string; ts: number };

const NonBlank = /\S/;
const SummaryItem = z.string().regex(NonBlank, "empty item").max(MAX_ITEM_CHARS);

/** The Summary fields, for message schemas that embed them (`z.object({ ...summaryShape, … })`). */
export const summaryShape = {
  title: z.string().regex(NonBlank, "empty title").max(MAX_TITLE_CHARS),
  bullets: z.array(SummaryItem).max(SUMMARY_LIMITS.bullets),
  decisions: z.array(SummaryItem).max(SUMMARY_LIMITS.decisions),
  actions: z.array(SummaryItem).max(SUMMARY_LIMITS.actions),
  risks: z.array(SummaryItem).max(SUMMARY_LIMITS.risks),
  nextSteps: z.array(SummaryItem).max(SUMMARY_LIMITS.nextSteps),
};

/** Refinement: every list holds distinct items (case-insensitive, whitespace-normalised). */
export function checkDistinct(value: Record<SummaryList, string[]>, ctx: z.RefinementCtx): void {
  for (const list of SUMMARY_LISTS) {
    const seen = new Set<string>();
    value[list].forEach((item, i) => {
      const k = itemKey(item);
      if (seen.has(k)) ctx.addIssue({ code: "custom", message: "duplicate item", path: [list, i] });
      seen.add(k);
    });
  }
}

/** A normalised summary: non-empty title, lists of distinct non-empty strings within the limits. */
export const Summary = z.object(summaryShape).superRefine(checkDistinct);
export type Summary = z.infer<typeof Summary>;

/** What the LLM is asked to return (the shape in the system prompt), before normalisation. */
export const SummaryReply = z.object({
  title: z.string(),
  bullets: z.array(z.string()),
  decisions: z.array(z.string()),
  actions: z.array(z.string()),
  risks: z.array(z.string()),
  nextSteps: z.array(z.string()),
});
export type SummaryReply = z.infer<typeof SummaryReply>;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function collapse(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Cut to `max` code points, ending with "…" when cut (never splits a surrogate pair). */
export function cap(s: string, max: number): string {
  const chars = Array.from(s);
  if (chars.length <= max) return s;
  return `${chars
    .slice(0, max - 1)
    .join("")
    .trimEnd()}…`;
}

/** Dedupe key: case-insensitive, whitespace-normalised, trailing punctuation ignored. */
export function itemKey(s: string): string {
  return collapse(s.normalize("NFKC").toLowerCase()).replace(/[\s.。!！?？;；,，:：…]+$/u, "");
}

/** Milliseconds as "HH:MM:SS" (hours may exceed 99); negative or non-finite → "00:00:00". */
export function formatDuration(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}

export function ordered(segments: readonly Segment[]): Segment[] {
  return segments
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => isRecord(s) && typeof s.text === "string" && collapse(s.text) !== "")
    .sort((a, b) => (Number(a.s.ts) || 0) - (Number(b.s.ts) || 0) || a.i - b.i)
    .map(({ s }) => s);
}

/** "YYYY-MM-DD HH:MM" (UTC) of a timestamp; undefined when it is not a plausible time. */
export function isoMinute(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return undefined;
  return d.toISOString().slice(0, 16).replace("T", " ");
}
