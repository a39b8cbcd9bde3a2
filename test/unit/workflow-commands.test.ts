import { describe, expect, it } from "vitest";
import { detectLanguage as detectLang } from "../../src/text/lang.ts";
import { confirmationText } from "../../src/workflow/commands/confirm.ts";
import { parseTaskCommand } from "../../src/workflow/commands/parse.ts";
import { displayOrder, findTaskByRef, resolveTaskTarget } from "../../src/workflow/commands/resolve.ts";
import type { TaskCommand, TaskLike } from "../../src/workflow/commands/rules.ts";
import { parseChineseNumber } from "../../src/workflow/commands/zh.ts";

// PROTOCOL §5/§7: working-mode utterances that are task commands run without the LLM.

function expectCommand(text: string, expected: Omit<TaskCommand, "lang">) {
  const cmd = parseTaskCommand(text);
  expect(cmd, text).not.toBeNull();
  const { lang: _lang, ...rest } = cmd!;
  expect(rest, text).toEqual(expected);
}

describe("parseTaskCommand: claim / assign", () => {
  it.each([
    ["认领任务", {}],
    ["领取任务", {}],
    ["我来做", {}],
    ["认领第2个", { ordinal: 2 }],
    ["我来做第三个任务", { ordinal: 3 }],
    ["认领第二条", { ordinal: 2 }],
    ["认领第4项", { ordinal: 4 }],
    ["第三条我认领了", { ordinal: 3 }],
    ["第二个我来做", { ordinal: 2 }],
    ["这个任务我来做", {}],
    ["分配给我", {}],
    ["把第二个任务分配给我", { ordinal: 2 }],
    ["我来负责第一个", { ordinal: 1 }],
    ["认领最后一个", { ordinal: -1 }],
    ["认领任务 abc-1", { taskRef: "abc-1" }],
    ["assign to me", {}],
    ["assign task 3 to me", { ordinal: 3 }],
    ["assign me task 3", { ordinal: 3 }],
    ["claim", {}],
    ["claim it", {}],
    ["claim the first task", { ordinal: 1 }],
    ["claim task number 2", { ordinal: 2 }],
    ["claim #3", { ordinal: 3 }],
    ["claim the last one", { ordinal: -1 }],
    ["I'll take the second one", { ordinal: 2 }],
    ["I will take it", {}],
    ["I'll take care of task 5", { ordinal: 5 }],
    ["put me down for the second task", { ordinal: 2 }],
    ["the fifth one is mine", { ordinal: 5 }],
    ["claim task t-12", { taskRef: "t-12" }],
    ["claim the login page task", { taskRef: "login page" }],
  ] as const)("%s", (text, rest) => {
    expectCommand(text, { intent: "assign", ...rest });
  });
});

describe("parseTaskCommand: complete / mark done", () => {
  it.each([
    ["完成任务", {}],
    ["标记完成", {}],
    ["做完了", {}],
    ["我完成了", {}],
    ["完成", {}],
    ["任务完成了", {}],
    ["第2个完成了", { ordinal: 2 }],
    ["完成第一个", { ordinal: 1 }],
    ["第一项搞定", { ordinal: 1 }],
    ["任务2搞定了", { ordinal: 2 }],
    ["我已经完成第一个了", { ordinal: 1 }],
    ["第三个任务做完了", { ordinal: 3 }],
    ["把第二个标记为完成", { ordinal: 2 }],
    ["标记第2个为完成", { ordinal: 2 }],
    ["最后一个完成了", { ordinal: -1 }],
    ["完成登录页面任务", { taskRef: "登录页面" }],
    ["mark done", {}],
    ["mark as done", {}],
    ["mark it done", {}],
    ["mark task 2 as done", { ordinal: 2 }],
    ["mark the second task on the list as done", { ordinal: 2 }],
    ["complete the first task", { ordinal: 1 }],
    ["complete this task", {}],
    ["finished number 3", { ordinal: 3 }],
    ["finished the 3rd task", { ordinal: 3 }],
    ["I have completed task eight", { ordinal: 8 }],
    ["I'm done with the third one", { ordinal: 3 }],
    ["done with task 2", { ordinal: 2 }],
    ["the second one is done", { ordinal: 2 }],
    ["task #4 is complete", { ordinal: 4 }],
    ["the task is done", {}],
    ["check off number 1", { ordinal: 1 }],
    ["tick off the last item", { ordinal: -1 }],
    ["mark the login page task as done", { taskRef: "login page" }],
  ] as const)("%s", (text, rest) => {
    expectCommand(text, { intent: "complete", ...rest });
  });
});

