// What a device's session tells the fleet registry (D1 in production; tests may keep it in
// memory). Each device's own object writes its own row: nothing funnels through a shared object.

/** A device's state as its object reports it (connect, disconnect, mode, profile, inbox, lease). */
export interface StateReport {
  deviceId: string;
  /** The profile's alias, else DEVICE_ALIASES; null when neither. */
  alias: string | null;
  groupKey: string;
  /** The profile's own alias and group (null when the profile sets none). */
  profileAlias: string | null;
  profileGroup: string | null;
  online: boolean;
  /** Start of the live connection (ms), null when offline. */
  since: number | null;
  mode: string | null;
  /** Messages in the offline inbox; null when this report does not know (the row keeps its value). */
  inbox: number | null;
  /**
   * The connect or disconnect this report is about (ms): such a report creates the row and moves
   * lastSeen. Null for the other reports, which only update a row that exists.
   */
  seenAt: number | null;
  /** Orders the reports of one device: an older one arriving late changes nothing. */
  at: number;
  /** An online row counts as online until then; renewed while the device stays connected. */
  leaseUntil: number;
}

export interface FleetPort {
  report(r: StateReport): Promise<void>;
  /**
   * Claims an activation code for a device until `expiresAt`; false when another device holds it
   * (codes are unique among pending ones). Expired claims are free to take.
   */
  claimCode(deviceId: string, code: string, expiresAt: number, now: number): Promise<boolean>;
  /** The device was activated (or its code replaced): its pending code is no longer listed. */
  releaseCode(deviceId: string): Promise<void>;
  /** One voice turn, for GET /api/stats (`firstFrameMs`: utterance end → first audio frame). */
  recordTurn(deviceId: string, at: number, firstFrameMs: number | null): Promise<void>;
}

/** Without a registry (no FLEET binding): nothing is recorded and every code is taken as unique. */
export const NO_FLEET: FleetPort = {
  report: async () => {},
  claimCode: async () => true,
  releaseCode: async () => {},
  recordTurn: async () => {},
};
