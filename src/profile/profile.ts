import { z } from "zod";
import { isValidId, normaliseId } from "../auth/identity.ts";
import { fact, type Session } from "../session/capability.ts";

// A device's profile, its agent (PROTOCOL §11): per-device values over the global settings, kept
// in the device's own storage. `alias` and `group` win over DEVICE_ALIASES and DEVICE_GROUPS;
// `prompt` replaces CHAT_SYSTEM_PROMPT; `voice`, `language` and `llmModel` replace TTS_VOICE,
// the recognition language and LLM_MODEL for this device, from its next turn on.

export interface Profile {
  alias?: string;
  group?: string;
  prompt?: string;
  voice?: string;
  language?: string;
  llmModel?: string;
}

export const PROFILE_FIELDS = ["alias", "group", "prompt", "voice", "language", "llmModel"] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, { error: "must not be empty (null removes it)" })
    .max(max, { error: `at most ${max} characters` });

/** A group key is a path parameter elsewhere (/api/groups/:key): it follows the device id rules. */
const groupKey = z
  .string()
  .transform((v) => normaliseId(v))
  .refine(isValidId, { error: "group must be 1-64 chars of [a-z0-9:._-]" });

/** PUT body: fields to set, `null` to remove; fields not named stay as they are. */
export const ProfilePatch = z.strictObject(
  {
    alias: text(64).nullable().optional(),
    group: groupKey.nullable().optional(),
    prompt: text(8000).nullable().optional(),
    voice: text(64).nullable().optional(),
    language: text(35).nullable().optional(),
    llmModel: text(128).nullable().optional(),
  },
  { error: (issue) => (issue.code === "unrecognized_keys" ? `unknown field (known: ${PROFILE_FIELDS.join(", ")})` : "body must be a JSON object") },
);
export type ProfilePatch = z.infer<typeof ProfilePatch>;

const PROFILE = fact<Profile>("profile");
const EMPTY: Readonly<Profile> = Object.freeze({});

/**
 * The device's profile ({} when none): what the voice turn reads for its prompt, voice, language
 * and model. A cached read after the first; do not mutate the result.
 */
export function profileOf(session: Session): Readonly<Profile> {
  return session.store.get(PROFILE) ?? EMPTY;
}

/** Applies a patch; returns the new profile and the fields whose value changed. */
export function mergeProfile(current: Readonly<Profile>, patch: ProfilePatch): { profile: Profile; changed: ProfileField[] } {
  const profile: Profile = { ...current };
  const changed: ProfileField[] = [];
  for (const field of PROFILE_FIELDS) {
    const v = patch[field];
    if (v === undefined || v === current[field]) continue;
    if (v === null) {
      if (current[field] === undefined) continue;
      delete profile[field];
    } else profile[field] = v;
    changed.push(field);
  }
  return { profile, changed };
}

/** Stores a patch (nothing is written when it changes nothing). */
export function updateProfile(session: Session, patch: ProfilePatch): { profile: Profile; changed: ProfileField[] } {
  const result = mergeProfile(profileOf(session), patch);
  if (result.changed.length) session.store.set(PROFILE, result.profile);
  return result;
}