describe("parseTaskCommand: refresh", () => {
  it.each([
    "刷新列表",
    "刷新任务",
    "拉取任务",
    "刷新",
    "帮我刷新一下任务列表",
    "同步任务",
    "查看我的任务",
    "更新任务列表",
    "任务列表",
    "我有哪些任务",
    "refresh",
    "Refresh!",
    "refresh tasks",
    "refresh the task list",
    "reload tasks",
    "show my tasks",
    "show me all my open tasks",
    "list tasks",
    "what are my tasks",
    "what tasks do I have",
    "my tasks",
  ])("%s", (text) => {
    expectCommand(text, { intent: "refresh" });
  });
});

describe("parseTaskCommand: politeness, punctuation and script variants", () => {
  it.each([
    ["好的，认领第2个吧。", "assign", 2],
    ["请帮我认领第三个任务谢谢", "assign", 3],
    ["認領第二個任務", "assign", 2],
    ["認領第三項", "assign", 3],
    ["Please claim task two, thanks!", "assign", 2],
    ["OK, mark task 2 as done please.", "complete", 2],
    ["Ｍark task ２ as done", "complete", 2], // full-width input from some IMEs
    ["  refresh  ", "refresh", undefined],
    ["那个任务我来做", "assign", undefined],
    ["那第二个我来", "assign", 2],
    ["嗯嗯，第一个做完了", "complete", 1],
    ["那就刷新一下吧", "refresh", undefined],
    ["可以，标记完成", "complete", undefined],
  ] as const)("%s", (text, intent, ordinal) => {
    const cmd = parseTaskCommand(text);
    expect(cmd?.intent).toBe(intent);
    expect(cmd?.ordinal).toBe(ordinal);
  });
});

describe("parseTaskCommand: ordinals", () => {
  it.each([
    ["认领第1个", 1],
    ["认领第一个", 1],
    ["认领第二个", 2],
    ["认领第两个", 2],
    ["认领第三个", 3],
    ["认领第四个", 4],
    ["认领第五个", 5],
    ["认领第六个", 6],
    ["认领第七个", 7],
    ["认领第八个", 8],
    ["认领第九个", 9],
    ["认领第十个", 10],
    ["第十二个我来做", 12],
    ["认领第二十三个", 23],
    ["认领第5条", 5],
    ["认领第6项", 6],
    ["认领3号任务", 3],
    ["认领任务二", 2],
    ["认领#7", 7],
    ["认领最后一条", -1],
    ["claim the first one", 1],
    ["claim the second task", 2],
    ["claim the third", 3],
    ["claim the fourth item", 4],
    ["claim the fifth one", 5],
    ["claim the sixth one", 6],
    ["claim the seventh one", 7],
    ["claim the eighth one", 8],
    ["claim the ninth one", 9],
    ["claim the tenth one", 10],
    ["claim the 11th task", 11],
    ["claim the last task", -1],
    ["claim number 4", 4],
    ["claim number four", 4],
    ["claim no. 4", 4],
    ["claim task 9", 9],
    ["claim item 2", 2],
    ["claim task #6", 6],
    ["claim # 6", 6],
  ] as const)("%s → %i", (text, ordinal) => {
    expect(parseTaskCommand(text)?.ordinal).toBe(ordinal);
  });

  it("rejects ordinal zero instead of guessing", () => {
    expect(parseTaskCommand("完成第零个")).toBeNull();
    expect(parseTaskCommand("claim task 0")).toBeNull();
  });

  it("parses Chinese numerals", () => {
    expect(parseChineseNumber("一")).toBe(1);
    expect(parseChineseNumber("两")).toBe(2);
    expect(parseChineseNumber("十")).toBe(10);
    expect(parseChineseNumber("十一")).toBe(11);
    expect(parseChineseNumber("二十")).toBe(20);
    expect(parseChineseNumber("九十九")).toBe(99);
    expect(parseChineseNumber("12")).toBe(12);
    expect(parseChineseNumber("十十")).toBeUndefined();
    expect(parseChineseNumber("一二")).toBeUndefined();
    expect(parseChineseNumber("abc")).toBeUndefined();
  });
});

