import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { hooks, llm } from "./services.ts";

// Every Worker test file starts from the same state. Fresh storage, its D1 included: the fleet
// registry's migrations (migrations/*.sql, read in Node by vitest.config.ts) are applied before its
// tests, as `wrangler d1 migrations apply` does at deploy. And the Node-side fakes are reset: they
// outlive files, and a failure mode or timing one file set (a one-shot failure its test never used
// up, slower speech) would otherwise leak into whichever file runs next.

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}

await applyD1Migrations(env.FLEET, env.TEST_MIGRATIONS);
await llm.reset();
await hooks.reset();
