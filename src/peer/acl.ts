import { z } from "zod";
import { normaliseId } from "../auth/identity.ts";

// PEER_ACL (PROTOCOL §9): by default a device may message its own group and broadcast to it.

const AclSchema = z.object({
  allow_all: z.boolean().default(false),
  allow_broadcast: z.boolean().default(true),
  allowlist: z.record(z.string(), z.array(z.string())).default({}),
});

export interface PeerAcl {
  allowAll: boolean;
  allowBroadcast: boolean;
  allowlist: Map<string, Set<string>>;
}

export function parseAcl(text: string): { acl: PeerAcl; error?: string } {
  let raw: unknown = {};
  let error: string | undefined;
  try {
    raw = text.trim() ? JSON.parse(text) : {};
  } catch {
    error = "PEER_ACL is not valid JSON";
  }
  const parsed = AclSchema.safeParse(raw);
  if (!parsed.success) error = "PEER_ACL has the wrong shape; using the default (own group only)";
  const v = parsed.success ? parsed.data : AclSchema.parse({});
  const allowlist = new Map<string, Set<string>>();
  for (const [sender, targets] of Object.entries(v.allowlist)) {
    allowlist.set(normaliseId(sender), new Set(targets.map((t) => normaliseId(t))));
  }
  return { acl: { allowAll: v.allow_all, allowBroadcast: v.allow_broadcast, allowlist }, ...(error ? { error } : {}) };
}

/** May `sender` (in `senderGroup`) message `target` (in `targetGroup`)? */
export function mayMessage(acl: PeerAcl, sender: string, senderGroup: string, target: string, targetGroup: string): boolean {
  if (acl.allowAll || senderGroup === targetGroup || sender === target) return true;
  const extra = acl.allowlist.get(sender);
  return Boolean(extra && (extra.has(target) || extra.has(`group:${targetGroup}`)));
}

/** May `sender` broadcast to `group` ("broadcast" is its own group)? */
export function mayBroadcast(acl: PeerAcl, sender: string, senderGroup: string, group: string): boolean {
  if (!acl.allowBroadcast) return false;
  if (acl.allowAll || group === senderGroup) return true;
  return Boolean(acl.allowlist.get(sender)?.has(`group:${group}`));
}

const cache = new Map<string, ReturnType<typeof parseAcl>>();
export function aclFrom(text: string): ReturnType<typeof parseAcl> {
  let hit = cache.get(text);
  if (!hit) {
    hit = parseAcl(text);
    cache.set(text, hit);
  }
  return hit;
}
