import { describe, expect, it } from "vitest";
import { z } from "zod";
import { heuristicSummary } from "../../src/meeting/summary/heuristic.ts";
import { normalizeSummary } from "../../src/meeting/summary/normalize.ts";
import { buildSummaryPrompt, tailText, transcriptText } from "../../src/meeting/summary/prompt.ts";
import {
  checkDistinct,
  formatDuration,
  MAX_ITEM_CHARS,
  MAX_TITLE_CHARS,
  Summary,
  SUMMARY_LIMITS,
  summaryShape,
  SummaryReply,
  TRANSCRIPT_TAIL_CHARS,
  type Segment,
} from "../../src/meeting/summary/schema.ts";
import { detectLanguage } from "../../src/text/lang.ts";

// PROTOCOL §6.1: the summary the device gets — title, duration, ≤6 bullets, ≤4 of each other list,
// distinct non-empty strings — whether the LLM answered well, badly or not at all.

const T0 = Date.UTC(2025, 2, 14, 9, 30);

function segs(texts: string[], speakers = false): Segment[] {
  return texts.map((text, i) => (speakers ? { text, ts: T0 + i * 60_000, speakerId: `S${i % 2}` } : { text, ts: T0 + i * 60_000 }));
}

const ZH = segs(
  [
    "大家好",
    "今天我们主要讨论新版固件的发布计划。",
    "嗯",
    "目前测试覆盖率大概是百分之七十，还有三个严重的缺陷没有修复。",
    "我们决定把发布时间推迟到下周五。",
    "张三负责修复蓝牙断连的问题，周三之前提交。",
    "风险是供应商的芯片可能延期交付。",
    "下一步安排一次回归测试，李四跟进。",
    "好的，没问题。",
    "市场部希望在发布会上演示语音唤醒和会议纪要功能，需要提前准备演示脚本。",
  ],
  true,
);

const EN = segs([
  "Hi everyone.",
  "Okay so today we will discuss the Q3 launch plan for the badge.",
  "The current build has 3 open crash bugs on Android and the battery drains in about six hours.",
  "We decided to drop the offline mode from this release.",
  "Alice will update the onboarding screens by Friday.",
  "The main risk is that certification could slip by two weeks.",
  "Next steps: schedule a beta with 50 users.",
  "Bob needs to talk to the vendor about the charging case.",
  "Sounds good.",
  "Marketing wants a demo video before the trade show in September, with the meeting summary feature front and center.",
]);

function expectValid(s: unknown) {
  const r = Summary.safeParse(s);
  expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
}

describe("formatDuration", () => {
  it.each([
    [0, "00:00:00"],
    [999, "00:00:00"],
    [1000, "00:00:01"],
    [59_999, "00:00:59"],
    [60_000, "00:01:00"],
    [3_723_000, "01:02:03"],
    [36_000_000 - 1, "09:59:59"],
    [86_400_000, "24:00:00"],
    [360_000_000, "100:00:00"],
    [-5000, "00:00:00"],
    [Number.NaN, "00:00:00"],
    [Number.POSITIVE_INFINITY, "00:00:00"],
  ])("%d ms → %s", (ms, out) => {
    expect(formatDuration(ms)).toBe(out);
  });
});

