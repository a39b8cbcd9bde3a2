// One language guess for every capability that answers in the user's language (meeting summaries,
// voice commands, coding insights). Only two outcomes: the badge UI speaks Chinese or English.

export type Lang = "zh" | "en";

// CJK Unified Ideographs (+ extension A) and compatibility ideographs: what Chinese text is made of.
export const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
export const CJK_G = /[\u3400-\u9fff\uf900-\ufaff]/g;
const LATIN_WORD_G = /[a-z]{2,}/gi;

/** Number of CJK ideographs in `text`. */
export function cjkCount(text: string): number {
  return (text.match(CJK_G) ?? []).length;
}

/**
 * "zh" when CJK ideographs are at least as many as Latin words (2+ letters), else "en" (also for
 * empty text). Comparing characters with words is deliberate: one Chinese character carries about
 * as much as one English word, so "运行 npm test 失败" (4 ideographs, 2 words) is Chinese while an
 * English sentence quoting one Chinese name stays English.
 */
export function detectLanguage(text: string): Lang {
  if (typeof text !== "string" || text === "") return "en";
  const cjk = cjkCount(text);
  if (cjk === 0) return "en";
  const latin = (text.match(LATIN_WORD_G) ?? []).length;
  return cjk >= latin ? "zh" : "en";
}
