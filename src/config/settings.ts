import { z } from "zod";

// Settings arrive as strings ([vars], secrets, `wrangler dev --var`). One schema turns them into
// typed values with the documented defaults; a bad value falls back to its default and is reported,
// because a typo in one var must not take every device offline.

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

const int = (def: number, min: number, max: number) => z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max).default(def)).catch(def);

const str = (def = "") => z.preprocess(blankToUndefined, z.string().trim().default(def)).catch(def);

const bool = (def: boolean) =>
  z
    .preprocess(blankToUndefined, z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"]).default(def ? "true" : "false"))
    .transform((v) => ["true", "1", "yes", "on"].includes(v))
    .catch(def);

/** A string where "" is a value of its own (e.g. "no greeting"); only an absent setting takes the default. */
const strKeepEmpty = (def: string) => z.string().trim().default(def).catch(def);

const oneOf = <const T extends readonly [string, ...string[]]>(values: T, def: T[number]) =>
  z.preprocess(blankToUndefined, z.enum(values).default(def as never)).catch(def as never) as unknown as z.ZodType<T[number]>;

const list = (def = "") =>
  str(def).transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

const jsonRecord = <T extends z.ZodType>(value: T) =>
  z
    .preprocess(
      (v) => {
        const b = blankToUndefined(v);
        if (typeof b !== "string") return b ?? {};
        try {
          return JSON.parse(b);
        } catch {
          return Symbol.for("invalid-json");
        }
      },
      z.record(z.string(), value),
    )
    // Keys are device ids: compare them the way ids are compared everywhere (PROTOCOL §2.1). The
    // table has no prototype, so ids like `constructor` or `__proto__` find nothing they should not.
    .transform((rec) => {
      const out = Object.create(null) as Record<string, z.infer<T>>;
      for (const [k, v] of Object.entries(rec))
        out[
          k
            .trim()
            .replace(/^["']|["']$/g, "")
            .toLowerCase()
        ] = v as z.infer<T>;
      return out;
    })
    .catch({});

export const AUTH_MODES = ["off", "device-token", "jwt", "introspection", "mixed"] as const;

export const SettingsSchema = z.object({
  AUTH_MODE: z.preprocess(blankToUndefined, z.enum(AUTH_MODES).default("device-token")).catch("device-token"),
  DEVICE_TOKEN_SECRET: str(),
  DEVICE_TOKEN_TTL_S: int(30 * 24 * 3600, 60, 10 * 365 * 24 * 3600),
  AUTH_TOKENS: list(),
  AUTH_ALLOWED_DEVICES: list(),
  JWT_SECRET: str(),
  JWT_JWKS_URL: str(),
  JWT_ISSUER: str(),
  JWT_AUDIENCE: str(),
  JWT_ALGORITHMS: list("HS256,RS256,ES256,EdDSA"),
  OAUTH_INTROSPECTION_URL: str(),
  OAUTH_CLIENT_ID: str(),
  OAUTH_CLIENT_SECRET: str(),
  // "auto" (unset or empty): required off loopback, off on it (PROTOCOL §1.1; see otaActivation).
  OTA_ACTIVATION: z.preprocess(blankToUndefined, z.enum(["off", "required", "auto"]).default("auto")).catch("auto"),
  ACTIVATION_CODE_TTL_S: int(600, 30, 7 * 24 * 3600),
  PUBLIC_WS_URL: str(),
  FIRMWARE_VERSION: str(),
  FIRMWARE_URL: str(),
  FIRMWARE_BY_BOARD: jsonRecord(
    z.object({ version: z.string().trim().min(1), url: z.string().trim().optional(), rollout: z.number().int().min(0).max(100).optional() }),
  ),
  FIRMWARE_MAX_BYTES: int(16 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  TIMEZONE_OFFSET_MIN: int(480, -720, 840),
  ADMIN_TOKEN: str(),

  IDLE_TIMEOUT_S: int(600, 10, 7 * 24 * 3600),
  IDLE_WARNING_S: int(15, 0, 3600),
  LOG_MAX_MESSAGE_LENGTH: int(2000, 64, 1_000_000),
  LOG_LEVEL: z.preprocess(blankToUndefined, z.enum(["debug", "info", "warn", "error"]).default("info")).catch("info"),
  // Opus encodes only these rates; the hello announces it and the device decodes at it.
  DOWNLINK_SAMPLE_RATE: z
    .preprocess(
      blankToUndefined,
      z.coerce
        .number()
        .int()
        .refine((v) => [8000, 12000, 16000, 24000, 48000].includes(v))
        .default(24000),
    )
    .catch(24000),

  DEVICE_GROUPS: jsonRecord(z.string()),
  DEVICE_ALIASES: jsonRecord(z.string()),
  PEER_ACL: str("{}"),
  PEER_BROADCAST_INTERVAL_MS: int(5000, 0, 24 * 3600 * 1000),
  PEER_INBOX_TTL_S: int(3 * 24 * 3600, 1, 365 * 24 * 3600),
  PEER_INBOX_MAX: int(100, 1, 10_000),
  PEER_TASK_TO_WORKFLOW: bool(false),

  LLM_BASE_URL: str(),
  LLM_API_KEY: str(),
  LLM_MODEL: str("gpt-4o-mini"),
  ASR_BASE_URL: str(),
  ASR_API_KEY: str(),
  ASR_MODEL: str("whisper-1"),
  ASR_LANGUAGE: str(),
  ASR_PROVIDER: oneOf(["auto", "openai", "workers-ai"], "auto"),
  ASR_TIMEOUT_MS: int(15_000, 1000, 120_000),
  // Recognition starts in the pause that may end the turn (src/voice/early-asr.ts).
  ASR_EARLY_START: bool(true),
  // The reply's first LLM round starts on that early answer, outside modes (src/voice/early-reply.ts).
  LLM_EARLY_START: bool(true),
  LLM_TIMEOUT_MS: int(20_000, 1000, 120_000),
  TTS_BASE_URL: str(),
  TTS_API_KEY: str(),
  // No default model: OpenAI's tts-1, tts-1-hd and gpt-4o-mini-tts shut down on 2027-01-06, and
  // compatible servers each name their own.
  TTS_MODEL: str(),
  TTS_VOICE: str("alloy"),
  TTS_FORMAT: oneOf(["pcm", "wav"], "pcm"),
  TTS_SAMPLE_RATE: int(24000, 8000, 48000),
  TTS_PROVIDER: oneOf(["auto", "openai", "workers-ai"], "auto"),
  TTS_TIMEOUT_MS: int(15_000, 1000, 120_000),
  WORKERS_AI_ASR_MODEL: str("@cf/openai/whisper-large-v3-turbo"),
  WORKERS_AI_TTS_MODEL: str("@cf/deepgram/aura-1"),
  WORKERS_AI_TTS_SPEAKER: str(),
  WAKE_WORDS: list("你好小智,你好小志,小爱同学,小智,hi supie,hey supie"),
  WAKE_GREETING: strKeepEmpty("你好，我在。"),
  VAD_SILENCE_MS: int(700, 100, 10_000),
  MANUAL_LISTEN_FALLBACK_MS: int(5000, 500, 120_000),
  CHAT_SYSTEM_PROMPT: str(
    "You are Supie, a friendly voice assistant on a small badge. Answer in the language the user speaks, in one to three short spoken sentences, without markdown, lists or emoji codes.",
  ),
  CHAT_HISTORY_TURNS: int(10, 0, 100),
  CHAT_MAX_TOKENS: int(400, 16, 8192),
  // Tools in a chat turn (PROTOCOL §13): rounds with tools before the last one without.
  CHAT_MAX_TOOL_ROUNDS: int(3, 0, 10),
  // Empty means none (not the default): an operator may switch the server tools off.
  CHAT_SERVER_TOOLS: strKeepEmpty("end_conversation,send_message,list_group_members,add_task").transform((v) =>
    v
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean),
  ),

  MCP_ENABLED: bool(true),
  MCP_INIT_TIMEOUT_MS: int(10_000, 500, 120_000),
  MCP_TOOL_TIMEOUT_MS: int(20_000, 500, 300_000),
  MCP_MAX_FRAME_BYTES: int(1024 * 1024, 64 * 1024, 32 * 1024 * 1024),
  MCP_MAX_TOOLS: int(32, 0, 128),
  MCP_RESULT_MAX_CHARS: int(4000, 100, 100_000),
  VISION_MODEL: str(),
  VISION_BASE_URL: str(),
  VISION_API_KEY: str(),
  VISION_TIMEOUT_MS: int(12_000, 1000, 120_000),
  VISION_MAX_BYTES: int(2 * 1024 * 1024, 1024, 20 * 1024 * 1024),
  VISION_TOKEN_TTL_S: int(86_400, 60, 30 * 24 * 3600),

  MEETING_TRANSCRIPT_PUSH_MS: int(5000, 0, 3_600_000).transform((v) => Math.min(15000, Math.max(3000, v))),
  MEETING_RETENTION_COUNT: int(100, 1, 100_000),
  MEETING_RETENTION_DAYS: int(365, 1, 36_500),
  MEETING_WEBHOOK_URL: str(),
  MEETING_WEBHOOK_SECRET: str(),
  /** Seconds before each retry of a failed webhook (each +0–20 % jitter): 1 + N attempts in all. */
  MEETING_WEBHOOK_RETRY_S: str("3,30,120,600,3600,21600,86400"),
  CODING_INSIGHT_DEBOUNCE_MS: int(800, 0, 60_000).transform((v) => Math.max(300, v)),
});

export type Settings = z.infer<typeof SettingsSchema>;
export type SettingName = keyof Settings;
export const SETTING_NAMES = Object.keys(SettingsSchema.shape) as SettingName[];
export const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set<SettingName>([
  "DEVICE_TOKEN_SECRET",
  "AUTH_TOKENS",
  "JWT_SECRET",
  "OAUTH_CLIENT_SECRET",
  "ADMIN_TOKEN",
  "LLM_API_KEY",
  "ASR_API_KEY",
  "TTS_API_KEY",
  "VISION_API_KEY",
  "MEETING_WEBHOOK_SECRET",
]);

/** Parses raw string settings; `invalid` names the settings that fell back to their default. */
export function parseSettings(raw: Record<string, unknown>): { settings: Settings; invalid: SettingName[] } {
  const picked: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) picked[name] = raw[name];
  const settings = SettingsSchema.parse(picked);
  const invalid: SettingName[] = [];
  for (const name of SETTING_NAMES) {
    const value = picked[name];
    if (value === undefined || (typeof value === "string" && value.trim() === "")) continue;
    const one = SettingsSchema.shape[name] as z.ZodType;
    // `.catch` hides the failure; re-check the inner value without it to report the fallback.
    const inner = (one as unknown as { def?: { innerType?: z.ZodType } }).def?.innerType;
    if (inner && !inner.safeParse(value).success) invalid.push(name);
  }
  return { settings, invalid };
}

/** The device's group: DEVICE_GROUPS entry, else the first 8 characters of the id (PROTOCOL §7). */
export function groupOf(settings: Settings, deviceId: string): string {
  return (Object.hasOwn(settings.DEVICE_GROUPS, deviceId) ? settings.DEVICE_GROUPS[deviceId] : undefined) ?? deviceId.slice(0, 8);
}

/** DEVICE_ALIASES' entry for the device, null when it has none (the registry shows null, PROTOCOL §11). */
export function configuredAlias(settings: Settings, deviceId: string): string | null {
  return (Object.hasOwn(settings.DEVICE_ALIASES, deviceId) ? settings.DEVICE_ALIASES[deviceId] : undefined) ?? null;
}

export function aliasOf(settings: Settings, deviceId: string): string {
  return (Object.hasOwn(settings.DEVICE_ALIASES, deviceId) ? settings.DEVICE_ALIASES[deviceId] : undefined) ?? deviceId;
}
