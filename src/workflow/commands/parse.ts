import { detectLanguage } from "../../text/lang.ts";
import { parseEn } from "./en.ts";
import type { TaskCommand } from "./rules.ts";
import { parseZh } from "./zh.ts";

export function parseTaskCommand(text: string): TaskCommand | null {
  if (typeof text !== "string") return null;
  const base = text.normalize("NFKC").toLowerCase().trim();
  if (!base) return null;
  const lang = detectLanguage(base);
  const found = parseZh(base) ?? parseEn(base);
  if (!found) return null;
  const cmd: TaskCommand = { intent: found.intent, lang };
  if (found.ordinal !== undefined) cmd.ordinal = found.ordinal;
  if (found.taskRef !== undefined) cmd.taskRef = found.taskRef;
  return cmd;
}
