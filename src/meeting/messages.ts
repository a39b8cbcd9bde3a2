import { z } from "zod";
import { checkDistinct, summaryShape } from "./summary/schema.ts";

// Meeting mode messages (PROTOCOL §6.1).

const SnippetItem = z.looseObject({
  tag: z.string().max(64),
  text: z.string().max(4000),
  speakerId: z.string().max(64).optional(),
});

export const MeetingIn = z.discriminatedUnion(
  "phase",
  [
    z.looseObject({
      type: z.literal("meeting"),
      phase: z.literal("snippet"),
      items: z
        .array(z.unknown(), { error: "items must be array of {tag,text}" })
        .max(200)
        .superRefine((items, ctx) => {
          // One precise sentence instead of one issue per item: the firmware author needs the rule.
          const bad = items.findIndex((i) => !SnippetItem.safeParse(i).success);
          if (bad >= 0) {
            ctx.addIssue({ code: "custom", message: `items must be array of {tag,text}: missing one of tag/text (items[${bad}])`, path: [] });
          }
        }),
    }),
    z.looseObject({ type: z.literal("meeting"), phase: z.literal("finalize") }),
  ],
  { error: "phase must be one of snippet|finalize" },
);
export type MeetingIn = z.infer<typeof MeetingIn>;
export type SnippetItem = z.infer<typeof SnippetItem>;

export const MeetingSummaryOut = z
  .object({
    type: z.literal("meeting"),
    phase: z.literal("summary"),
    meetingId: z.string(),
    ...summaryShape,
    duration: z.string().regex(/^\d{2,}:\d{2}:\d{2}$/),
    degraded: z.string().optional(),
    idempotent: z.literal(true).optional(),
  })
  .superRefine(checkDistinct);
export type MeetingSummaryOut = z.infer<typeof MeetingSummaryOut>;

export const PROGRESS_STAGES = ["prepare", "llm_start", "llm_done", "archived", "done"] as const;
export type ProgressStage = (typeof PROGRESS_STAGES)[number];

export interface Segment {
  seq: number;
  ts: number;
  text: string;
  speakerId?: string;
  tag?: string;
}
