import { isValidId, normaliseId } from "../auth/identity.ts";
import { aliasOf, groupOf } from "../config/settings.ts";
import type { Session } from "../session/capability.ts";

// Who is in the sender's group, by name, for the server tools (PROTOCOL §13): the members online now
// (from the group, with their names) and the devices the settings put in the group or name
// (DEVICE_GROUPS, DEVICE_ALIASES), which may be offline. A spoken name ("Alice") resolves to one
// device; a name that fits several is refused with the candidates, so the model can ask which.

export interface DirectoryMember {
  deviceId: string;
  name: string;
  online: boolean;
}

/** How a device reaches its group's online members (GroupObject RPC in production). */
export interface GroupDirectory {
  online(groupKey: string): Promise<Array<{ deviceId: string; name: string }>>;
}

export async function groupMembers(session: Session, directory: GroupDirectory | undefined): Promise<DirectoryMember[]> {
  const s = session.settings;
  const key = session.groupKey;
  const out = new Map<string, DirectoryMember>();
  for (const m of directory ? await directory.online(key) : []) out.set(m.deviceId, { deviceId: m.deviceId, name: m.name, online: true });
  const configured = [...Object.entries(s.DEVICE_GROUPS).filter(([, g]) => g === key), ...Object.entries(s.DEVICE_ALIASES)].map(([id]) => id);
  for (const id of configured) {
    if (out.has(id) || groupOf(s, id) !== key) continue;
    out.set(id, { deviceId: id, name: aliasOf(s, id), online: false });
  }
  // The device itself, with the name its session knows.
  const self = out.get(session.deviceId);
  out.set(session.deviceId, { deviceId: session.deviceId, name: self?.name ?? session.alias ?? session.deviceId, online: true });
  return [...out.values()].sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
}

export type Resolved = { ok: true; member: DirectoryMember } | { ok: false; message: string };

const describe = (m: DirectoryMember) => (m.name === m.deviceId ? m.deviceId : `${m.name} (${m.deviceId})`);

/** A name or id said by the user → one member of the group (never the device itself). */
export function resolveMember(session: Session, members: readonly DirectoryMember[], said: string): Resolved {
  const others = members.filter((m) => m.deviceId !== session.deviceId);
  const id = normaliseId(said);
  const byId = others.find((m) => m.deviceId === id);
  if (byId) return { ok: true, member: byId };
  if (id === session.deviceId) return { ok: false, message: "that is this device itself" };
  // An id the user read out of a device's label: any device of this group.
  if (isValidId(id) && id.includes(":") && groupOf(session.settings, id) === session.groupKey) {
    return { ok: true, member: { deviceId: id, name: aliasOf(session.settings, id), online: false } };
  }
  const name = said.trim().toLowerCase();
  if (!name) return { ok: false, message: "say who the message is for" };
  const exact = others.filter((m) => m.name.toLowerCase() === name);
  const found = exact.length ? exact : others.filter((m) => m.name.toLowerCase().startsWith(name));
  if (found.length === 1) return { ok: true, member: found[0]! };
  if (found.length > 1)
    return { ok: false, message: `"${said.slice(0, 64)}" fits ${found.length} members: ${found.slice(0, 8).map(describe).join(", ")}; ask which one` };
  const known = others.slice(0, 10).map(describe).join(", ");
  return { ok: false, message: `no member of this group is called "${said.slice(0, 64)}"${known ? `; members: ${known}` : ""}` };
}
