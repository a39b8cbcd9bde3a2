import { z } from "zod";

// Messages of the session lifecycle (PROTOCOL §3, §5, §6), device → server and server → device.
// Inbound schemas are loose: firmware adds fields across versions and unknown fields are ignored.
// Capability messages (meeting, workflow, coding, peer) live in their own folders.

export const MODES = ["meeting", "working", "coding"] as const;
export const ModeName = z.enum(MODES);
export type ModeName = z.infer<typeof ModeName>;

const AudioParams = z.looseObject({
  format: z.string().optional(),
  sample_rate: z.number().int().positive().optional(),
  channels: z.number().int().positive().optional(),
  frame_duration: z.number().int().positive().optional(),
});

export const HelloIn = z.looseObject({
  type: z.literal("hello"),
  version: z.number().int().optional(),
  transport: z.string().optional(),
  features: z.record(z.string(), z.unknown()).optional(),
  audio_params: AudioParams.optional(),
});
export type HelloIn = z.infer<typeof HelloIn>;

/** The hello stock xiaozhi firmware sends (for simulators and tests). */
export const FIRMWARE_HELLO = {
  type: "hello",
  version: 1,
  transport: "websocket",
  features: { mcp: true },
  audio_params: { format: "opus", sample_rate: 16000, channels: 1, frame_duration: 60 },
} as const satisfies HelloIn;

/** What the xiaozhi browser test page sends: no transport, no audio_params. */
export const TEST_PAGE_HELLO = { type: "hello", version: 1, features: { mcp: true } } as const satisfies HelloIn;

export const PingIn = z.looseObject({ type: z.enum(["ping", "keepalive"]) });

export const ListenIn = z.looseObject({
  type: z.literal("listen"),
  state: z.enum(["start", "stop", "detect"]),
  mode: z.enum(["auto", "manual", "realtime"]).optional(),
  text: z.string().optional(),
  session_id: z.string().optional(),
});
export type ListenIn = z.infer<typeof ListenIn>;

export const AbortIn = z.looseObject({ type: z.literal("abort"), reason: z.string().optional() });
export const McpIn = z.looseObject({ type: z.literal("mcp"), payload: z.unknown().optional() });
export const IotIn = z.looseObject({ type: z.literal("iot") });
export const GoodbyeIn = z.looseObject({ type: z.literal("goodbye") });

export const ModeIn = z.looseObject({
  type: z.literal("mode"),
  state: z.enum(["start", "end"]),
  mode: ModeName,
});
export type ModeIn = z.infer<typeof ModeIn>;

// ---- server → device ----

export const HelloOut = z.object({
  type: z.literal("hello"),
  version: z.number().int(),
  transport: z.literal("websocket"),
  session_id: z.string().min(1),
  device_id: z.string(),
  audio_params: z.object({
    format: z.literal("opus"),
    sample_rate: z.number().int(),
    channels: z.literal(1),
    frame_duration: z.number().int(),
  }),
});
export type HelloOut = z.infer<typeof HelloOut>;

export const PongOut = z.object({ type: z.literal("pong"), ts: z.number().optional() });
export type PongOut = z.infer<typeof PongOut>;

export const SystemOut = z.discriminatedUnion("event", [
  z.object({ type: z.literal("system"), event: z.literal("timeout_warning"), seconds: z.number() }),
  z.object({ type: z.literal("system"), event: z.literal("timeout") }),
  z.object({ type: z.literal("system"), event: z.literal("heartbeat"), ts: z.number() }),
  z.object({ type: z.literal("system"), event: z.literal("replaced"), message: z.string() }),
]);
export type SystemOut = z.infer<typeof SystemOut>;

export const ModeOut = z.object({
  type: z.literal("mode"),
  status: z.literal("ok"),
  state: z.enum(["start", "end"]),
  mode: ModeName,
  idempotent: z.literal(true).optional(),
});
export type ModeOut = z.infer<typeof ModeOut>;

export const ListenOut = z.object({
  type: z.literal("listen"),
  state: z.literal("start"),
  mode: z.enum(["auto", "manual", "realtime"]),
});
export type ListenOut = z.infer<typeof ListenOut>;

export const AlertOut = z.object({
  type: z.literal("alert"),
  status: z.literal("error"),
  message: z.string(),
  emotion: z.string(),
});
export type AlertOut = z.infer<typeof AlertOut>;

export const REPLACED_MESSAGE = "a new connection for this device took over; this one closes in 1.5 s";

export const CLOSE = {
  normal: 1000,
  policy: 1008,
  /** Server restarting: the firmware reconnects at once (PROTOCOL §3). */
  restart: 1012,
  idle: 4000,
  replaced: 4009,
} as const;

/** Text frames above this many UTF-8 bytes are refused with MESSAGE_TOO_LARGE. */
export const MAX_TEXT_BYTES = 64 * 1024;
