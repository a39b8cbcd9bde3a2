// The slice of a D1 database the fleet registry uses. Portable code takes this interface rather
// than the runtime's D1Database (which satisfies it), so the registry's logic does not depend on
// the Workers runtime.

export interface DbResult<T> {
  results: T[];
  meta: { changes: number };
}

export interface DbStatement {
  bind(...values: unknown[]): DbStatement;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  all<T = Record<string, unknown>>(): Promise<DbResult<T>>;
  run(): Promise<DbResult<unknown>>;
}

export interface Db {
  prepare(query: string): DbStatement;
  /** Runs the statements in one transaction: all or nothing. */
  batch(statements: DbStatement[]): Promise<DbResult<unknown>[]>;
}
