// Who a request says it is (PROTOCOL §2.1). Pure: takes a URL and headers, no runtime imports.

const ID_PATTERN = /^[a-z0-9:._-]{1,64}$/;

/** Trim, strip one pair of surrounding quotes, lower-case. Returns "" for nothing usable. */
export function normaliseId(raw: string | null | undefined): string {
  if (typeof raw !== "string") return "";
  let v = raw.trim();
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) {
    v = v.slice(1, -1).trim();
  }
  return v.toLowerCase();
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export interface ClaimedIdentity {
  /** Normalised device id, "" when none was sent. */
  deviceId: string;
  /** Normalised client id; defaults to the device id. */
  clientId: string;
  /** Bearer token as sent, "" when none. */
  token: string;
  /** Binary protocol version from the Protocol-Version header, if any. */
  protocolVersion: number | undefined;
}

function firstParam(url: URL, ...names: string[]): string | null {
  for (const n of names) {
    const v = url.searchParams.get(n);
    if (v !== null && v.trim() !== "") return v;
  }
  return null;
}

/** `Bearer <t>`, `Bearer+<t>` (a `+` in a query string that was not decoded as a space) or bare `<t>`. */
export function stripBearer(value: string): string {
  const v = value.trim();
  const m = /^bearer(?:\s+|\+)(.*)$/i.exec(v);
  return (m ? m[1]! : v).trim();
}

function header(headers: Headers, name: string): string | null {
  const v = headers.get(name);
  return v !== null && v.trim() !== "" ? v : null;
}

export function claimedIdentity(url: URL, headers: Headers): ClaimedIdentity {
  const deviceId = normaliseId(header(headers, "device-id") ?? firstParam(url, "device-id", "device_id"));
  const clientRaw = normaliseId(header(headers, "client-id") ?? firstParam(url, "client-id", "client_id"));
  let token = "";
  const auth = headers.get("authorization");
  if (auth?.trim()) token = stripBearer(auth);
  else {
    const q = firstParam(url, "authorization");
    if (q) token = stripBearer(q);
    else token = (firstParam(url, "token") ?? "").trim();
  }
  const pv = Number.parseInt(headers.get("protocol-version") ?? "", 10);
  return {
    deviceId,
    clientId: clientRaw || deviceId,
    token,
    protocolVersion: pv === 1 || pv === 2 || pv === 3 ? pv : undefined,
  };
}

/** `auto-<8 hex>` for AUTH_MODE=off connections that name no device. */
export function autoDeviceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return "auto-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
