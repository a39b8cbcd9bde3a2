import { ActivationCodes } from "./activations.ts";
import type { Db } from "./db.ts";
import { NO_FLEET, type FleetPort } from "./port.ts";
import { DeviceRegistry } from "./registry.ts";
import { VoiceTurns } from "./turns.ts";

// The fleet registry over one D1 database: device rows, pending activation codes, voice turns.
// Used by the Worker (OTA, operator API), by device objects (through FleetPort) and by groups.

export interface Fleet {
  devices: DeviceRegistry;
  codes: ActivationCodes;
  turns: VoiceTurns;
}

const fleets = new WeakMap<Db, Fleet>();

/** The registry over `db`, or null when the deployment binds no FLEET database. */
export function fleetOf(db: Db | undefined | null): Fleet | null {
  if (!db || typeof db.prepare !== "function") return null;
  let f = fleets.get(db);
  if (!f) {
    f = { devices: new DeviceRegistry(db), codes: new ActivationCodes(db), turns: new VoiceTurns(db) };
    fleets.set(db, f);
  }
  return f;
}

/** What a device's session may write, over the registry (a no-op without one). */
export function fleetPortOf(fleet: Fleet | null): FleetPort {
  if (!fleet) return NO_FLEET;
  return {
    report: (r) => fleet.devices.report(r),
    claimCode: (deviceId, code, expiresAt, now) => fleet.codes.claim(deviceId, code, expiresAt, now),
    releaseCode: (deviceId) => fleet.codes.release(deviceId),
    recordTurn: (deviceId, at, ms) => fleet.turns.record(deviceId, at, ms),
  };
}
