import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ensureSchema, FLEET_MIGRATIONS, forgetSchema, statements } from "../../src/fleet/schema.ts";
import { api } from "./helpers.ts";

// The registry's schema: the Worker knows every file in migrations/ (as wrangler does), and a
// database nobody migrated (a fresh `wrangler dev`) gets the tables on the first query, recorded
// in wrangler's d1_migrations table so `wrangler d1 migrations apply` later finds nothing to do.

const tables = async () =>
  (
    await env.FLEET.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name",
    ).all<{ name: string }>()
  ).results.map((r) => r.name);

describe("fleet schema", () => {
  it("lists the same migrations as migrations/, in order", () => {
    expect(FLEET_MIGRATIONS.map((m) => m.name)).toEqual(env.TEST_MIGRATIONS.map((m) => m.name));
    for (const m of FLEET_MIGRATIONS) expect(statements(m.sql).length).toBeGreaterThan(0);
  });

  it("creates the tables on the first query of an unmigrated database, recorded as wrangler would", async () => {
    for (const t of ["devices", "activations", "voice_turns", "d1_migrations"]) await env.FLEET.prepare(`DROP TABLE IF EXISTS ${t}`).run();
    forgetSchema(env.FLEET);
    const res = await api("/devices?limit=5");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [], nextCursor: null });
    expect(await tables()).toEqual(expect.arrayContaining(["activations", "d1_migrations", "devices", "voice_turns"]));
    const applied = await env.FLEET.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
    expect(applied.results.map((r) => r.name)).toEqual(FLEET_MIGRATIONS.map((m) => m.name));
    // Twice, and concurrently: nothing to do, nothing fails.
    forgetSchema(env.FLEET);
    await Promise.all([ensureSchema(env.FLEET), ensureSchema(env.FLEET)]);
    expect((await env.FLEET.prepare("SELECT COUNT(*) AS n FROM d1_migrations").first<{ n: number }>())!.n).toBe(FLEET_MIGRATIONS.length);
  });

  it("recovers when the tables vanish under a running isolate", async () => {
    await ensureSchema(env.FLEET);
    // Dropped by hand while d1_migrations still records the migration.
    await env.FLEET.prepare("DROP TABLE devices").run();
    const res = await api("/stats");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ devices: { known: 0, online: 0 } });
  });
});
