import { describe, expect, it } from "vitest";
import { mayBroadcast, mayMessage, parseAcl } from "../../src/peer/acl.ts";
import { needsRelay, normalizeTask } from "../../src/peer/relay.ts";
import { parseTargets } from "../../src/peer/targets.ts";
import { taskTitle } from "../../src/peer/task-to-workflow.ts";
import type { PeerEnvelope } from "../../src/peer/messages.ts";

const env = (category: string, payload: Record<string, unknown>): PeerEnvelope => ({
  type: "peer",
  event: "message",
  id: "m1",
  from: "a",
  fromName: "a",
  category,
  payload,
  ts: 1,
});

describe("targets", () => {
  it("trims, lower-cases, dedupes and classifies", () => {
    expect(parseTargets([" AA:BB ", "aa:bb", "Broadcast", "group:Lab", "group:", "bad id", ""], "home")).toEqual([
      { kind: "device", id: "aa:bb" },
      { kind: "group", key: "home", raw: "broadcast" },
      { kind: "group", key: "lab", raw: "group:lab" },
      { kind: "invalid", raw: "group:" },
      { kind: "invalid", raw: "bad id" },
      { kind: "invalid", raw: "" },
    ]);
  });
});

describe("PEER_ACL", () => {
  it("defaults to the own group, with broadcast allowed", () => {
    const { acl, error } = parseAcl("");
    expect(error).toBeUndefined();
    expect(mayMessage(acl, "a", "g1", "b", "g1")).toBe(true);
    expect(mayMessage(acl, "a", "g1", "c", "g2")).toBe(false);
    expect(mayBroadcast(acl, "a", "g1", "g1")).toBe(true);
    expect(mayBroadcast(acl, "a", "g1", "g2")).toBe(false);
  });

  it("allow_all, allow_broadcast:false and per-sender allowlists", () => {
    expect(mayMessage(parseAcl('{"allow_all":true}').acl, "a", "g1", "c", "g2")).toBe(true);
    expect(mayBroadcast(parseAcl('{"allow_broadcast":false}').acl, "a", "g1", "g1")).toBe(false);
    const { acl } = parseAcl('{"allowlist":{"A":["C","group:ops"]}}');
    expect(mayMessage(acl, "a", "g1", "c", "g2")).toBe(true);
    expect(mayMessage(acl, "a", "g1", "d", "ops")).toBe(true);
    expect(mayMessage(acl, "b", "g1", "c", "g2")).toBe(false);
    expect(mayBroadcast(acl, "a", "g1", "ops")).toBe(true);
  });

  it("falls back to the default on bad JSON and says so", () => {
    const { acl, error } = parseAcl("{nope");
    expect(error).toMatch(/PEER_ACL/);
    expect(acl.allowAll).toBe(false);
  });
});

describe("AI relay helpers", () => {
  it("relays only task messages with text and no normalized payload", () => {
    expect(needsRelay(env("task", { text: " buy milk " }))).toBe("buy milk");
    expect(needsRelay(env("chat", { text: "hi" }))).toBeNull();
    expect(needsRelay(env("task", { text: "x", normalized: {} }))).toBeNull();
    expect(needsRelay(env("task", { title: "x" }))).toBeNull();
  });

  it("coerces the model's answer into {title,description,priority,assignees,due}", () => {
    expect(normalizeTask({ title: " Fix login ", priority: "2", assignees: "Bob", due: "" }, "fix the login page")).toEqual({
      title: "Fix login",
      description: "fix the login page",
      priority: 2,
      assignees: ["Bob"],
      due: null,
    });
    expect(normalizeTask({ title: "x", priority: 9, assignees: ["a", "a", 3] }, "t")).toMatchObject({ priority: 1, assignees: ["a", "3"] });
    expect(normalizeTask({ description: "no title" }, "t")).toBeNull();
  });

  it("titles a workflow task from normalized, title or text", () => {
    expect(taskTitle(env("task", { text: "raw", normalized: { title: "Norm" } }))).toBe("Norm");
    expect(taskTitle(env("task", { text: "raw" }))).toBe("raw");
    expect(taskTitle(env("task", {}))).toBe("");
  });
});
