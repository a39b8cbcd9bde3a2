import type { Lang } from "../../text/lang.ts";

// Working-mode task commands (PROTOCOL §5, §7): an utterance that is a task command runs directly,
// without the LLM. Pure functions: parse the text (a grammar per language), pick the task, say
// what happened.
//
// Precision over recall. The whole utterance (minus politeness fillers and particles) must match a
// command grammar; a command word inside a longer sentence ("我今天完成了报告的初稿…") is not a
// command, and a target that is not recognisably a task ("mark the weather as done") rejects the
// match. A false negative costs one LLM turn; a false positive changes someone's task list.

export type TaskIntent = "assign" | "complete" | "refresh";

export type TaskCommand = {
  intent: TaskIntent;
  /** 1-based position in the list as the device shows it; -1 means "the last one". */
  ordinal?: number;
  /** Task id or title words, when said ("claim task t-12", "完成登录页面任务"). */
  taskRef?: string;
  /** Language of the utterance (CJK characters → zh), for the spoken confirmation. */
  lang?: Lang;
};

export type TaskLike = { id: string; title: string; status: "open" | "done"; owner?: string };

export type Target = { ordinal?: number; taskRef?: string };

/** Longest task reference still considered (an id or a few title words). */
export const MAX_REF_CHARS = 40;

export type Parsed = Target & { intent: TaskIntent };

/** A grammar rule: the whole utterance matches `re`; group 1 (if any) is the target phrase. */
export type Rule = { intent: TaskIntent; re: RegExp; target: "none" | "optional" | "required"; list?: boolean };

export function applyRules(s: string, rules: Rule[], parseTarget: (t: string) => Target | null, isList: (t: string) => boolean): Parsed | null {
  for (const rule of rules) {
    const m = rule.re.exec(s);
    if (!m) continue;
    const raw = (m[1] ?? "").trim();
    if (rule.list) {
      if (isList(raw) && (raw !== "" || rule.target !== "required")) return { intent: rule.intent };
      continue;
    }
    if (rule.target === "none") {
      if (raw === "") return { intent: rule.intent };
      continue;
    }
    if (raw === "") {
      if (rule.target === "optional") return { intent: rule.intent };
      continue;
    }
    const target = parseTarget(raw);
    if (target) return { intent: rule.intent, ...target };
  }
  return null;
}

export function validOrdinal(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 999 ? n : undefined;
}
