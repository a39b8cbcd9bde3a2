// One language guess for everything that answers in the user's language (meeting summaries, task
// confirmations, coding insights, voice). Only Chinese and English are told apart: those are the
// languages the badges ship with.

export type Lang = "zh" | "en";

export const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
export const CJK_G = /[\u3400-\u9fff\uf900-\ufaff]/g;
const LATIN_WORD = /[a-z]{2,}/gi;

/** zh when CJK characters outnumber Latin words; en otherwise (also for empty text). */
export function detectLanguage(text: string): Lang {
  const cjk = (text.match(CJK_G) ?? []).length;
  if (cjk === 0) return "en";
  const latin = (text.match(LATIN_WORD) ?? []).length;
  return cjk >= latin ? "zh" : "en";
}
