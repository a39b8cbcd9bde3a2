import fleetV1 from "../../migrations/0001_fleet.sql";
import { log } from "../log.ts";
import type { Db } from "./db.ts";

// The registry's tables come from migrations/*.sql, which `wrangler d1 migrations apply` applies
// at deploy. A Worker started without that step (a fresh `wrangler dev`, a test harness) would
// answer every fleet request with "no such table"; so the first query of an isolate checks
// wrangler's own d1_migrations table and applies what is missing the way wrangler would (same
// names, same table), and the two paths never disagree. The check is one read per isolate.

export interface D1Migration {
  /** The file name under migrations/, as wrangler records it. */
  name: string;
  sql: string;
}

/** In order. A new migration is a new file here and a new line below (a unit test checks both). */
export const FLEET_MIGRATIONS: readonly D1Migration[] = [{ name: "0001_fleet.sql", sql: fleetV1 }];

/** wrangler's own definition of its bookkeeping table (wrangler d1 migrations). */
const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS d1_migrations(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

/** Statements of a migration file: comments dropped, split at semicolons (our files have none in strings). */
export function statements(sql: string): string[] {
  return sql
    .split("\n")
    .filter((l) => !l.trim().startsWith("--"))
    .join("\n")
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean);
}

async function applied(db: Db): Promise<Set<string> | null> {
  try {
    const { results } = await db.prepare("SELECT name FROM d1_migrations").all<{ name: string }>();
    return new Set(results.map((r) => r.name));
  } catch {
    return null; // no d1_migrations table yet: nothing applied
  }
}

/** `all`: apply every migration again (their statements are idempotent), recorded or not. */
async function migrate(db: Db, all: boolean): Promise<void> {
  const done = all ? new Set<string>() : ((await applied(db)) ?? new Set<string>());
  const pending = FLEET_MIGRATIONS.filter((m) => !done.has(m.name));
  if (pending.length === 0) return;
  // One batch is one transaction: a migration is applied and recorded together, or not at all.
  // Two isolates racing both succeed (IF NOT EXISTS, OR IGNORE).
  await db.batch([
    db.prepare(MIGRATIONS_TABLE),
    ...pending.flatMap((m) => [
      ...statements(m.sql).map((s) => db.prepare(s)),
      db.prepare("INSERT OR IGNORE INTO d1_migrations (name) VALUES (?)").bind(m.name),
    ]),
  ]);
  log.info("fleet.migrated", { applied: pending.map((m) => m.name) });
}

const ready = new WeakMap<Db, Promise<void>>();

/**
 * Resolves once the registry's tables exist; the check runs once per isolate and database.
 * `repair`: a query found a table missing although recorded (local state edited by hand): every
 * migration runs again.
 */
export function ensureSchema(db: Db, repair = false): Promise<void> {
  let p = ready.get(db);
  if (!p) {
    p = migrate(db, repair).catch((err: unknown) => {
      // Not cached: the next query tries again.
      ready.delete(db);
      throw err;
    });
    ready.set(db, p);
  }
  return p;
}

/** Forgets that the tables were checked (a query found one missing). */
export function forgetSchema(db: Db): void {
  ready.delete(db);
}
