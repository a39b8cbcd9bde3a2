import { spawn } from "node:child_process";
import { resolve } from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ANSWER, sendJson, startFakeOpenAI, type FakeOpenAI } from "../../scripts/fake-openai.ts";

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => fake.reset());

const chatBody = (extra: Record<string, unknown> = {}) => ({
  model: "m-1",
  messages: [
    { role: "system", content: "be brief" },
    { role: "user", content: "hello" },
  ],
  ...extra,
});

async function chat(extra: Record<string, unknown> = {}, init: RequestInit = {}): Promise<Response> {
  return fetch(`${fake.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test-123" },
    body: JSON.stringify(chatBody(extra)),
    ...init,
  });
}

async function content(res: Response): Promise<string> {
  const json = (await res.json()) as { choices: Array<{ message: { content: string } }> };
  return json.choices[0]?.message.content ?? "";
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe("fake OpenAI server: answers", () => {
  it("serves a chat completion with the default JSON answer and records the request", async () => {
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const res = await chat({ max_tokens: 50 });
    expect(res.status).toBe(200);
    const json = (await res.json()) as Record<string, unknown>;
    expect(json).toMatchObject({
      object: "chat.completion",
      model: "m-1",
      choices: [{ index: 0, message: { role: "assistant", content: DEFAULT_ANSWER }, finish_reason: "stop" }],
    });
    expect(JSON.parse(DEFAULT_ANSWER)).toBeTypeOf("object");
    expect(fake.callCount()).toBe(1);
    expect(fake.callCount("/v1/chat/completions")).toBe(1);
    const rec = fake.requests[0];
    expect(rec?.method).toBe("POST");
    expect(rec?.path).toBe("/v1/chat/completions");
    expect(rec?.headers.authorization).toBe("Bearer sk-test-123");
    expect(rec?.body).toMatchObject({ model: "m-1", max_tokens: 50 });
    expect(rec?.mode).toBeNull();
  });

  it("answers with a fixed string, a queue, or a function of the messages", async () => {
    fake.setAnswer("fixed");
    expect(await content(await chat())).toBe("fixed");
    expect(await content(await chat())).toBe("fixed");

    fake.setAnswer(["one", "two"]);
    expect(await content(await chat())).toBe("one");
    expect(await content(await chat())).toBe("two");
    expect(await content(await chat())).toBe(DEFAULT_ANSWER);

    fake.setAnswer(({ messages, model }) => `${model}:${String(messages.at(-1)?.content).toUpperCase()}`);
    expect(await content(await chat())).toBe("m-1:HELLO");
  });

  it("streams chat.completion.chunk events ending with [DONE]", async () => {
    fake.setAnswer('{"title":"a fairly long answer to split into chunks"}');
    const res = await chat({ stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const lines = (await res.text()).split("\n").filter((l) => l.startsWith("data: "));
    expect(lines.at(-1)).toBe("data: [DONE]");
    const chunks = lines
      .slice(0, -1)
      .map((l) => JSON.parse(l.slice(6)) as { object: string; choices: Array<{ delta: { content?: string }; finish_reason: string | null }>; usage?: unknown });
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? "")).join("");
    expect(text).toBe('{"title":"a fairly long answer to split into chunks"}');
    expect(chunks.some((c) => c.choices[0]?.finish_reason === "stop")).toBe(true);
    expect(chunks.at(-1)?.usage).toBeDefined();
  });

  it("streams to the real openai SDK", async () => {
    fake.setAnswer("streamed through the SDK");
    const client = new OpenAI({ baseURL: fake.url, apiKey: "sk-sdk", maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: "m-2", messages: [{ role: "user", content: "hi" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("streamed through the SDK");
    expect(fake.requests[0]?.headers.authorization).toBe("Bearer sk-sdk");
  });

  it("lists models and answers unknown routes with 404", async () => {
    const models = (await (await fetch(`${fake.url}/models`)).json()) as { object: string; data: Array<{ id: string }> };
    expect(models.object).toBe("list");
    expect(models.data.map((m) => m.id)).toContain("fake-model");
    const missing = await fetch(`${fake.url}/nope`, { method: "POST", body: "{}" });
    expect(missing.status).toBe(404);
    expect(fake.callCount()).toBe(2);
  });

  it("rejects chat requests without messages", async () => {
    const res = await fetch(`${fake.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "x" }),
    });
    expect(res.status).toBe(400);
  });
});