describe("buildSummaryPrompt", () => {
  it("asks for exactly the summary JSON shape, no fences, with the limits", () => {
    const { system } = buildSummaryPrompt(EN, { startedAt: T0, endedAt: T0 + 3_723_000 });
    expect(system).toContain('{"title":string,"bullets":string[],"decisions":string[],"actions":string[],"risks":string[],"nextSteps":string[]}');
    expect(system).toMatch(/exactly one JSON object and nothing else/);
    expect(system).toMatch(/no code fences/);
    expect(system).toContain(`at most ${SUMMARY_LIMITS.bullets} key points`);
    for (const list of ["decisions", "actions", "risks", "nextSteps"]) expect(system).toMatch(new RegExp(`- ${list}: at most 4`));
    expect(system).toMatch(/same language as the transcript/);
  });

  it("puts the transcript with speakers in the user message, oldest first, with start and duration", () => {
    const shuffled = [ZH[3]!, ZH[0]!, ZH[1]!];
    const { user, truncated, lang } = buildSummaryPrompt(shuffled, { startedAt: T0, endedAt: T0 + 3_723_000 });
    expect(truncated).toBe(false);
    expect(lang).toBe("zh");
    expect(user).toContain("2025-03-14 09:30 UTC");
    expect(user).toContain("01:02:03");
    expect(user.endsWith(`S0: 大家好\nS1: ${ZH[1]!.text}\nS1: ${ZH[3]!.text}`)).toBe(true);
  });

  it("names the transcript's language", () => {
    expect(buildSummaryPrompt(ZH, { startedAt: T0, endedAt: T0 + 1 }).system).toMatch(/Simplified Chinese/);
    expect(buildSummaryPrompt(EN, { startedAt: T0, endedAt: T0 + 1 }).system).toMatch(/write every string in English/);
  });

  it("keeps only the last 4,000 characters of a long transcript (tail priority)", () => {
    const many = Array.from({ length: 400 }, (_, i) => ({ text: `segment number ${i} says something about item ${i}`, ts: T0 + i }));
    const { user, truncated } = buildSummaryPrompt(many, { startedAt: T0, endedAt: T0 + 400 });
    expect(truncated).toBe(true);
    const transcript = user.slice(user.indexOf("Transcript:\n") + "Transcript:\n".length);
    expect(transcript.length).toBeLessThanOrEqual(TRANSCRIPT_TAIL_CHARS);
    expect(transcript.length).toBeGreaterThan(TRANSCRIPT_TAIL_CHARS - 100);
    expect(transcript.endsWith("segment number 399 says something about item 399")).toBe(true);
    expect(transcript).not.toContain("segment number 0 ");
    expect(transcript.startsWith("segment number ")).toBe(true); // cut at a line boundary
    expect(user).toMatch(/earlier parts are omitted/);
  });

  it("handles a tail cut inside one huge line and inside a surrogate pair", () => {
    const huge = "开头" + "字".repeat(5000) + "结尾";
    const t = tailText(huge);
    expect(t.truncated).toBe(true);
    expect(t.text.length).toBeLessThanOrEqual(TRANSCRIPT_TAIL_CHARS);
    expect(t.text.startsWith("…")).toBe(true);
    expect(t.text.endsWith("结尾")).toBe(true);
    const emoji = "😀".repeat(3000); // 6000 UTF-16 units
    const e = tailText(emoji);
    expect(e.text.length).toBeLessThanOrEqual(TRANSCRIPT_TAIL_CHARS);
    expect(e.text.slice(1)).toBe("😀".repeat((e.text.length - 1) / 2));
    expect(tailText("short")).toEqual({ text: "short", truncated: false });
  });

  it("says so when the transcript is empty", () => {
    const { user } = buildSummaryPrompt([], { startedAt: T0, endedAt: T0 });
    expect(user).toMatch(/Transcript: \(empty/);
    expect(buildSummaryPrompt([{ text: "  ", ts: 1 }], { startedAt: 0, endedAt: 0 }).user).toMatch(/duration 00:00:00/);
  });

  it("collapses whitespace and skips blank segments in the transcript", () => {
    expect(
      transcriptText([
        { text: " a\n b ", ts: 2, speakerId: " x " },
        { text: "", ts: 1 },
        { text: "c", ts: 3 },
      ]),
    ).toBe("x: a b\nc");
  });
});

describe("normalizeSummary", () => {
  it("passes a clean reply through", () => {
    const clean = { title: "Q3 plan", bullets: ["a", "b"], decisions: ["d"], actions: ["x"], risks: [], nextSteps: ["n"] };
    expect(SummaryReply.safeParse(clean).success).toBe(true);
    expect(normalizeSummary(clean)).toEqual(clean);
  });

  it("trims, drops empty and duplicate items (case- and whitespace-insensitive)", () => {
    const s = normalizeSummary({
      title: "  Weekly   sync  ",
      bullets: ["  Ship it ", "ship   IT", "", "   ", "Ship it.", "Other point", null, undefined],
      decisions: ["A", "a"],
      actions: [],
      risks: [],
      nextSteps: [],
    });
    expect(s).toEqual({ title: "Weekly sync", bullets: ["Ship it", "Other point"], decisions: ["A"], actions: [], risks: [], nextSteps: [] });
    expectValid(s);
  });

  it("caps counts and item lengths", () => {
    const s = normalizeSummary({
      title: "T".repeat(300),
      bullets: Array.from({ length: 20 }, (_, i) => `point ${i}`),
      decisions: Array.from({ length: 9 }, (_, i) => `decision ${i}`),
      actions: Array.from({ length: 9 }, (_, i) => `action ${i}`),
      risks: Array.from({ length: 9 }, (_, i) => `risk ${i}`),
      nextSteps: ["x".repeat(1000), ...Array.from({ length: 9 }, (_, i) => `step ${i}`)],
    })!;
    expect(s.bullets).toEqual(["point 0", "point 1", "point 2", "point 3", "point 4", "point 5"]);
    expect(s.decisions).toHaveLength(4);
    expect(s.actions).toHaveLength(4);
    expect(s.risks).toHaveLength(4);
    expect(s.nextSteps).toHaveLength(4);
    expect(Array.from(s.nextSteps[0]!)).toHaveLength(MAX_ITEM_CHARS);
    expect(s.nextSteps[0]!.endsWith("…")).toBe(true);
    expect(s.title.length).toBe(MAX_TITLE_CHARS);
    expectValid(s);
  });

  it("fills freed slots after duplicates are dropped", () => {
    const s = normalizeSummary({ title: "t", bullets: ["a", "a", "a", "b", "c", "d", "e", "f", "g"] })!;
    expect(s.bullets).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("accepts key variants and a wrapper object", () => {
    const s = normalizeSummary({
      summary: {
        Title: "Kickoff",
        key_points: ["p"],
        Decisions: ["d"],
        action_items: ["a"],
        blockers: ["r"],
        next_steps: ["n"],
      },
    });
    expect(s).toEqual({ title: "Kickoff", bullets: ["p"], decisions: ["d"], actions: ["a"], risks: ["r"], nextSteps: ["n"] });
    expect(normalizeSummary({ topic: "t", actionItems: ["a"], "next-steps": ["n"], issues: ["i"] })).toMatchObject({
      title: "t",
      actions: ["a"],
      nextSteps: ["n"],
      risks: ["i"],
    });
    expect(normalizeSummary({ 标题: "周会", 要点: ["进度正常"], 下一步: ["发版"] })).toMatchObject({
      title: "周会",
      bullets: ["进度正常"],
      nextSteps: ["发版"],
    });
    expect(normalizeSummary({ title: "outer", summary: { bullets: ["inner"] } })).toMatchObject({ title: "outer", bullets: ["inner"] });
  });

  it("stringifies non-string items sensibly", () => {
    const s = normalizeSummary({
      title: 2025,
      bullets: [42, true, { text: "Note" }, { content: "Body", extra: 1 }, { foo: "bar", n: 3 }, {}, Number.NaN, ["nested", "list"]],
      actions: [
        { task: "Ship firmware", owner: "Alice", due: "Fri" },
        { action: "Call vendor", assignee: "Bob" },
      ],
    })!;
    expect(s.title).toBe("2025");
    // nested lists are flattened one level
    expect(s.bullets).toEqual(["42", "true", "Note", "Body", "bar, 3", "nested"]);
    expect(s.actions).toEqual(["Ship firmware (Alice, Fri)", "Call vendor (Bob)"]);
    expectValid(s);
  });

  it("splits a string where a list was expected and strips bullet markers", () => {
    const s = normalizeSummary({ title: "t", bullets: "- one\n* two\n• three\n1. four\n2) five\n**six**\n\n", risks: "single risk" })!;
    expect(s.bullets).toEqual(["one", "two", "three", "four", "five", "six"]);
    expect(s.risks).toEqual(["single risk"]);
    expect(normalizeSummary({ title: "t", bullets: ["3.5% growth"] })!.bullets).toEqual(["3.5% growth"]);
  });

  it("ignores wrong types for lists and titles", () => {
    const s = normalizeSummary({ title: { nope: true } as unknown, bullets: 12, decisions: { a: "b" }, actions: null, risks: false })!;
    // a non-list value becomes a one-item list; null is nothing
    expect(s.bullets).toEqual(["12"]);
    expect(s.decisions).toEqual(["b"]);
    expect(s.actions).toEqual([]);
    expect(s.risks).toEqual(["false"]);
    expect(s.title).toBe("true");
    expectValid(s);
  });

  it("parses text replies, with or without fences", () => {
    expect(normalizeSummary('```json\n{"title":"Plan","bullets":["x"]}\n```')).toMatchObject({ title: "Plan", bullets: ["x"] });
    expect(normalizeSummary('Sure! {"title":"Plan","nextSteps":["y"]} Thanks')).toMatchObject({ title: "Plan", nextSteps: ["y"] });
  });

  it("gives a fallback title when only the lists are usable", () => {
    expect(normalizeSummary({ bullets: ["进度正常"] })!.title).toBe("会议纪要");
    expect(normalizeSummary({ bullets: ["on track"] })!.title).toBe("Meeting summary");
    expect(normalizeSummary({ title: "   ", bullets: ["on track"] }, { fallbackTitle: "Meeting 2025-03-14" })!.title).toBe("Meeting 2025-03-14");
    expect(normalizeSummary({ title: "# **“Roadmap”**", bullets: [] })!.title).toBe("Roadmap");
  });

  it("returns null when nothing is usable", () => {
    for (const raw of [null, undefined, 1, "nope", "", [], ["a"], {}, { title: "", bullets: [] }, { foo: "bar" }, { title: null, bullets: ["", "  "] }]) {
      expect(normalizeSummary(raw), JSON.stringify(raw)).toBeNull();
    }
  });
});

describe("Summary schemas", () => {
  it("reject duplicates, empties, too many items and long items", () => {
    const ok = { title: "t", bullets: [], decisions: [], actions: [], risks: [], nextSteps: [] };
    expect(Summary.safeParse(ok).success).toBe(true);
    expect(Summary.safeParse({ ...ok, title: " " }).success).toBe(false);
    expect(Summary.safeParse({ ...ok, bullets: ["a", "A "] }).success).toBe(false);
    expect(Summary.safeParse({ ...ok, bullets: [""] }).success).toBe(false);
    expect(Summary.safeParse({ ...ok, bullets: Array.from({ length: 7 }, (_, i) => `${i}`) }).success).toBe(false);
    expect(Summary.safeParse({ ...ok, risks: ["1", "2", "3", "4", "5"] }).success).toBe(false);
    expect(Summary.safeParse({ ...ok, actions: ["x".repeat(MAX_ITEM_CHARS + 1)] }).success).toBe(false);
  });

  it("can be embedded in a device message schema", () => {
    const Msg = z.object({ type: z.literal("meeting"), phase: z.literal("summary"), duration: z.string(), ...summaryShape }).superRefine(checkDistinct);
    const msg = { type: "meeting", phase: "summary", duration: formatDuration(3_723_000), ...heuristicSummary(EN, "LLM_NOT_CONFIGURED") };
    expect(Msg.safeParse(msg).success).toBe(true);
    expect(Msg.safeParse({ ...msg, risks: ["x", "X"] }).success).toBe(false);
  });
});

describe("heuristicSummary", () => {
  it("summarises a Chinese meeting by cues", () => {
    const s = heuristicSummary(ZH, "llm_missing");
    expectValid(s);
    expect(Object.keys(s).sort()).toEqual(["actions", "bullets", "decisions", "nextSteps", "risks", "title"]);
    expect(s.title).toBe("新版固件的发布计划");
    expect(s.decisions).toEqual(["我们决定把发布时间推迟到下周五。"]);
    expect(s.actions).toContain("张三负责修复蓝牙断连的问题，周三之前提交。");
    expect(s.risks).toEqual(["风险是供应商的芯片可能延期交付。"]);
    expect(s.nextSteps).toEqual(["安排一次回归测试，李四跟进。"]);
    expect(s.bullets.length).toBeGreaterThanOrEqual(3);
    expect(s.bullets.length).toBeLessThanOrEqual(6);
    expect(s.bullets).toContain("目前测试覆盖率大概是百分之七十，还有三个严重的缺陷没有修复。");
    for (const b of s.bullets) expect(["大家好", "嗯", "好的，没问题。"]).not.toContain(b);
    // "没问题" is not a risk
    expect(s.risks.join()).not.toContain("没问题");
  });

  it("summarises an English meeting by cues", () => {
    const s = heuristicSummary(EN, "llm_output_not_json");
    expectValid(s);
    expect(s.title).toBe("The Q3 launch plan for the badge");
    expect(s.decisions).toEqual(["We decided to drop the offline mode from this release."]);
    expect(s.actions).toEqual(["Alice will update the onboarding screens by Friday.", "Bob needs to talk to the vendor about the charging case."]);
    expect(s.risks).toEqual(["The main risk is that certification could slip by two weeks."]);
    expect(s.nextSteps).toEqual(["Schedule a beta with 50 users."]);
    expect(s.bullets).toContain("The current build has 3 open crash bugs on Android and the battery drains in about six hours.");
    expect(s.bullets).not.toContain("Hi everyone.");
    expect(s.bullets).not.toContain("Sounds good.");
  });

  it("keeps bullets in meeting order, distinct, at most six", () => {
    const texts = Array.from({ length: 30 }, (_, i) => `Item ${i}: the team reviewed component ${i} and its integration status in detail`);
    const s = heuristicSummary(segs([...texts, texts[3]!, texts[3]!]), "x");
    expect(s.bullets).toHaveLength(6);
    const idx = s.bullets.map((b) => texts.indexOf(b));
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expectValid(s);
  });

  it("keeps the latest four of each cue list", () => {
    const texts = Array.from({ length: 7 }, (_, i) => `Person ${i} will prepare deliverable number ${i} for the client`);
    const s = heuristicSummary(segs(texts), "x");
    expect(s.actions).toEqual(texts.slice(3));
  });

  it("takes the first meaningful segment as title when no topic is stated", () => {
    const s = heuristicSummary(segs(["ok", "嗯嗯", "The database migration finished overnight without errors", "Good."]), "x");
    expect(s.title).toBe("The database migration finished overnight without errors");
    const long = heuristicSummary(segs([`${"word ".repeat(40)}end`]), "x");
    expect(long.title.length).toBeLessThanOrEqual(61);
    expect(long.title.endsWith("…")).toBe(true);
  });

  it("never has an empty title", () => {
    expect(heuristicSummary([], "empty_transcript", { startedAt: T0 })).toEqual({
      title: "Meeting 2025-03-14 09:30",
      bullets: [],
      decisions: [],
      actions: [],
      risks: [],
      nextSteps: [],
    });
    expect(heuristicSummary([], "").title).toBe("Meeting");
    expect(heuristicSummary(segs(["ok", "yes", "thanks"]), "x").title).toBe("Meeting 2025-03-14 09:30");
    expect(heuristicSummary(segs(["嗯", "好的"]), "x").title).toBe("会议 2025-03-14 09:30");
    expect(heuristicSummary([{ text: "   ", ts: 0 }], "x").title).toBe("Meeting");
    expectValid(heuristicSummary([], "x"));
  });

  it("splits segments into sentences and strips labels", () => {
    const s = heuristicSummary(
      segs(["Agenda: budget. Risk: the vendor may be late. TODO: send the quote to finance.", "决定：采用方案B。下一步：周五前完成评审。"]),
      "x",
    );
    expect(s.risks).toContain("The vendor may be late.");
    expect(s.actions).toContain("Send the quote to finance.");
    expect(s.decisions).toEqual(["采用方案B。"]);
    expect(s.nextSteps).toEqual(["周五前完成评审。"]);
  });

  it("is valid on messy segment input", () => {
    const messy = [{ text: "x".repeat(5000), ts: 1 }, { text: "", ts: 2 }, null, { ts: 3 }, { text: 5, ts: 4 }] as unknown as Segment[];
    const s = heuristicSummary(messy, "x");
    expectValid(s);
  });
});

describe("detectLanguage", () => {
  it("is zh when CJK dominates", () => {
    expect(detectLanguage("我们讨论一下 roadmap")).toBe("zh");
    expect(detectLanguage("the roadmap for 固件")).toBe("en");
    expect(detectLanguage("")).toBe("en");
  });
});

describe("heuristicSummary labels", () => {
  it("needs a colon for ambiguous labels", () => {
    const s = heuristicSummary(segs(["任务很多，大家辛苦了，这个季度的目标还是要达成的。", "接下来我们看一下预算的执行情况和下个月的安排。"]), "x");
    expect(s.actions.join()).not.toContain("很多，大家");
    expect(s.nextSteps).not.toContain("我们看一下预算的执行情况和下个月的安排。");
    const t = heuristicSummary(segs(["后续：整理会议纪要并发给所有人。", "下一步安排压测"]), "x");
    expect(t.nextSteps).toEqual(["整理会议纪要并发给所有人。", "安排压测"]);
  });
});

describe("normalizeSummary on raw replies", () => {
  it("finds the object in plain, fenced, chatty and double-encoded replies", () => {
    for (const raw of [
      '{"title":"a"}',
      '```json\n{"title":"a"}\n```',
      'Here you go:\n{"title":"a","bullets":["x"]}\nHope it helps!',
      JSON.stringify('{"title":"a"}'),
    ]) {
      expect(normalizeSummary(raw)?.title).toBe("a");
    }
    for (const raw of ["not json at all", '{"title": "a",', "[1,2]"]) expect(normalizeSummary(raw)).toBeNull();
  });
});
