import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Every Worker test file gets fresh storage, its D1 included: the fleet registry's migrations
// (migrations/*.sql, read in Node by vitest.config.ts) are applied before its tests, as
// `wrangler d1 migrations apply` does at deploy.

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}

await applyD1Migrations(env.FLEET, env.TEST_MIGRATIONS);
