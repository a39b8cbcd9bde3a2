// What goes to TTS and to the device's screen. LLMs answer in markdown with emoji; a TTS voice reads
// "asterisk asterisk" or names the emoji, and the firmware's small display shows markup verbatim.

// Pictographs plus what glues them into sequences: skin tones, flags' regional letters, variation
// selectors, zero-width joiners, keycaps and tag characters.
const EMOJI = /\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|\u{FE0E}|\u{FE0F}|\u{200D}|\u{20E3}|[\u{E0020}-\u{E007F}]/gu;
const SAYABLE = /[\p{L}\p{N}]/u;

/** Text without markdown, emoji kept: for `sentence_start` and the screen. */
export function displayable(text: string): string {
  return text
    .replace(/```[\w-]*\n?/g, "")
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/`([^`]*)`/g, "$1")
    .replace(/^[ \t]*([-*_][ \t]*){3,}$/gm, "")
    .replace(/^[ \t]{0,3}#{1,6}[ \t]+/gm, "")
    .replace(/^[ \t]*>[ \t]?/gm, "")
    .replace(/^[ \t]*[-*+•][ \t]+/gm, "")
    .replace(/\*\*|__|~~/g, "")
    .replace(/(^|[^\p{L}\p{N}])_([^_\n]+)_(?![\p{L}\p{N}])/gu, "$1$2")
    .replace(/\*/g, "")
    .replace(/\|/g, " ")
    .replace(/[ \t]+/g, " ")
    .replace(/\s*\n\s*/g, "\n")
    .trim();
}

/** Text for TTS: no markdown, no emoji, one line; "" when nothing is left to say (skip TTS). */
export function speakable(text: string): string {
  const out = displayable(text).replace(EMOJI, "").replace(/\s+/g, " ").trim();
  return SAYABLE.test(out) ? out : "";
}

/** Whether a piece of text holds anything to show or say (not just punctuation or markup). */
export function hasContent(text: string): boolean {
  return SAYABLE.test(text) || /\p{Extended_Pictographic}/u.test(text);
}