describe("fake OpenAI server: failure modes", () => {
  it("http500 for the next request only, then normal", async () => {
    fake.setMode("http500", { times: 1 });
    const bad = await chat();
    expect(bad.status).toBe(500);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBeTruthy();
    const good = await chat();
    expect(good.status).toBe(200);
    expect(fake.requests.map((r) => r.mode)).toEqual(["http500", null]);
  });

  it("http500 globally until cleared, with a chosen status", async () => {
    fake.setMode("http500", { status: 429 });
    expect((await chat()).status).toBe(429);
    expect((await chat()).status).toBe(429);
    fake.setMode(null);
    expect((await chat()).status).toBe(200);
  });

  it("one-shot modes queue in order and take precedence over the global mode", async () => {
    fake.setMode("fenced");
    fake.setMode("http500", { times: 2 });
    fake.setMode("non_json", { times: 1 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat()).status);
    expect(statuses).toEqual([500, 500, 200, 200]);
    expect(fake.requests.map((r) => r.mode)).toEqual(["http500", "http500", "non_json", "fenced"]);
  });

  it("does not spend failure budgets on /v1/models", async () => {
    fake.setMode("http500", { times: 1 });
    expect((await fetch(`${fake.url}/models`)).status).toBe(200);
    expect((await chat()).status).toBe(500);
  });

  it("slow answers after a delay", async () => {
    fake.setMode("slow", { delayMs: 50, times: 1 });
    const res = await chat();
    expect(res.status).toBe(200);
    expect(await content(res)).toBe(DEFAULT_ANSWER);
    expect(fake.requests[0]?.mode).toBe("slow");
  });

  it("non_json, truncated_json and fenced reshape the answer text", async () => {
    fake.setAnswer('{"title":"Ship it","priority":2}');

    fake.setMode("non_json", { times: 1 });
    const prose = await content(await chat());
    expect(prose).not.toContain("{");
    expect(prose.length).toBeGreaterThan(10);

    fake.setMode("truncated_json", { times: 1 });
    const cutRes = (await (await chat()).json()) as { choices: Array<{ message: { content: string }; finish_reason: string }> };
    const cut = cutRes.choices[0]?.message.content ?? "";
    expect('{"title":"Ship it","priority":2}'.startsWith(cut)).toBe(true);
    expect(cut.length).toBeLessThan('{"title":"Ship it","priority":2}'.length);
    expect(() => JSON.parse(cut)).toThrow();
    expect(cutRes.choices[0]?.finish_reason).toBe("length");

    fake.setMode("fenced", { times: 1 });
    const fenced = await content(await chat());
    expect(fenced).toContain('```json\n{"title":"Ship it","priority":2}\n```');
    expect(fenced.startsWith("```")).toBe(false);
    expect(fenced.trim().endsWith("```")).toBe(false);
  });

  it("bad_body answers 200 with a body that is not JSON", async () => {
    fake.setMode("bad_body", { times: 1 });
    const res = await chat();
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(() => JSON.parse(text)).toThrow();
  });

  it("hang never answers; the client can abort", async () => {
    fake.setMode("hang", { times: 1 });
    const ctl = new AbortController();
    const pending = chat({}, { signal: ctl.signal });
    await waitFor(() => fake.callCount() === 1);
    ctl.abort();
    await expect(pending).rejects.toThrow();
    expect((await chat()).status).toBe(200);
  });

  it("close() ends hanging requests", async () => {
    const other = await startFakeOpenAI();
    other.setMode("hang");
    const pending = fetch(`${other.url}/chat/completions`, { method: "POST", body: JSON.stringify(chatBody()) });
    await waitFor(() => other.callCount() === 1);
    await other.close();
    await expect(pending).rejects.toThrow();
  });

  it("reset() clears requests, modes and answers", async () => {
    fake.setAnswer("x");
    fake.setMode("http500");
    await chat();
    const requests = fake.requests;
    fake.reset();
    expect(fake.requests).toBe(requests);
    expect(fake.requests).toHaveLength(0);
    expect(await content(await chat())).toBe(DEFAULT_ANSWER);
  });
});

describe("fake OpenAI server: options", () => {
  it("checks the API key when one is configured, and serves extra routes", async () => {
    const other = await startFakeOpenAI({
      apiKey: "sk-right",
      answer: "configured",
      routes: [{ method: "POST", path: "/v1/audio/speech", failable: true, handle: (ctx) => sendJson(ctx.res, 200, { extra: true }) }],
    });
    try {
      const post = (path: string, key: string) =>
        fetch(`${other.url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify(chatBody()),
        });
      expect((await post("/chat/completions", "sk-wrong")).status).toBe(401);
      expect(await content(await post("/chat/completions", "sk-right"))).toBe("configured");
      expect(await (await post("/audio/speech", "sk-right")).json()).toEqual({ extra: true });
      other.setMode("http500", { times: 1 });
      expect((await post("/audio/speech", "sk-right")).status).toBe(500);
    } finally {
      await other.close();
    }
  });

  it("runs from the command line", async () => {
    const script = resolve(import.meta.dirname, "../../scripts/fake-openai.ts");
    const child = spawn(process.execPath, [script, "--port", "0", "--answer", "from the CLI"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening on (\S+)/.exec(out);
          if (m?.[1]) resolveUrl(m[1]);
        });
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const res = await fetch(`${url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody()) });
      expect(await content(res)).toBe("from the CLI");
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    }
  });
});
