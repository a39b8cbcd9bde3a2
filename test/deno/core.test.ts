import assert from "node:assert/strict";
import { test } from "node:test";
import { heuristicSummary } from "../../src/meeting/summary/heuristic.ts";
import { describeIssues } from "../../src/protocol/errors.ts";
import { parseTaskCommand } from "../../src/workflow/commands/parse.ts";
import { scenarios } from "../support/session-scenarios.ts";

// Runs under Deno (`npm run test:deno`): the session core and its capabilities load and behave the
// same outside workerd and outside Node, on Deno's own SQLite: the scenarios of
// test/support/session-scenarios.ts, plus pure capability logic.

for (const [name, run] of Object.entries(scenarios)) test(name, run);

test("pure capability logic runs", () => {
  assert.equal(parseTaskCommand("认领第2个")?.ordinal, 2);
  assert.ok(heuristicSummary([{ text: "We decided to ship on Friday", ts: 1 }], "LLM_NOT_CONFIGURED").title.length > 0);
  assert.equal(describeIssues([]), "invalid message");
});
