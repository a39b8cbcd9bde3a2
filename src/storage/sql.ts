// The slice of Durable Object SQLite storage (`ctx.storage.sql`) that our stores use. Stores take
// this interface rather than the runtime type so their logic also runs outside workerd.

export type SqlValue = string | number | null | ArrayBuffer;

export interface SqlCursor<T> extends Iterable<T> {
  toArray(): T[];
  one(): T;
  readonly rowsWritten: number;
}

export interface Sql {
  exec<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): SqlCursor<T>;
}

/** Applies each named migration once, in order. Runs inside the object's constructor. */
export function migrate(sql: Sql, migrations: ReadonlyArray<{ name: string; up: string }>): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const done = new Set(sql.exec<{ name: string }>("SELECT name FROM _migrations").toArray().map((r) => r.name));
  for (const m of migrations) {
    if (done.has(m.name)) continue;
    sql.exec(m.up);
    sql.exec("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", m.name, Date.now());
  }
}
