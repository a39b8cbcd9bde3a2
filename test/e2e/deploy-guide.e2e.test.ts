import { describe, expect, it } from "vitest";
import { checkDeployGuide } from "../../scripts/check-deploy-guide.ts";

// docs/deploy.md stays true: its offline commands run (dry-run deploys of each environment, the
// version upload check, local D1 migrations, wrangler dev reached at a LAN address with the guide's
// .dev.vars, and with --env production and its required secrets) on a copy of the project.

describe("the deploy guide", () => {
  it("runs every command it gives that needs no Cloudflare account", async () => {
    const steps = await checkDeployGuide();
    expect(steps.filter((s) => !s.ok)).toEqual([]);
    expect(steps.length).toBeGreaterThan(10);
  }, 300_000);
});
