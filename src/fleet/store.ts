import type { Db } from "./db.ts";
import { ensureSchema, forgetSchema } from "./schema.ts";

// The base of the registry's stores: every query runs once the tables are known to exist, and a
// query that finds a table missing (local state wiped under a running isolate) checks again once.

export abstract class D1Store {
  protected readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  protected async q<T>(work: (db: Db) => Promise<T>): Promise<T> {
    await ensureSchema(this.db);
    try {
      return await work(this.db);
    } catch (err) {
      if (!/no such table/i.test(String((err as Error)?.message ?? err))) throw err;
      forgetSchema(this.db);
      await ensureSchema(this.db, true);
      return work(this.db);
    }
  }
}
