import { z } from "zod";

// Coding mode messages (PROTOCOL §8): device → server events, the ack and the insight/summary.
//
// Length rule: a `log` message's `text` is limited only by the 64 KiB frame limit (§10, checked
// before parsing). A device may forward a whole chunk of CI output in one message; rejecting it
// would lose exactly the lines that matter. The HISTORY bounds apply afterwards: the text is split
// into lines and each line is cut to HISTORY_TEXT_MAX (512) chars (src/coding/history.ts).
// `name` and `phase` are labels shown on the badge, so they are short and non-blank.

export const LOG_LEVELS = ["info", "warn", "error"] as const;
export const LogLevel = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevel>;

export const CODING_EVENTS = ["start", "stop", "clear", "log", "step", "phase"] as const;

// Firmware and log forwarders spell levels in many ways; the common ones mean the same thing.
const LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  warning: "warn",
  err: "error",
  fatal: "error",
  critical: "error",
  debug: "info",
  trace: "info",
  notice: "info",
};

const level = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    const k = v.trim().toLowerCase();
    return Object.hasOwn(LEVEL_ALIASES, k) ? LEVEL_ALIASES[k] : k;
  },
  z.enum(LOG_LEVELS, { error: "must be one of info|warn|error" }).default("info"),
);

const label = (max: number) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .min(1, { error: "must be a non-empty string" })
    .max(max, { error: `must be at most ${max} characters` });

/** Step status: free text per §8 (`ok`, `fail`, …), lower-cased; see `stepOutcome` for meaning. */
const status = z
  .string({ error: "must be a string such as ok|fail" })
  .trim()
  .toLowerCase()
  .min(1, { error: "must be a string such as ok|fail" })
  .max(32, { error: "must be at most 32 characters" });

const base = { type: z.literal("coding") };

export const CodingIn = z.discriminatedUnion(
  "event",
  [
    z.looseObject({ ...base, event: z.literal("start") }),
    z.looseObject({ ...base, event: z.literal("stop") }),
    z.looseObject({ ...base, event: z.literal("clear") }),
    z.looseObject({ ...base, event: z.literal("log"), level, text: z.string({ error: "must be a string" }) }),
    z.looseObject({ ...base, event: z.literal("step"), name: label(128), status }),
    z.looseObject({ ...base, event: z.literal("phase"), phase: label(64) }),
  ],
  { error: `event must be one of ${CODING_EVENTS.join("|")}` },
);
export type CodingIn = z.infer<typeof CodingIn>;
export type CodingLogIn = Extract<CodingIn, { event: "log" }>;
export type CodingStepIn = Extract<CodingIn, { event: "step" }>;
export type CodingPhaseIn = Extract<CodingIn, { event: "phase" }>;

export type StepOutcome = "ok" | "fail" | "other";

const OK_STATUS = new Set(["ok", "success", "succeeded", "successful", "pass", "passed", "done", "green", "成功", "通过", "完成"]);
const FAIL_STATUS = new Set([
  "fail",
  "failed",
  "failure",
  "error",
  "errored",
  "red",
  "broken",
  "crashed",
  "timeout",
  "timedout",
  "cancelled",
  "canceled",
  "失败",
  "错误",
  "超时",
]);

/** What a step status means for the stats: anything not clearly ok or failed (start, running, skip) is "other". */
export function stepOutcome(status: string): StepOutcome {
  const s = status
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, "");
  if (OK_STATUS.has(s)) return "ok";
  if (FAIL_STATUS.has(s)) return "fail";
  return "other";
}

// ---- server → device ----

export const CodingAck = z.object({
  type: z.literal("coding"),
  status: z.literal("ok"),
  event: z.enum(CODING_EVENTS),
});
export type CodingAck = z.infer<typeof CodingAck>;

export const INSIGHT_LIMITS = { insights: 5, risks: 4, actions: 6, nextSteps: 6 } as const;
export const INSIGHT_LISTS = ["insights", "risks", "actions", "nextSteps"] as const;
export type InsightList = (typeof INSIGHT_LISTS)[number];
/** Items are one glanceable line on a badge screen. */
export const INSIGHT_ITEM_MAX = 140;

const item = z.string().regex(/\S/, "empty item").max(INSIGHT_ITEM_MAX);

export const CodingStats = z.object({
  errorCount: z.number().int().min(0),
  warnCount: z.number().int().min(0),
  /** Name of the last `step`; "" before the first one. */
  lastStep: z.string(),
  buildSuccess: z.boolean().nullable(),
  testsFailed: z.number().int().min(0),
});
export type CodingStats = z.infer<typeof CodingStats>;

/** The four lists, as the LLM is asked to return them and as the heuristic produces them. */
export const InsightLists = z.object({
  insights: z.array(item).max(INSIGHT_LIMITS.insights),
  risks: z.array(item).max(INSIGHT_LIMITS.risks),
  actions: z.array(item).max(INSIGHT_LIMITS.actions),
  nextSteps: z.array(item).max(INSIGHT_LIMITS.nextSteps),
});
export type InsightLists = z.infer<typeof InsightLists>;

/** `insight` after log/step/phase (debounced), `summary` after `stop` (§8). */
export const CodingInsightOut = z.object({
  type: z.literal("coding"),
  event: z.enum(["insight", "summary"]),
  phase: z.string(),
  ...InsightLists.shape,
  stats: CodingStats,
  source: z.enum(["llm", "heuristic"]),
});
export type CodingInsightOut = z.infer<typeof CodingInsightOut>;
