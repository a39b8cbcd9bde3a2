import type { FleetPort } from "../fleet/port.ts";
import { log } from "../log.ts";
import { fact, type Session } from "../session/capability.ts";

// OTA_ACTIVATION=required (PROTOCOL §1.1, §11): an unknown device is shown a 6-digit code, an
// operator confirms it through the API, and the device's next OTA check gets its token. A code
// lives ACTIVATION_CODE_TTL_S; until then every OTA check shows the same one, so a device that
// reboots keeps showing what the operator was told. The code is claimed in the fleet registry
// before it is shown, which keeps codes unique among pending ones and lets an operator bind a
// device by its code alone.

export interface Activation {
  code: string;
  challenge: string;
  createdAt: number;
  /** Absent in codes issued before codes expired: those count from `createdAt`. */
  expiresAt?: number;
  activatedAt: number | null;
}

const ACTIVATION = fact<Activation>("activation");
/** Tries before giving up on a unique code (a clash is one in a million per pending code). */
const CLAIM_TRIES = 8;

export type OtaActivation = { activated: true } | { activated: false; code: string; challenge: string; expiresAt: number };

function randomDigits(n: number): string {
  const bytes = crypto.getRandomValues(new Uint32Array(n));
  return Array.from(bytes, (b) => String(b % 10)).join("");
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

const ttlMs = (session: Session) => session.settings.ACTIVATION_CODE_TTL_S * 1000;
const expiryOf = (session: Session, a: Activation) => a.expiresAt ?? a.createdAt + ttlMs(session);

/** A fresh code this device alone holds among pending ones. */
async function newCode(session: Session, fleet: FleetPort, now: number): Promise<Activation> {
  const expiresAt = now + ttlMs(session);
  for (let i = 0; i < CLAIM_TRIES; i++) {
    const code = randomDigits(6);
    let claimed: boolean;
    try {
      claimed = await fleet.claimCode(session.deviceId, code, expiresAt, now);
    } catch (err) {
      // The registry is down: the device still gets a code, bound with POST /api/devices/:id/activate.
      log.warn("activation.claim_failed", { deviceId: session.deviceId, error: err });
      claimed = true;
    }
    if (claimed) return { code, challenge: randomHex(16), createdAt: now, expiresAt, activatedAt: null };
  }
  throw new Error(`no unique activation code after ${CLAIM_TRIES} tries`);
}

/** What an OTA check shows: activated, or the pending code (a new one once the last expired). */
export async function activationFor(session: Session, fleet: FleetPort): Promise<OtaActivation> {
  // Two OTA checks at once share one code.
  await session.once("activation", async () => {
    const now = session.now();
    const a = session.store.get(ACTIVATION);
    if (a?.activatedAt || (a && expiryOf(session, a) > now)) return;
    session.store.set(ACTIVATION, await newCode(session, fleet, now));
  });
  const a = session.store.get(ACTIVATION)!;
  if (a.activatedAt) return { activated: true };
  return { activated: false, code: a.code, challenge: a.challenge, expiresAt: expiryOf(session, a) };
}

export function isActivated(session: Session): boolean {
  return Boolean(session.store.get(ACTIVATION)?.activatedAt);
}

/** `already`: the device was activated before this call (binding by code treats its code as used). */
export async function checkActivationCode(session: Session, fleet: FleetPort, code: string): Promise<{ ok: boolean; already?: boolean; reason?: string }> {
  const now = session.now();
  const a = session.store.get(ACTIVATION);
  if (a?.activatedAt) return { ok: true, already: true };
  if (!a) return { ok: false, reason: "this device has not asked for activation (no OTA check yet)" };
  if (code.trim() !== a.code) return { ok: false, reason: "activation code does not match" };
  if (expiryOf(session, a) <= now) return { ok: false, reason: "activation code expired; the device shows a new one after its next OTA check" };
  session.store.set(ACTIVATION, { ...a, activatedAt: now });
  // Awaited, so the pending list no longer shows the code once the operator has the answer.
  await fleet.releaseCode(session.deviceId).catch((err: unknown) => log.warn("activation.release_failed", { deviceId: session.deviceId, error: err }));
  return { ok: true };
}
