import { hasContent } from "./speakable.ts";

export { displayable, speakable } from "./speakable.ts";

// Streaming sentence splitter for LLM deltas (VOICE.md §5, PROTOCOL §5.1): speech starts after the
// first sentence, so the first one may also end at a comma once it is long enough to say. Every
// decision depends only on text already received; where it would need the next character (what
// follows a "." or a "。" that a closing quote may still follow) it waits. The same reply therefore
// splits the same way however the deltas cut it.

/** CJK terminators need no following space. */
const CJK_END = new Set(["。", "！", "？", "；", "…"]);
/** ASCII terminators end a sentence before a space (or the end); "!?;" also before non-Latin text. */
const ASCII_END = new Set([".", "!", "?", ";"]);
/** Absorbed into the sentence that a terminator ends. */
const CLOSERS = new Set(['"', "'", "”", "’", "」", "』", "）", ")", "]", "】", "》", "〉"]);
/** Where the first sentence may break early; ASCII ones only before a space ("1,000", "12:30"). */
const SOFT_CJK = new Set(["，", "、", "："]);
const SOFT_ASCII = new Set([",", ":"]);

/** A sentence longer than this is cut (at the last comma or space after FORCE_MIN, else here). */
export const FORCE_CUT_CHARS = 120;
const FORCE_MIN = 40;
/**
 * The first sentence may break at a comma once it holds this many "units": a CJK character is
 * one, three Latin letters or digits are one. 10 units is about 2 s of speech (10 hanzi, or
 * ~30 letters: "Sure, here is what I found," is not cut but a longer lead-in is).
 */
export const FIRST_CUT_UNITS = 10;

/** Lower-cased words whose "." does not end a sentence; ambiguous ones (etc., a.m.) are left out. */
const ABBREVIATIONS = new Set(["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "cf", "fig", "no", "approx", "mt", "u.s", "u.k"]);

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const LATIN_OR_DIGIT = /[A-Za-z0-9]/;
const SPACE = /\s/;

interface Cut {
  /** End of this sentence's text. */
  end: number;
  /** Start of the rest. */
  next: number;
}

function units(text: string): number {
  let cjk = 0;
  let latin = 0;
  for (const ch of text) {
    if (CJK.test(ch)) cjk++;
    else if (LATIN_OR_DIGIT.test(ch)) latin++;
  }
  return cjk + latin / 3;
}

/** Whether the "." at `i` (followed by a space) belongs to an abbreviation, initial or list number. */
function dotIsNotAnEnd(text: string, i: number): boolean {
  let s = i;
  while (s > 0 && /[A-Za-z.]/.test(text[s - 1] ?? "")) s--;
  const word = text.slice(s, i);
  if (ABBREVIATIONS.has(word.toLowerCase())) return true;
  if (/^[A-Z]$/.test(word)) return true;
  return /^\s*\d+$/.test(text.slice(0, i));
}

/** The first cut in `text`, "wait" if it depends on what comes next, null if there is none yet. */
function findCut(text: string, final: boolean, first: boolean): Cut | "wait" | null {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    if (i >= FORCE_CUT_CHARS) return forceCut(text);
    const ch = text[i] ?? "";
    if (ch === "\n") return { end: i, next: i + 1 };
    if (CJK_END.has(ch) || ASCII_END.has(ch)) {
      let j = i + 1;
      let cjk = CJK_END.has(ch);
      let dots = ch === "." ? 1 : 0;
      while (j < n && (CJK_END.has(text[j] ?? "") || ASCII_END.has(text[j] ?? "") || CLOSERS.has(text[j] ?? ""))) {
        const c = text[j] ?? "";
        if (CJK_END.has(c)) cjk = true;
        if (c === ".") dots++;
        j++;
      }
      if (j === n && !final) return "wait";
      if (j === n || cjk) return { end: j, next: j };
      const after = text[j] ?? "";
      if (SPACE.test(after)) {
        const single = dots === 1 && j === i + 1 && ch === ".";
        if (!(single && dotIsNotAnEnd(text, i))) return { end: j, next: j };
      } else if (dots === 0 && !LATIN_OR_DIGIT.test(after)) {
        return { end: j, next: j };
      }
      i = j - 1;
      continue;
    }
    if (first && (SOFT_CJK.has(ch) || SOFT_ASCII.has(ch)) && units(text.slice(0, i)) >= FIRST_CUT_UNITS) {
      if (SOFT_CJK.has(ch)) return { end: i + 1, next: i + 1 };
      if (i + 1 === n) {
        if (!final) return "wait";
        continue;
      }
      if (SPACE.test(text[i + 1] ?? "")) return { end: i + 1, next: i + 1 };
    }
  }
  return null;
}

function forceCut(text: string): Cut {
  for (let k = FORCE_CUT_CHARS - 1; k >= FORCE_MIN; k--) {
    const c = text[k] ?? "";
    if (SOFT_CJK.has(c) || SOFT_ASCII.has(c) || SPACE.test(c)) return { end: k + 1, next: k + 1 };
  }
  // No break at all (CJK or one huge token): cut, but not inside a surrogate pair.
  const code = text.charCodeAt(FORCE_CUT_CHARS - 1);
  const at = code >= 0xd800 && code <= 0xdbff ? FORCE_CUT_CHARS + 1 : FORCE_CUT_CHARS;
  return { end: at, next: at };
}

/** One per reply: push LLM deltas, get whole sentences (display text, trimmed) as they complete. */
export class SentenceSplitter {
  private buf = "";
  private emitted = 0;

  push(delta: string): string[] {
    this.buf += delta;
    return this.drain(false);
  }

  /** The rest at the end of the reply. */
  flush(): string[] {
    const out = this.drain(true);
    const rest = this.buf.trim();
    this.buf = "";
    if (hasContent(rest)) out.push(rest);
    return out;
  }

  private drain(final: boolean): string[] {
    const out: string[] = [];
    for (;;) {
      const cut = findCut(this.buf, final, this.emitted === 0);
      if (cut === null || cut === "wait") return out;
      const sentence = this.buf.slice(0, cut.end).trim();
      this.buf = this.buf.slice(cut.next);
      if (hasContent(sentence)) {
        out.push(sentence);
        this.emitted++;
      }
    }
  }
}

/** Splits a whole text at once (typed replies, greetings). */
export function splitSentences(text: string): string[] {
  const s = new SentenceSplitter();
  return [...s.push(text), ...s.flush()];
}