describe("parseTaskCommand: not commands", () => {
  it.each([
    "",
    "   ",
    "what's the weather",
    "what is the weather like tomorrow",
    "我今天完成了报告的初稿并且准备开会",
    "我要完成这个季度的目标",
    "我完成了报告的初稿然后去吃饭",
    "第二个完成了吗",
    "完成了吗",
    "is task 2 done",
    "did you refresh the list",
    "我来做饭",
    "下一步我来负责",
    "会议结束了",
    "结束",
    "更新",
    "查看",
    "我来",
    "好了",
    "任务",
    "认领两个任务",
    "done",
    "I am done",
    "take",
    "the first",
    "task 2",
    "I'll do it later",
    "finish the meeting",
    "take a break",
    "I'll take the lead on this",
    "mark the weather as done",
    "claim the report",
    "show me the weather",
    "get the first task",
    "I think we should complete the migration before the release and then refresh the docs",
    "please remember to refresh your memory of the spec before we claim anything in the meeting",
  ])("%j", (text) => {
    expect(parseTaskCommand(text)).toBeNull();
  });

  it("ignores non-string input", () => {
    expect(parseTaskCommand(undefined as unknown as string)).toBeNull();
    expect(parseTaskCommand(42 as unknown as string)).toBeNull();
  });
});

describe("language", () => {
  it("is zh for CJK text and en otherwise", () => {
    expect(parseTaskCommand("认领第2个")?.lang).toBe("zh");
    expect(parseTaskCommand("claim the first task")?.lang).toBe("en");
    expect(detectLang("刷新")).toBe("zh");
    expect(detectLang("refresh")).toBe("en");
  });
});

const TASKS: TaskLike[] = [
  { id: "t1", title: "Write the release notes", status: "done", owner: "aa:aa" },
  { id: "t2", title: "Fix login page", status: "open", owner: "bb:bb" },
  { id: "t3", title: "登录页面重构", status: "open" },
  { id: "t4", title: "Update firmware", status: "open", owner: "aa:aa" },
  { id: "t5", title: "Order parts", status: "done" },
];
const ME = "aa:aa";

describe("displayOrder", () => {
  it("lists open tasks first, then done ones, each in the order given", () => {
    expect(displayOrder(TASKS).map((t) => t.id)).toEqual(["t2", "t3", "t4", "t1", "t5"]);
    expect(displayOrder([])).toEqual([]);
  });
});

describe("resolveTaskTarget", () => {
  it("picks by ordinal in the displayed list", () => {
    expect(resolveTaskTarget({ intent: "assign", ordinal: 1 }, TASKS, ME)).toBe("t2");
    expect(resolveTaskTarget({ intent: "complete", ordinal: 3 }, TASKS, ME)).toBe("t4");
    expect(resolveTaskTarget({ intent: "complete", ordinal: 4 }, TASKS, ME)).toBe("t1");
    expect(resolveTaskTarget(parseTaskCommand("完成第2个")!, TASKS, ME)).toBe("t3");
    expect(resolveTaskTarget(parseTaskCommand("claim task number 2")!, TASKS, ME)).toBe("t3");
  });

  it("returns null for an ordinal past the end or invalid", () => {
    expect(resolveTaskTarget({ intent: "assign", ordinal: 6 }, TASKS, ME)).toBeNull();
    expect(resolveTaskTarget({ intent: "assign", ordinal: 0 }, TASKS, ME)).toBeNull();
    expect(resolveTaskTarget({ intent: "assign", ordinal: 1.5 }, TASKS, ME)).toBeNull();
    expect(resolveTaskTarget({ intent: "assign", ordinal: 1 }, [], ME)).toBeNull();
  });

  it("'last' is the last open task, or the last task when none is open", () => {
    expect(resolveTaskTarget({ intent: "complete", ordinal: -1 }, TASKS, ME)).toBe("t4");
    const allDone = TASKS.map((t) => ({ ...t, status: "done" as const }));
    expect(resolveTaskTarget({ intent: "complete", ordinal: -1 }, allDone, ME)).toBe("t5");
    expect(resolveTaskTarget({ intent: "complete", ordinal: -1 }, [], ME)).toBeNull();
  });

  it("picks by taskRef: id, exact title, title words, Chinese substring", () => {
    expect(resolveTaskTarget({ intent: "assign", taskRef: "T4" }, TASKS, ME)).toBe("t4");
    expect(resolveTaskTarget({ intent: "assign", taskRef: "#t4" }, TASKS, ME)).toBe("t4");
    expect(resolveTaskTarget({ intent: "assign", taskRef: "fix login page" }, TASKS, ME)).toBe("t2");
    expect(resolveTaskTarget({ intent: "assign", taskRef: "login page" }, TASKS, ME)).toBe("t2");
    expect(resolveTaskTarget({ intent: "assign", taskRef: "firmware update" }, TASKS, ME)).toBe("t4");
    expect(resolveTaskTarget({ intent: "complete", taskRef: "登录页面" }, TASKS, ME)).toBe("t3");
    expect(resolveTaskTarget({ intent: "complete", taskRef: "登录页面重构的" }, TASKS, ME)).toBe("t3");
    expect(resolveTaskTarget(parseTaskCommand("mark the login page task as done")!, TASKS, ME)).toBe("t2");
  });

  it("prefers an open task among equal matches and returns null when nothing matches", () => {
    const dup: TaskLike[] = [
      { id: "a", title: "Review", status: "done" },
      { id: "b", title: "Review", status: "open" },
    ];
    expect(findTaskByRef("review", dup)?.id).toBe("b");
    expect(resolveTaskTarget({ intent: "assign", taskRef: "weather" }, TASKS, ME)).toBeNull();
    expect(resolveTaskTarget({ intent: "assign", taskRef: "  " }, TASKS, ME)).toBe("t3");
  });

  it("assign without a target takes the first open unowned task", () => {
    expect(resolveTaskTarget({ intent: "assign" }, TASKS, ME)).toBe("t3");
    const owned = TASKS.map((t) => ({ ...t, owner: "zz" }));
    expect(resolveTaskTarget({ intent: "assign" }, owned, ME)).toBeNull();
    expect(resolveTaskTarget({ intent: "assign" }, [{ id: "x", title: "x", status: "open", owner: " " }], ME)).toBe("x");
  });

  it("complete without a target takes the sender's first open task, else the first open task", () => {
    expect(resolveTaskTarget({ intent: "complete" }, TASKS, ME)).toBe("t4");
    expect(resolveTaskTarget({ intent: "complete" }, TASKS, "AA:AA")).toBe("t4");
    expect(resolveTaskTarget({ intent: "complete" }, TASKS, "cc:cc")).toBe("t2");
    expect(
      resolveTaskTarget(
        { intent: "complete" },
        TASKS.filter((t) => t.status === "done"),
        ME,
      ),
    ).toBeNull();
  });

  it("refresh has no target", () => {
    expect(resolveTaskTarget({ intent: "refresh" }, TASKS, ME)).toBeNull();
  });
});

