// Which firmware an OTA check offers (PROTOCOL §1.1): FIRMWARE_BY_BOARD for the device's board
// wins over FIRMWARE_VERSION/FIRMWARE_URL, for the share of that board's devices its `rollout`
// names. A device's bucket (0–99) comes from a hash of its id, so it never changes: a device
// inside a rollout stays inside as the share grows, and a retried check gets the same answer.

export interface BoardFirmware {
  version: string;
  /** Empty: the image uploaded to this server (`/firmware/<board>/<version>.bin`). */
  url?: string;
  /** Percent of the board's devices offered this version (default 100). */
  rollout?: number;
}

export interface FirmwareOffer {
  version: string;
  url: string;
}

/** The device's stable rollout bucket, 0–99. */
export async function rolloutBucket(deviceId: string): Promise<number> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`rollout:${deviceId}`)));
  return (((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0) % 100;
}

/** The board from the OTA body (`board.type`), else from `User-Agent: <board>/<version>`. */
export function boardOf(body: unknown, userAgent: string | undefined): string {
  const type = (body as { board?: { type?: unknown } } | null)?.board?.type;
  if (typeof type === "string" && type.trim()) return type.trim();
  const ua = userAgent?.split("/")[0]?.trim() ?? "";
  return /^[\w.-]{1,64}$/.test(ua) ? ua : "";
}

/** Boards are matched without case (FIRMWARE_BY_BOARD's keys are read lowercased). */
export function firmwareKey(board: string, version: string): string {
  return `firmware/${board.toLowerCase()}/${version}.bin`;
}

/**
 * The board's entry when this device is inside its rollout, else null (the global offer applies).
 * `servedUrl(board, version)` gives the download URL of an uploaded image.
 */
export async function boardOffer(
  byBoard: Readonly<Record<string, BoardFirmware>>,
  board: string,
  deviceId: string,
  servedUrl: (board: string, version: string) => string,
): Promise<FirmwareOffer | null> {
  const key = board.toLowerCase();
  const entry = key && Object.hasOwn(byBoard, key) ? byBoard[key] : undefined;
  if (!entry) return null;
  if ((await rolloutBucket(deviceId)) >= (entry.rollout ?? 100)) return null;
  return { version: entry.version, url: entry.url || servedUrl(board, entry.version) };
}
