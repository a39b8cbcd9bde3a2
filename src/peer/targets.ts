import { isValidId, normaliseId } from "../auth/identity.ts";

// Targets of a peer message: trimmed, lower-cased, duplicates removed (PROTOCOL §9).

export type Target = { kind: "device"; id: string } | { kind: "group"; key: string; raw: string } | { kind: "invalid"; raw: string };

export function parseTargets(to: readonly string[], senderGroup: string): Target[] {
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const item of to) {
    const t = normaliseId(item);
    if (seen.has(t)) continue;
    seen.add(t);
    if (t === "broadcast") out.push({ kind: "group", key: senderGroup, raw: t });
    else if (t.startsWith("group:")) {
      const key = t.slice(6).trim();
      out.push(key && isValidId(key) ? { kind: "group", key, raw: t } : { kind: "invalid", raw: t || item.slice(0, 64) });
    } else if (isValidId(t)) out.push({ kind: "device", id: t });
    else out.push({ kind: "invalid", raw: t || item.slice(0, 64) });
  }
  return out;
}
