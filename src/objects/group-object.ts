import { DurableObject } from "cloudflare:workers";

// One object per device group: presence, broadcast and the working-mode task list live here.
export class GroupObject extends DurableObject<Env> {}
