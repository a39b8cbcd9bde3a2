import type { Lang } from "../../text/lang.ts";
import type { TaskCommand, TaskLike } from "./rules.ts";

// The short sentence a device speaks (or shows) after a task command.

const MAX_SPOKEN_TITLE = 40;

function spokenTitle(title: string): string {
  const t = title.replace(/\s+/g, " ").trim();
  const chars = Array.from(t);
  return chars.length <= MAX_SPOKEN_TITLE ? t : `${chars.slice(0, MAX_SPOKEN_TITLE - 1).join("")}…`;
}

/** A short sentence for TTS; `lang` defaults to the command's language (zh when unknown). */
export function confirmationText(cmd: TaskCommand, task: Pick<TaskLike, "title"> | null, lang?: Lang): string {
  const l = lang ?? cmd.lang ?? "zh";
  const zh = l === "zh";
  if (cmd.intent === "refresh") return zh ? "已刷新任务列表" : "Task list refreshed.";
  if (task) {
    const title = spokenTitle(task.title) || (zh ? "未命名任务" : "untitled task");
    if (cmd.intent === "assign") return zh ? `已认领：${title}` : `Claimed: ${title}`;
    return zh ? `已标记完成：${title}` : `Marked done: ${title}`;
  }
  if (cmd.ordinal !== undefined) {
    if (cmd.ordinal === -1) return zh ? "没有找到最后一个任务" : "I couldn't find the last task.";
    return zh ? `没有找到第${cmd.ordinal}个任务` : `I couldn't find task number ${cmd.ordinal}.`;
  }
  if (cmd.taskRef) return zh ? "没有找到这个任务" : "I couldn't find that task.";
  if (cmd.intent === "assign") return zh ? "没有可认领的任务" : "There is no open task to claim.";
  return zh ? "没有未完成的任务" : "There is no open task to mark done.";
}
