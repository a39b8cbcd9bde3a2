import { CJK } from "../../text/lang.ts";
import type { TaskCommand, TaskLike } from "./rules.ts";

// Which task a command is about, in the list as the device shows it.

/** The list as the device shows it: open tasks first, then done ones, each in the order given. */
export function displayOrder<T extends TaskLike>(tasks: readonly T[]): T[] {
  return [...tasks.filter((t) => t.status === "open"), ...tasks.filter((t) => t.status !== "open")];
}

function sameId(a: string | undefined, b: string): boolean {
  return !!a && a.trim().toLowerCase() === b.trim().toLowerCase();
}

function key(s: string): string {
  return s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\s\p{P}\p{S}]+/gu, "");
}

function words(s: string): string[] {
  return s
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

const REF_STOP = new Set(["the", "a", "an", "task", "to", "of", "for", "and", "on", "in"]);

/** A task named by id or title words; open tasks win among equally good matches. */
export function findTaskByRef<T extends TaskLike>(ref: string, tasks: readonly T[]): T | undefined {
  const list = displayOrder(tasks);
  const r = ref.trim().replace(/^#/, "");
  if (!r) return undefined;
  const rk = key(r);
  const tiers: ((t: T) => boolean)[] = [
    (t) => sameId(t.id, r) || sameId(t.id.replace(/^#/, ""), r),
    (t) => rk.length > 0 && key(t.title) === rk,
    (t) => rk.length > 0 && (CJK.test(r) ? key(t.title).includes(rk) : ` ${words(t.title).join(" ")} `.includes(` ${words(r).join(" ")} `)),
    (t) => {
      const want = words(r).filter((w) => !REF_STOP.has(w));
      if (want.length === 0 || CJK.test(r)) return false;
      const have = new Set(words(t.title));
      return want.every((w) => have.has(w));
    },
    (t) => CJK.test(r) && key(t.title).length >= 2 && rk.includes(key(t.title)),
  ];
  for (const tier of tiers) {
    const hit = list.find(tier);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * The task a command is about: by ordinal in the displayed list (-1: the last open task, else the
 * last one), by taskRef (id or title words), else for assign the first open unowned task and for
 * complete the first open task owned by the sender, else the first open task. refresh → null.
 */
export function resolveTaskTarget(cmd: TaskCommand, tasks: readonly TaskLike[], sender: string): string | null {
  if (cmd.intent === "refresh") return null;
  const list = displayOrder(tasks);
  const open = list.filter((t) => t.status === "open");
  if (cmd.ordinal !== undefined) {
    if (cmd.ordinal === -1) return (open.at(-1) ?? list.at(-1))?.id ?? null;
    if (!Number.isInteger(cmd.ordinal) || cmd.ordinal < 1) return null;
    return list[cmd.ordinal - 1]?.id ?? null;
  }
  if (cmd.taskRef !== undefined && cmd.taskRef.trim() !== "") return findTaskByRef(cmd.taskRef, list)?.id ?? null;
  if (cmd.intent === "assign") return open.find((t) => !t.owner || t.owner.trim() === "")?.id ?? null;
  return (open.find((t) => sameId(t.owner, sender)) ?? open[0])?.id ?? null;
}
