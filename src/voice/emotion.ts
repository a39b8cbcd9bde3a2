// The firmware's emotions (78/xiaozhi-esp32 display emoji set) for `{"type":"llm","emotion",...}`,
// sent before a reply's first sentence. The LLM tends to put an emoji early in its reply; that emoji
// picks the emotion, and a reply without one is "happy", as in PROTOCOL §5.

export const EMOTIONS = {
  neutral: "😶",
  happy: "🙂",
  laughing: "😆",
  funny: "😂",
  sad: "😔",
  angry: "😠",
  crying: "😭",
  loving: "😍",
  embarrassed: "😳",
  surprised: "😲",
  shocked: "😱",
  thinking: "🤔",
  winking: "😉",
  cool: "😎",
  relaxed: "😌",
  delicious: "🤤",
  kissy: "😘",
  confident: "😏",
  sleepy: "😴",
  silly: "😜",
  confused: "🙄",
} as const;

export type Emotion = keyof typeof EMOTIONS;

export interface EmotionChoice {
  emotion: Emotion;
  emoji: string;
}

export const DEFAULT_EMOTION: Readonly<EmotionChoice> = Object.freeze({ emotion: "happy", emoji: EMOTIONS.happy });

/** Common emoji outside the firmware's set, mapped to the nearest emotion. */
const SIMILAR: Record<string, Emotion> = {
  "😀": "happy",
  "😃": "happy",
  "😊": "happy",
  "☺": "happy",
  "🥰": "loving",
  "😄": "laughing",
  "😁": "laughing",
  "🤣": "funny",
  "😅": "embarrassed",
  "😢": "sad",
  "😞": "sad",
  "🙁": "sad",
  "☹": "sad",
  "😡": "angry",
  "🤬": "angry",
  "❤": "loving",
  "💕": "loving",
  "😮": "surprised",
  "😯": "surprised",
  "🤯": "shocked",
  "😨": "shocked",
  "🧐": "thinking",
  "😋": "delicious",
  "😗": "kissy",
  "😚": "kissy",
  "😪": "sleepy",
  "🥱": "sleepy",
  "🤪": "silly",
  "😛": "silly",
  "😕": "confused",
  "🤨": "confused",
  "😐": "neutral",
  "😑": "neutral",
};

const BY_EMOJI = new Map<string, Emotion>(Object.entries(EMOTIONS).map(([name, emoji]) => [emoji, name as Emotion]));
const PICTOGRAPH = /\p{Extended_Pictographic}/gu;

/** The emotion of the first emoji in `text` that has one; else DEFAULT_EMOTION. */
export function emotionOf(text: string): EmotionChoice {
  for (const m of text.matchAll(PICTOGRAPH)) {
    const emotion = BY_EMOJI.get(m[0]) ?? SIMILAR[m[0]];
    if (emotion) return { emotion, emoji: EMOTIONS[emotion] };
  }
  return { ...DEFAULT_EMOTION };
}

export function isEmotion(name: string): name is Emotion {
  return Object.hasOwn(EMOTIONS, name);
}
