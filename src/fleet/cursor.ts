// The device list's cursor (PROTOCOL §11): the sort key of the last item of a page, opaque to
// clients (base64url JSON). Keyset paging, not an offset: devices that come and go between two
// pages never shift the next page, so a walk sees no item twice. A device whose lastSeen changes
// mid-walk moves to the head of the list, ahead of the walk (a new walk shows it first).

export interface Cursor {
  lastSeen: number;
  deviceId: string;
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

export function encodeCursor(c: Cursor): string {
  return toBase64Url(JSON.stringify([c.lastSeen, c.deviceId]));
}

/** The cursor, or null when `s` is not one of ours (the API answers 400). */
export function decodeCursor(s: string): Cursor | null {
  const text = fromBase64Url(s);
  if (text === null) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [lastSeen, deviceId] = v as [unknown, unknown];
  if (typeof lastSeen !== "number" || !Number.isSafeInteger(lastSeen) || lastSeen < 0) return null;
  if (typeof deviceId !== "string" || deviceId.length > 64) return null;
  return { lastSeen, deviceId };
}
