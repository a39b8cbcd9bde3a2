// The slice of Durable Object SQLite storage (`ctx.storage.sql`) that our stores use. Stores take
// this interface rather than the runtime type so their logic also runs outside workerd.

export type SqlValue = string | number | null | ArrayBuffer;

export interface SqlCursor<T> extends Iterable<T> {
  toArray(): T[];
  one(): T;
  readonly rowsWritten: number;
}

/** A named schema change, applied once per database (names are constants of ours, never input). */
export interface Migration {
  name: string;
  up: string;
}

export interface Sql {
  exec<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): SqlCursor<T>;
}

/**
 * Applies each named migration once, in order. Runs in the object's constructor, so it is cheap
 * on the hot path: one read for an up-to-date object, one batch of statements for a new one.
 * Migration names are constants of ours, never input.
 */
export function migrate(sql: Sql, migrations: readonly Migration[]): void {
  const exists = sql.exec("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;
  const done = new Set(
    exists
      ? sql
          .exec<{ name: string }>("SELECT name FROM _migrations")
          .toArray()
          .map((r) => r.name)
      : [],
  );
  const pending = migrations.filter((m) => !done.has(m.name));
  if (pending.length === 0) return;
  const now = Date.now();
  const statements = [
    ...(exists ? [] : ["CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"]),
    ...pending.map((m) => m.up.trim().replace(/;$/, "")),
    `INSERT INTO _migrations (name, applied_at) VALUES ${pending.map((m) => `('${m.name}', ${now})`).join(", ")}`,
  ];
  sql.exec(statements.join(";\n"));
}

/**
 * An object's tables, created on the first write rather than when the object starts: a device's
 * first connection then writes nothing, and its hello reply does not wait for a storage commit.
 * Reads before that see an empty store.
 */
export class Schema {
  private state: "unknown" | "absent" | "ready" = "unknown";
  private readonly sql: Sql;
  private readonly migrations: readonly Migration[];

  constructor(sql: Sql, migrations: readonly Migration[]) {
    this.sql = sql;
    this.migrations = migrations;
  }

  /** True when the tables exist (bringing them up to date); a read, never a create. */
  exists(): boolean {
    if (this.state === "unknown") {
      const found = this.sql.exec("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;
      if (found) migrate(this.sql, this.migrations);
      this.state = found ? "ready" : "absent";
    }
    return this.state === "ready";
  }

  /** Creates or upgrades the tables before a write. */
  ensure(): void {
    if (this.state === "ready") return;
    migrate(this.sql, this.migrations);
    this.state = "ready";
  }
}

/** A store over tables that are created on its first write (see Schema). */
export abstract class LazyStore {
  protected readonly sql: Sql;
  protected readonly schema: Schema;

  constructor(sql: Sql, schema: Schema) {
    this.sql = sql;
    this.schema = schema;
  }

  /** The tables, created on first use: for writes, and reads that follow a write. */
  protected get db(): Sql {
    this.schema.ensure();
    return this.sql;
  }
}
