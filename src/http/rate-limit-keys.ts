import { isValidId, normaliseId } from "../auth/identity.ts";

// The pure half of the rate limits (PROTOCOL §1.1, src/http/rate-limit.ts): what a request is
// counted as, and which refusals get a log line. No runtime, no request: unit-tested in Node.

/** What a request is counted as: the binding's key, and what a log line may show of it. */
export interface LimitKey {
  key: string;
  by: "address" | "token" | "device";
  /** Never a token: a short hash of it. */
  shown: string;
}

// --- keys (pure) -------------------------------------------------------------------------------

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4(text: string): number[] | null {
  const m = IPV4.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** The eight 16-bit groups of an IPv6 address (`::`, an IPv4 tail and a zone allowed), else null. */
function ipv6Groups(text: string): number[] | null {
  let a = text.split("%")[0]!;
  if (!a.includes(":") || !/^[0-9a-f:.]+$/.test(a)) return null;
  const lastColon = a.lastIndexOf(":");
  const tail = a.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = ipv4(tail);
    if (!v4) return null;
    a = `${a.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = a.split("::");
  if (halves.length > 2) return null;
  const split = (s: string | undefined) => (s ? s.split(":") : []);
  const head = split(halves[0]);
  const rest = split(halves[1]);
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? head.length !== 8 : fill < 1) return null;
  const groups = halves.length === 1 ? head : [...head, ...Array<string>(fill).fill("0"), ...rest];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => Number.parseInt(g, 16));
}

/**
 * The client address a request is counted against: `CF-Connecting-IP` (set by Cloudflare),
 * `127.0.0.1` when absent. An IPv6 client counts as its /64 (one subscriber's prefix: every
 * address in it would otherwise be a fresh limit); an IPv4-mapped IPv6 address as its IPv4 one.
 * Anything else (only possible off Cloudflare) is used as sent, cut to 64 characters.
 */
export function clientAddress(header: string | null | undefined): string {
  const raw = (header ?? "").trim().toLowerCase();
  if (!raw) return "127.0.0.1";
  if (ipv4(raw)) return raw;
  const g = ipv6Groups(raw);
  if (!g) return raw.slice(0, 64);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join(".");
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(":")}::/64`;
}

export function addressKey(header: string | null | undefined): LimitKey {
  const address = clientAddress(header);
  return { key: `a:${address}`, by: "address", shown: address };
}

/** A token as a key: a hash, so the token itself goes neither to the limiter nor to a log line. */
export async function tokenKey(token: string): Promise<LimitKey> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  const hex = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  return { key: `t:${hex}`, by: "token", shown: `sha256:${hex.slice(0, 8)}` };
}

/** The activation poll's key: the device id as PROTOCOL §2.1 normalises it; without a valid one, the address. */
export function deviceKey(rawDeviceId: string | null | undefined, addressHeader: string | null | undefined): LimitKey {
  const id = normaliseId(rawDeviceId);
  if (!isValidId(id)) return addressKey(addressHeader);
  return { key: `d:${id}`, by: "device", shown: id };
}

// --- logs that cannot flood ----------------------------------------------------------------------

/**
 * Decides which rejections get a `rate_limited` line: the first of each key in each minute (per
 * isolate), at most `maxLines` keys a minute, after which one line says the rest go unlogged until
 * the next minute. A key's line carries how many of its rejections had no line since its last one.
 */
export class RejectionLog {
  readonly #keys = new Map<string, { window: number; unlogged: number }>();
  #window = -1;
  #lines = 0;

  readonly windowMs: number;
  readonly maxLines: number;
  readonly maxKeys: number;

  constructor(windowMs = 60_000, maxLines = 50, maxKeys = 10_000) {
    this.windowMs = windowMs;
    this.maxLines = maxLines;
    this.maxKeys = maxKeys;
  }

  /** `line`: write a line for this key (with `unlogged`); `overflow`: write the one "too many" line. */
  note(id: string, now: number): { line: false; overflow: boolean } | { line: true; unlogged: number } {
    const window = Math.floor(now / this.windowMs);
    if (window !== this.#window) {
      this.#window = window;
      this.#lines = 0;
    }
    const entry = this.#keys.get(id);
    if (entry?.window === window) {
      entry.unlogged++;
      return { line: false, overflow: false };
    }
    if (!entry && this.#keys.size >= this.maxKeys) this.#prune(window);
    const carried = entry?.unlogged ?? 0;
    if (this.#lines > this.maxLines) {
      this.#keys.set(id, { window, unlogged: carried + 1 });
      return { line: false, overflow: false };
    }
    this.#lines++;
    if (this.#lines > this.maxLines) {
      this.#keys.set(id, { window, unlogged: carried + 1 });
      return { line: false, overflow: true };
    }
    this.#keys.set(id, { window, unlogged: 0 });
    return { line: true, unlogged: carried };
  }

  #prune(window: number): void {
    for (const [k, v] of this.#keys) if (v.window !== window) this.#keys.delete(k);
    if (this.#keys.size >= this.maxKeys) this.#keys.clear();
  }
}
