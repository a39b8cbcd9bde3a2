import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DeviceClient, type Json } from "../../scripts/lib/device-client.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../../scripts/fake-openai.ts";

// The AI relay and PEER_TASK_TO_WORKFLOW against a local OpenAI-compatible server over real HTTP.

let llm: FakeOpenAI;
let server: DevServer;
let alice: DeviceClient;
let bob: DeviceClient;

beforeAll(async () => {
  llm = await startFakeOpenAI();
  server = await startDevServer({
    vars: { LLM_BASE_URL: llm.url, LLM_MODEL: "relay-model", PEER_TASK_TO_WORKFLOW: "true" },
  });
  alice = await DeviceClient.connect({ baseUrl: server.url, deviceId: "77:88:99:00:00:01" });
  bob = await DeviceClient.connect({ baseUrl: server.url, deviceId: "77:88:99:00:00:02" });
  // Bob looks at his group's list, as a badge in working mode does, which makes him a member.
  await bob.request({ type: "workflow", event: "list" });
});
afterAll(async () => {
  await alice?.close();
  await bob?.close();
  await server?.stop();
  await llm?.close();
});
beforeEach(() => {
  llm.reset();
});

async function sendTask(text: string): Promise<Json> {
  const receipt = await alice.request({ type: "peer", to: [bob.deviceId], category: "Task", payload: { text } });
  expect(receipt).toMatchObject({ event: "receipt", delivered: [bob.deviceId] });
  return bob.next((m) => m.type === "peer" && m.id === receipt.id);
}

describe("AI relay for category task", () => {
  it("adds payload.normalized from the LLM, even from fenced and chatty output", async () => {
    llm.setAnswer(
      'Sure! ```json\n{"title":"Fix the login page","description":"Login fails on Safari","priority":3,"assignees":["Bob"],"due":"2026-11-30"}\n``` Anything else?',
    );
    const msg = await sendTask("Bob please fix the login page on Safari by Monday, it's urgent");
    expect(msg.payload).toEqual({
      text: "Bob please fix the login page on Safari by Monday, it's urgent",
      normalized: { title: "Fix the login page", description: "Login fails on Safari", priority: 3, assignees: ["Bob"], due: "2026-11-30" },
    });
    expect(msg.relay).toBeUndefined();
    const req = llm.requests.find((r) => r.path.endsWith("/chat/completions"))!;
    expect(req.body).toMatchObject({ model: "relay-model" });
    // PEER_TASK_TO_WORKFLOW: the task lands in Bob's group list, owned by Bob.
    const snap = await bob.next((m) => m.type === "workflow" && Array.isArray(m.tasks) && (m.tasks as Json[]).some((t) => t.title === "Fix the login page"));
    expect((snap.tasks as Json[]).find((t) => t.title === "Fix the login page")).toMatchObject({ owner: bob.deviceId, priority: 3 });
  });

  it("delivers as sent with relay:<code> when the LLM fails", async () => {
    llm.setMode("non_json", { times: 1 });
    expect((await sendTask("call the supplier")).relay).toBe("LLM_OUTPUT_NOT_JSON");
    llm.setMode("http500", { times: 1 });
    const failed = await sendTask("order paper");
    expect(failed.relay).toBe("LLM_HTTP_ERROR");
    expect(failed.payload).toEqual({ text: "order paper" });
    llm.setMode("truncated_json", { times: 1 });
    expect((await sendTask("book a room")).relay).toBe("LLM_OUTPUT_TRUNCATED");
  });
});
