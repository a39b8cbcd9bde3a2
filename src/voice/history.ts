import type { Migration, Schema, Sql, Tables } from "../storage/sql.ts";

// Chat history per device (PROTOCOL §5.1): the last CHAT_HISTORY_TURNS exchanges in the device's
// own SQLite, so it survives reconnects, eviction and restarts. The assistant side holds what the
// device actually played: after a barge-in only the sentences whose audio was sent completely.

export const HISTORY_MIGRATION: Migration = {
  name: "chat-history-v1",
  up: "CREATE TABLE chat_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, role TEXT NOT NULL, content TEXT NOT NULL, at INTEGER NOT NULL)",
};

/** One message is at most this long: the prompt of every later turn carries it. */
export const HISTORY_MESSAGE_MAX = 2000;

export interface HistoryMessage {
  role: "user" | "assistant";
  content: string;
  at: number;
}

export class ChatHistory {
  private readonly sql: Sql;
  private readonly schema: Tables;

  constructor(sql: Sql, schema: Schema) {
    this.sql = sql;
    this.schema = schema.part([HISTORY_MIGRATION]);
  }

  /** The last `turns` exchanges, oldest first, never starting with an assistant message. */
  recent(turns: number): HistoryMessage[] {
    if (turns <= 0) return [];
    const rows = this.last(turns * 2);
    while (rows[0]?.role === "assistant") rows.shift();
    return rows;
  }

  /** Every message kept, oldest first (the history endpoint). */
  all(): HistoryMessage[] {
    return this.last(-1);
  }

  private last(limit: number): HistoryMessage[] {
    if (!this.schema.exists()) return [];
    return this.sql
      .exec<{ role: string; content: string; at: number }>("SELECT role, content, at FROM chat_history ORDER BY seq DESC LIMIT ?", limit)
      .toArray()
      .reverse()
      .map((r) => ({ role: r.role === "assistant" ? "assistant" : "user", content: r.content, at: r.at }));
  }

  /** Records an exchange and forgets what falls out of the last `keepTurns`. */
  append(user: string, assistant: string, at: number, keepTurns: number): void {
    if (keepTurns <= 0 || !user.trim()) return;
    this.schema.ensure();
    this.sql.exec("INSERT INTO chat_history (role, content, at) VALUES ('user', ?, ?)", user.slice(0, HISTORY_MESSAGE_MAX), at);
    if (assistant.trim()) this.sql.exec("INSERT INTO chat_history (role, content, at) VALUES ('assistant', ?, ?)", assistant.slice(0, HISTORY_MESSAGE_MAX), at);
    this.sql.exec("DELETE FROM chat_history WHERE seq <= (SELECT seq FROM chat_history ORDER BY seq DESC LIMIT 1 OFFSET ?)", keepTurns * 2);
  }

  /** Forgets everything; returns how many messages there were. */
  clear(): number {
    if (!this.schema.exists()) return 0;
    return this.sql.exec("DELETE FROM chat_history").rowsWritten;
  }
}
