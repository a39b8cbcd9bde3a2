import assert from "node:assert/strict";
import { test } from "node:test";
import { describeIssues } from "../../src/protocol/errors.ts";
import { parseTaskCommand } from "../../src/workflow/commands/parse.ts";
import { heuristicSummary } from "../../src/meeting/summary/heuristic.ts";
import { memoryDevice } from "../support/memory-runtime.ts";

// Runs under Deno (`npm run test:deno`): the portable core (session, router, stores, capabilities'
// pure logic) loads and works outside workerd and outside Node.

test("session core answers hello and keeps its mode on another runtime's SQLite", async () => {
  const d = memoryDevice();
  const c = await d.hello(undefined, { type: "hello", version: 1 });
  await d.session.onText(c, JSON.stringify({ type: "mode", state: "start" }));
  await d.session.onText(c, JSON.stringify({ type: "mode", state: "start", mode: "meeting" }));
  assert.equal(c.sent[0]?.type, "hello");
  assert.deepEqual(c.sent[1], { type: "mode", status: "error", code: "SCHEMA_INVALID", message: "missing: mode" });
  assert.deepEqual(c.sent[2], { type: "mode", status: "ok", state: "start", mode: "meeting" });
  assert.equal(d.session.mode, "meeting");
});

test("pure capability logic runs", () => {
  assert.equal(parseTaskCommand("认领第2个")?.ordinal, 2);
  assert.ok(heuristicSummary([{ text: "We decided to ship on Friday", ts: 1 }], "LLM_NOT_CONFIGURED").title.length > 0);
  assert.equal(describeIssues([]), "invalid message");
});
