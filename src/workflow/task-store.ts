import type { Sql } from "../storage/sql.ts";
import type { Task, TaskInput } from "./messages.ts";

// One group's task list in its GroupObject's SQLite (PROTOCOL §7). Every operation is validated as a
// whole before anything is written, so a batch is applied entirely or not at all; an operation that
// changes nothing says so, and the caller then broadcasts nothing.

export const TASKS_MIGRATION = {
  name: "tasks-v1",
  up: `CREATE TABLE tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE task_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
};

export const DEFAULT_PRIORITY = 1;

export type TaskOp =
  | { op: "upsert"; tasks: Array<{ index: number; task: TaskInput }> }
  | { op: "assign"; id: string; owner: string }
  | { op: "complete"; ids: string[] }
  | { op: "delete"; ids: string[] };

export type ApplyResult = { ok: true; changed: boolean; ids: string[]; version: number } | { ok: false; code: "SCHEMA_INVALID" | "NOT_FOUND"; message: string };

interface Row {
  id: string;
  title: string;
  priority: number;
  status: string;
  owner: string;
  updated_at: number;
  [k: string]: string | number;
}

export function newTaskId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return "t-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class TaskStore {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  version(): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM task_meta WHERE key = 'version'").toArray()[0]?.value ?? 0;
  }

  private bump(): number {
    this.sql.exec("INSERT INTO task_meta (key, value) VALUES ('version', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1");
    return this.version();
  }

  private row(id: string): Row | undefined {
    return this.sql.exec<Row>("SELECT id, title, priority, status, owner, updated_at FROM tasks WHERE id = ?", id).toArray()[0];
  }

  list(groupKey: string, ownerName: (owner: string) => string): Task[] {
    return this.sql
      .exec<Row>("SELECT id, title, priority, status, owner, updated_at FROM tasks ORDER BY seq")
      .toArray()
      .map((r) => ({
        id: r.id,
        title: r.title,
        priority: r.priority,
        status: r.status === "done" ? "done" : "open",
        owner: r.owner,
        ownerName: r.owner ? ownerName(r.owner) : "",
        groupKey,
        updatedAt: r.updated_at,
      }));
  }

  apply(op: TaskOp, now: number): ApplyResult {
    switch (op.op) {
      case "upsert":
        return this.upsert(op.tasks, now);
      case "assign": {
        const r = this.row(op.id);
        if (!r) return { ok: false, code: "NOT_FOUND", message: `no task "${op.id}" in this group` };
        if (r.owner === op.owner) return this.unchanged([op.id]);
        this.sql.exec("UPDATE tasks SET owner = ?, updated_at = ? WHERE id = ?", op.owner, now, op.id);
        return { ok: true, changed: true, ids: [op.id], version: this.bump() };
      }
      case "complete": {
        const missing = op.ids.filter((id) => !this.row(id));
        if (missing.length) return { ok: false, code: "NOT_FOUND", message: `no task ${missing.map((m) => `"${m}"`).join(", ")} in this group` };
        let n = 0;
        for (const id of op.ids) n += this.sql.exec("UPDATE tasks SET status = 'done', updated_at = ? WHERE id = ? AND status != 'done'", now, id).rowsWritten;
        return n ? { ok: true, changed: true, ids: op.ids, version: this.bump() } : this.unchanged(op.ids);
      }
      case "delete": {
        let n = 0;
        for (const id of op.ids) n += this.sql.exec("DELETE FROM tasks WHERE id = ?", id).rowsWritten;
        return n ? { ok: true, changed: true, ids: op.ids, version: this.bump() } : this.unchanged(op.ids);
      }
    }
  }

  private unchanged(ids: string[]): ApplyResult {
    return { ok: true, changed: false, ids, version: this.version() };
  }

  private upsert(items: Array<{ index: number; task: TaskInput }>, now: number): ApplyResult {
    const missingTitles = items.filter(({ task }) => !task.title && !(task.id && this.row(task.id))).map(({ index }) => `tasks[${index}].title`);
    if (missingTitles.length) return { ok: false, code: "SCHEMA_INVALID", message: `missing: ${missingTitles.join(",")}` };
    const ids: string[] = [];
    let changed = false;
    for (const { task } of items) {
      const id = task.id ?? newTaskId();
      ids.push(id);
      const cur = this.row(id);
      if (!cur) {
        this.sql.exec(
          "INSERT INTO tasks (id, title, priority, status, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
          id,
          task.title!,
          task.priority ?? DEFAULT_PRIORITY,
          task.status ?? "open",
          task.owner ?? "",
          now,
          now,
        );
        changed = true;
        continue;
      }
      const next = {
        title: task.title ?? cur.title,
        priority: task.priority ?? cur.priority,
        status: task.status ?? cur.status,
        owner: task.owner ?? cur.owner,
      };
      if (next.title === cur.title && next.priority === cur.priority && next.status === cur.status && next.owner === cur.owner) continue;
      this.sql.exec(
        "UPDATE tasks SET title = ?, priority = ?, status = ?, owner = ?, updated_at = ? WHERE id = ?",
        next.title,
        next.priority,
        next.status,
        next.owner,
        now,
        id,
      );
      changed = true;
    }
    return changed ? { ok: true, changed, ids, version: this.bump() } : this.unchanged(ids);
  }
}
