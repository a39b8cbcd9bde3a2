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
 * Applies each named migration once, in order, at once (an object whose tables are all written
 * together, the group's). Migration names are constants of ours, never input.
 */
export function migrate(sql: Sql, migrations: readonly Migration[]): void {
  new Schema(sql, migrations).part(migrations).ensure();
}

/** A store's own tables: whether they exist, and creating them before a write. */
export interface Tables {
  /** True when the tables exist (bringing them up to date); a read, never a create. */
  exists(): boolean;
  /** Creates or upgrades the tables before a write. */
  ensure(): void;
}

/**
 * An object's tables, created on the first write rather than when the object starts, and each
 * store's own only when that store first writes: a device's first connection then writes
 * nothing before its hello reply, and a new device creates one small table, not every
 * capability's (creating them all was the largest single cost of a new device's first connect).
 * Reads before that see an empty store.
 */
export class Schema {
  /** Names of the applied migrations; read once per object, kept current by `apply`. */
  private applied: Set<string> | undefined;
  private hasLedger = false;
  private readonly sql: Sql;
  private readonly migrations: readonly Migration[];

  constructor(sql: Sql, migrations: readonly Migration[]) {
    this.sql = sql;
    this.migrations = migrations;
  }

  /** The tables of `migrations` (in order; one store's): `exists` and `ensure` for that store. */
  part(migrations: readonly Migration[]): Tables {
    for (const m of migrations) if (!this.migrations.includes(m)) throw new Error(`migration "${m.name}" is not in this schema`);
    return {
      exists: () => {
        if (!migrations.some((m) => this.done().has(m.name))) return false;
        this.apply(migrations);
        return true;
      },
      ensure: () => this.apply(migrations),
    };
  }

  private done(): Set<string> {
    if (!this.applied) {
      this.hasLedger = this.sql.exec("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;
      const names = this.hasLedger
        ? this.sql
            .exec<{ name: string }>("SELECT name FROM _migrations")
            .toArray()
            .map((r) => r.name)
        : [];
      this.applied = new Set(names);
    }
    return this.applied;
  }

  private apply(migrations: readonly Migration[]): void {
    const done = this.done();
    const pending = migrations.filter((m) => !done.has(m.name));
    if (pending.length === 0) return;
    const now = Date.now();
    const statements = [
      ...(this.hasLedger ? [] : ["CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"]),
      ...pending.map((m) => m.up.trim().replace(/;$/, "")),
      `INSERT INTO _migrations (name, applied_at) VALUES ${pending.map((m) => `('${m.name}', ${now})`).join(", ")}`,
    ];
    this.sql.exec(statements.join(";\n"));
    this.hasLedger = true;
    for (const m of pending) done.add(m.name);
  }
}

/** A store over tables that are created on its first write (see Schema). */
export abstract class LazyStore {
  protected readonly sql: Sql;
  protected readonly schema: Tables;

  constructor(sql: Sql, schema: Schema, migrations: readonly Migration[]) {
    this.sql = sql;
    this.schema = schema.part(migrations);
  }

  /** The tables, created on first use: for writes, and reads that follow a write. */
  protected get db(): Sql {
    this.schema.ensure();
    return this.sql;
  }
}
