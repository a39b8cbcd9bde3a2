import type { GroupDirectory } from "../tools/directory.ts";
import { groupStub } from "./ports.ts";

// The group directory of the server tools (src/tools/directory.ts) over RPC to the group's object.

export function groupDirectory(env: Env): GroupDirectory {
  return { online: (groupKey) => groupStub(env, groupKey).onlineMembers() };
}
