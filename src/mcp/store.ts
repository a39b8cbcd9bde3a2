import { fact, type Session } from "../session/capability.ts";
import type { DeviceToolSpec } from "./messages.ts";

// The device's tool list, kept in its storage so setup survives hibernation (up to 8 pages of about
// 8 KB do not fit in a socket's attachment). Firmware registers its tools at boot and never changes
// them, so a reconnect lists the same tools: the list is written only when its fingerprint changes,
// and a socket's attachment names the fingerprint it listed.

interface StoredTools {
  hash: string;
  tools: DeviceToolSpec[];
}

const TOOLS = fact<StoredTools>("mcp.tools");

/** FNV-1a, 32 bits: a fingerprint, not a secret. */
function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Stores the list (unless the same one is there) and returns its fingerprint. */
export function saveTools(session: Session, tools: DeviceToolSpec[]): string {
  const hash = fingerprint(JSON.stringify(tools));
  if (session.store.get(TOOLS)?.hash !== hash) session.store.set(TOOLS, { hash, tools });
  return hash;
}

/** The list a socket listed, if it is still the stored one. */
export function storedTools(session: Session, hash: string): DeviceToolSpec[] | null {
  const stored = session.store.get(TOOLS);
  return stored && stored.hash === hash ? stored.tools : null;
}
