import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_EMOTION, EMOTIONS, emotionOf, isEmotion } from "../../src/voice/emotion.ts";
import { displayable, FORCE_CUT_CHARS, SentenceSplitter, speakable, splitSentences } from "../../src/voice/sentences.ts";

const SAMPLES = [
  "今天天气很好。我们去公园吧！你觉得呢？好的；走吧",
  "Hello there! How are you? I'm fine. Pi is 3.14 and e is 2.71.",
  "Mr. Smith went to Washington, e.g. the U.S. capital. J. K. Rowling wrote it.",
  "今天北京的天气非常不错，气温二十五度，适合出门。明天会下雨。",
  "Sure thing, well, let me think about this for a moment, because the answer is long. OK.",
  "他说：“好的。”然后走了。",
  "1. **Sunny** weather\n2. Rain 🌧️ later\n\n# Heading\n- item [link](http://x.y)",
  "Wow!!! Really?! Yes... I think so.",
  `${"x".repeat(50)} ${"y".repeat(100)}`,
  "一二三四五六七八九十".repeat(15),
  "The price is $1,000: that's a lot. 时间是12:30。Version 2.0.1 is out!",
  "好的😊今天天气不错！🎉",
  "我觉得这个问题很有意思，因为它涉及到很多方面。English mixed in, too! 最后一句",
];

function streamed(text: string, cuts: number[]): string[] {
  const s = new SentenceSplitter();
  const out: string[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(...s.push(text.slice(prev, c)));
    prev = c;
  }
  out.push(...s.push(text.slice(prev)), ...s.flush());
  return out;
}

