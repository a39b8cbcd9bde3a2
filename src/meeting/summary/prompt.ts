import { detectLanguage, type Lang } from "../../text/lang.ts";
import {
  MAX_ITEM_CHARS,
  MAX_TITLE_CHARS,
  SUMMARY_LIMITS,
  type Segment,
  TRANSCRIPT_TAIL_CHARS,
  collapse,
  formatDuration,
  isoMinute,
  ordered,
} from "./schema.ts";

// The summary prompt. It carries only the transcript's last TRANSCRIPT_TAIL_CHARS characters: the
// end of a meeting (decisions, owners, next steps) matters most, and a bounded prompt keeps the
// reply from being cut by the token limit.

/** The transcript as lines "speaker: text", oldest first. */
export function transcriptText(segments: readonly Segment[]): string {
  return ordered(segments)
    .map((s) => {
      const text = collapse(s.text);
      const who = typeof s.speakerId === "string" ? collapse(s.speakerId) : "";
      return who ? `${who}: ${text}` : text;
    })
    .join("\n");
}

/**
 * The last `max` characters of `text` (UTF-16 units, as String.length counts). A cut that falls
 * inside a short line drops the fragment so the tail starts at a line; a cut inside a long line
 * keeps the fragment after a leading "…". The result is never longer than `max`.
 */
export function tailText(text: string, max = TRANSCRIPT_TAIL_CHARS): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  let start = text.length - max + 1; // room for the "…" marker
  const code = text.charCodeAt(start);
  if (code >= 0xdc00 && code <= 0xdfff) start += 1;
  let tail = text.slice(start);
  if (text[start - 1] !== "\n") {
    const nl = tail.indexOf("\n");
    if (nl !== -1 && nl < 200) return { text: tail.slice(nl + 1), truncated: true };
  }
  tail = `…${tail}`;
  return { text: tail, truncated: true };
}

const LANG_RULE: Record<Lang, string> = {
  zh: "The transcript is in Chinese: write every string in Simplified Chinese.",
  en: "The transcript is in English: write every string in English.",
};

export function buildSummaryPrompt(
  segments: readonly Segment[],
  opts: { startedAt: number; endedAt: number },
): { system: string; user: string; truncated: boolean; lang: Lang } {
  const { text, truncated } = tailText(transcriptText(segments), TRANSCRIPT_TAIL_CHARS);
  const lang = detectLanguage(text);
  const system = [
    "You summarise meeting transcripts.",
    "Reply with exactly one JSON object and nothing else: no code fences, no markdown, no text before or after it.",
    'The object has exactly these keys: {"title":string,"bullets":string[],"decisions":string[],"actions":string[],"risks":string[],"nextSteps":string[]}',
    `- title: a short title for the meeting (at most ${Math.floor(MAX_TITLE_CHARS / 2)} characters).`,
    `- bullets: at most ${SUMMARY_LIMITS.bullets} key points of the discussion.`,
    `- decisions: at most ${SUMMARY_LIMITS.decisions} decisions that were made.`,
    `- actions: at most ${SUMMARY_LIMITS.actions} action items, with the owner when known.`,
    `- risks: at most ${SUMMARY_LIMITS.risks} risks, blockers or open problems.`,
    `- nextSteps: at most ${SUMMARY_LIMITS.nextSteps} next steps.`,
    `Every item is one short plain sentence (under ${MAX_ITEM_CHARS} characters), distinct from the others; never an empty string.`,
    "Use [] for a list with nothing to put in it. Only use what the transcript says; do not invent names, dates or facts.",
    `Write in the same language as the transcript. ${LANG_RULE[lang]}`,
  ].join("\n");
  const start = isoMinute(opts.startedAt);
  const header = [
    start
      ? `Meeting started ${start} UTC, duration ${formatDuration(opts.endedAt - opts.startedAt)}.`
      : `Meeting duration ${formatDuration(opts.endedAt - opts.startedAt)}.`,
    truncated ? `Only the last ${TRANSCRIPT_TAIL_CHARS} characters of the transcript are included; earlier parts are omitted.` : "",
    text ? "Transcript:" : "Transcript: (empty: nothing was said)",
  ].filter(Boolean);
  const user = text ? `${header.join("\n")}\n${text}` : header.join("\n");
  return { system, user, truncated, lang };
}
