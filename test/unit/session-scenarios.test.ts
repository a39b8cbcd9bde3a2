import { describe, it } from "vitest";
import { scenarios } from "../support/session-scenarios.ts";

// The session scenarios on Node's SQLite (the same ones run on Deno's in test/deno/core.test.ts).
describe("session core on the in-memory runtime", () => {
  for (const [name, run] of Object.entries(scenarios)) it(name, run);
});