describe("sentence splitter", () => {
  it("splits Chinese at 。！？； with no space needed", () => {
    expect(splitSentences("今天天气很好。我们去公园吧！你觉得呢？好的；走吧")).toEqual(["今天天气很好。", "我们去公园吧！", "你觉得呢？", "好的；", "走吧"]);
  });

  it("splits English at . ! ? before a space, not inside numbers, abbreviations or initials", () => {
    expect(splitSentences("Hello there! How are you? I'm fine. Pi is 3.14 and e is 2.71.")).toEqual([
      "Hello there!",
      "How are you?",
      "I'm fine.",
      "Pi is 3.14 and e is 2.71.",
    ]);
    expect(splitSentences("Mr. Smith went to Washington, e.g. the U.S. capital. J. K. Rowling wrote it.")).toEqual([
      "Mr. Smith went to Washington, e.g. the U.S. capital.",
      "J. K. Rowling wrote it.",
    ]);
    expect(splitSentences("Wow!!! Really?! Yes... I think so.")).toEqual(["Wow!!!", "Really?!", "Yes...", "I think so."]);
    expect(splitSentences("Version 2.0.1 is out! It costs 3.")).toEqual(["Version 2.0.1 is out!", "It costs 3."]);
  });

  it("splits mixed text and keeps closing quotes with their sentence", () => {
    expect(splitSentences("他说：“好的。”然后走了。")).toEqual(["他说：“好的。”", "然后走了。"]);
    expect(splitSentences("OK!我们走吧。Then we go.")).toEqual(["OK!", "我们走吧。", "Then we go."]);
  });

  it("splits at newlines and skips empty lines and list numbers", () => {
    expect(splitSentences("1. **Sunny** weather\n2. Rain later\n\n# Heading")).toEqual(["1. **Sunny** weather", "2. Rain later", "# Heading"]);
  });

  it("lets only the first sentence break at a comma, once it is long enough to say", () => {
    expect(splitSentences("今天北京的天气非常不错，气温二十五度，适合出门。明天会下雨，记得带伞。")).toEqual([
      "今天北京的天气非常不错，",
      "气温二十五度，适合出门。",
      "明天会下雨，记得带伞。",
    ]);
    // Too short to be worth speaking alone: no cut at the first comma.
    expect(splitSentences("好的，我知道了。")).toEqual(["好的，我知道了。"]);
    expect(splitSentences("Sure, here it is. Next, more.")).toEqual(["Sure, here it is.", "Next, more."]);
    expect(splitSentences("Sure thing, well, let me think about this for a moment, because the answer is long. OK.")).toEqual([
      "Sure thing, well, let me think about this for a moment,",
      "because the answer is long.",
      "OK.",
    ]);
    // An ASCII comma or colon inside a number is not a break.
    expect(splitSentences("The population of the city is 1,000,000 people: a lot.")).toEqual(["The population of the city is 1,000,000 people:", "a lot."]);
  });

  it(`forces a cut near ${FORCE_CUT_CHARS} characters: at a space or comma, else anywhere`, () => {
    const latin = splitSentences(`${"word ".repeat(40)}end.`);
    for (const s of latin) expect(s.length).toBeLessThanOrEqual(FORCE_CUT_CHARS);
    expect(latin.join(" ")).toBe(`${"word ".repeat(40)}end.`);
    expect(latin[0]?.endsWith("word")).toBe(true);
    const han = "一二三四五六七八九十".repeat(15);
    expect(splitSentences(han)).toEqual([han.slice(0, FORCE_CUT_CHARS), han.slice(FORCE_CUT_CHARS)]);
    const emoji = "😀".repeat(100);
    expect(splitSentences(emoji).join("")).toBe(emoji);
    for (const s of splitSentences(emoji)) expect(s.isWellFormed()).toBe(true);
  });

  it("gives the same sentences for a delta cut at any one position, char by char, and at random cuts", () => {
    for (const text of SAMPLES) {
      const once = splitSentences(text);
      for (let i = 0; i <= text.length; i++) expect(streamed(text, [i])).toEqual(once);
      expect(
        streamed(
          text,
          Array.from({ length: text.length }, (_, i) => i),
        ),
      ).toEqual(once);
    }
    fc.assert(
      fc.property(fc.constantFrom(...SAMPLES), fc.array(fc.nat(), { maxLength: 12 }), (text, raw) => {
        const cuts = raw.map((n) => n % (text.length + 1));
        expect(streamed(text, cuts)).toEqual(splitSentences(text));
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("今天", "天气", "Hello", " ", "world", "。", "，", ",", ".", "!", "?", "\n", "3", "1", "Mr", "”", "😊", "e.g"), {
          maxLength: 60,
        }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (parts, raw) => {
          const text = parts.join("");
          const cuts = raw.map((n) => n % (text.length + 1));
          const once = splitSentences(text);
          expect(streamed(text, cuts)).toEqual(once);
          // No word or emoji is lost (pieces of bare punctuation are).
          const words = (t: string) => t.replace(/[^\p{L}\p{N}\p{Extended_Pictographic}]/gu, "");
          expect(words(once.join(""))).toBe(words(text));
          for (const s of once) expect(s.length).toBeLessThanOrEqual(FORCE_CUT_CHARS + 1);
        },
      ),
    );
  });
});

describe("speakable and displayable text", () => {
  it("strips markdown and emoji for TTS, keeps emoji for display", () => {
    expect(speakable("**Hello** 😊 world! [docs](http://a.b/c) `code` 👍🏽 1️⃣")).toBe("Hello world! docs code 1");
    expect(speakable("# Title\n- first item\n* second _item_\n> quoted ~~old~~")).toBe("Title first item second item quoted old");
    expect(speakable("今天天气不错🌞！![图](x.png)")).toBe("今天天气不错！图");
    expect(speakable("snake_case_name stays")).toBe("snake_case_name stays");
    expect(displayable("**好的** 😊\n- 第一")).toBe("好的 😊\n第一");
  });

  it("returns nothing to say for emoji, punctuation and markup alone", () => {
    for (const t of ["😊🎉", "！！", "**", "---", "👨‍👩‍👧 ❤️", "  "]) expect(speakable(t)).toBe("");
  });
});

describe("emotion", () => {
  it("takes the first emoji that names an emotion, else happy", () => {
    expect(emotionOf("哈哈😂 好笑")).toEqual({ emotion: "funny", emoji: "😂" });
    expect(emotionOf("🎉 well 😢 sorry")).toEqual({ emotion: "sad", emoji: EMOTIONS.sad });
    expect(emotionOf("❤️ love it")).toEqual({ emotion: "loving", emoji: "😍" });
    expect(emotionOf("no emoji here")).toEqual(DEFAULT_EMOTION);
    expect(DEFAULT_EMOTION).toEqual({ emotion: "happy", emoji: "🙂" });
  });

  it("covers the firmware's 21 emotions", () => {
    expect(Object.keys(EMOTIONS)).toHaveLength(21);
    for (const [name, emoji] of Object.entries(EMOTIONS)) expect(emotionOf(`x ${emoji}`).emotion).toBe(name);
    expect(isEmotion("thinking")).toBe(true);
    expect(isEmotion("toString")).toBe(false);
  });
});