describe("confirmationText", () => {
  const task = { title: "Fix login page" };
  it("confirms in Chinese", () => {
    expect(confirmationText({ intent: "assign" }, task, "zh")).toBe("已认领：Fix login page");
    expect(confirmationText({ intent: "complete" }, { title: "登录页面重构" }, "zh")).toBe("已标记完成：登录页面重构");
    expect(confirmationText({ intent: "refresh" }, null, "zh")).toBe("已刷新任务列表");
    expect(confirmationText({ intent: "assign", taskRef: "x" }, null, "zh")).toBe("没有找到这个任务");
    expect(confirmationText({ intent: "complete", ordinal: 7 }, null, "zh")).toBe("没有找到第7个任务");
    expect(confirmationText({ intent: "complete", ordinal: -1 }, null, "zh")).toBe("没有找到最后一个任务");
    expect(confirmationText({ intent: "assign" }, null, "zh")).toBe("没有可认领的任务");
    expect(confirmationText({ intent: "complete" }, null, "zh")).toBe("没有未完成的任务");
  });

  it("confirms in English", () => {
    expect(confirmationText({ intent: "assign" }, task, "en")).toBe("Claimed: Fix login page");
    expect(confirmationText({ intent: "complete" }, task, "en")).toBe("Marked done: Fix login page");
    expect(confirmationText({ intent: "refresh" }, null, "en")).toBe("Task list refreshed.");
    expect(confirmationText({ intent: "assign", taskRef: "x" }, null, "en")).toBe("I couldn't find that task.");
    expect(confirmationText({ intent: "complete", ordinal: 7 }, null, "en")).toBe("I couldn't find task number 7.");
    expect(confirmationText({ intent: "assign" }, null, "en")).toMatch(/no open task to claim/);
    expect(confirmationText({ intent: "complete" }, null, "en")).toMatch(/no open task to mark done/);
  });

  it("takes the language from the command text when none is given", () => {
    expect(confirmationText(parseTaskCommand("认领第2个")!, task)).toBe("已认领：Fix login page");
    expect(confirmationText(parseTaskCommand("claim the second task")!, task)).toBe("Claimed: Fix login page");
    expect(confirmationText({ intent: "refresh" }, null)).toBe("已刷新任务列表");
  });

  it("shortens long titles for speech and names untitled tasks", () => {
    const long = confirmationText({ intent: "assign" }, { title: "很".repeat(100) }, "zh");
    expect(long.startsWith("已认领：")).toBe(true);
    expect(Array.from(long.slice("已认领：".length))).toHaveLength(40);
    expect(long.endsWith("…")).toBe(true);
    expect(confirmationText({ intent: "assign" }, { title: "  " }, "en")).toBe("Claimed: untitled task");
  });
});
