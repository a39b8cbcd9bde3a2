import { fact } from "../session/capability.ts";
import type { DeviceStore } from "../session/device-store.ts";

// OTA_ACTIVATION=required (PROTOCOL §1.1): an unknown device is shown a 6-digit code, an operator
// confirms it through the API, and the device's next OTA check gets its token. The code stays the
// same until it is used, so a device that reboots keeps showing what the operator was told.

export interface Activation {
  code: string;
  challenge: string;
  createdAt: number;
  activatedAt: number | null;
}

const ACTIVATION = fact<Activation>("activation");

export type OtaActivation = { activated: true } | { activated: false; code: string; challenge: string };

function randomDigits(n: number): string {
  const bytes = crypto.getRandomValues(new Uint32Array(n));
  return Array.from(bytes, (b) => String(b % 10)).join("");
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function activationFor(store: DeviceStore, now: number): OtaActivation {
  let a = store.get(ACTIVATION);
  if (a?.activatedAt) return { activated: true };
  if (!a) {
    a = { code: randomDigits(6), challenge: randomHex(16), createdAt: now, activatedAt: null } satisfies Activation;
    store.set(ACTIVATION, a);
  }
  return { activated: false, code: a.code, challenge: a.challenge };
}

export function isActivated(store: DeviceStore): boolean {
  return Boolean(store.get(ACTIVATION)?.activatedAt);
}

export function checkActivationCode(store: DeviceStore, code: string, now: number): { ok: boolean; reason?: string } {
  const a = store.get(ACTIVATION);
  if (a?.activatedAt) return { ok: true };
  if (!a) return { ok: false, reason: "this device has not asked for activation (no OTA check yet)" };
  if (code.trim() !== a.code) return { ok: false, reason: "activation code does not match" };
  store.set(ACTIVATION, { ...a, activatedAt: now });
  return { ok: true };
}
