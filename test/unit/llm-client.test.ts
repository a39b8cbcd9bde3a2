import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sendJson, startFakeOpenAI, type FakeOpenAI } from "../../scripts/fake-openai.ts";
import { cachedLlmFingerprints, completeJson, createLlm, dropLlmClients, llmFingerprint, llmFor, type LlmResult } from "../../src/llm/client.ts";

// Real openai SDK, real HTTP, the fake OpenAI-compatible server from scripts/. No SDK stubs and
// no assertion on durations.

const KEY = "sk-test-secret-key-0123456789";
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI({
    routes: [
      // A provider that quotes the key back in its error, as some do.
      {
        method: "POST",
        path: "/v1/echo-key/chat/completions",
        failable: false,
        handle: (ctx) =>
          sendJson(ctx.res, 401, { error: { message: `Incorrect API key provided: ${ctx.headers.authorization ?? ""}`, type: "invalid_request_error" } }),
      },
      // 200 with JSON of the wrong shape.
      { method: "POST", path: "/v1/shapeless/chat/completions", failable: false, handle: (ctx) => sendJson(ctx.res, 200, { hello: "world" }) },
    ],
  });
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.reset();
  dropLlmClients();
});

const llm = (over: { baseUrl?: string; apiKey?: string; model?: string } = {}) => createLlm({ baseUrl: fake.url, apiKey: KEY, model: "test-model", ...over });

const req = { system: "You answer in JSON.", user: "Summarise: hello" };

function failed(r: LlmResult): { code: string; message: string } {
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
  expect(r.message).not.toContain(KEY);
  return r;
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe("Llm.complete over the openai SDK", () => {
  it("returns the answer text and sends key, model, messages, max_tokens and temperature", async () => {
    fake.setAnswer("  Hello from the fake.  ");
    const r = await llm().complete({ ...req, maxTokens: 123, temperature: 0.2 });
    expect(r).toMatchObject({ ok: true, text: "Hello from the fake.", model: "test-model", elapsedMs: expect.any(Number) });
    expect(fake.callCount("/v1/chat/completions")).toBe(1);
    const sent = fake.requests[0];
    expect(sent?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sent?.body).toMatchObject({
      model: "test-model",
      max_tokens: 123,
      temperature: 0.2,
      messages: [
        { role: "system", content: "You answer in JSON." },
        { role: "user", content: "Summarise: hello" },
      ],
    });
    expect((sent?.body as Record<string, unknown>).response_format).toBeUndefined();
    expect((sent?.body as Record<string, unknown>).stream).toBe(false);
  });

  it("asks for a JSON object when json is set, and omits an empty system prompt", async () => {
    await llm().complete({ system: "", user: "x", json: true });
    const body = fake.requests[0]?.body as Record<string, unknown>;
    expect(body.response_format).toEqual({ type: "json_object" });
    expect(body.messages).toEqual([{ role: "user", content: "x" }]);
    expect(body.max_tokens).toBeUndefined();
  });

  it("is not configured without a base URL, and sends nothing", async () => {
    const r = await createLlm({ baseUrl: "", apiKey: KEY, model: "m" }).complete(req);
    expect(failed(r).code).toBe("LLM_NOT_CONFIGURED");
    const viaSettings = await llmFor({ LLM_BASE_URL: "  ", LLM_API_KEY: KEY, LLM_MODEL: "m" }).complete(req);
    expect(failed(viaSettings).code).toBe("LLM_NOT_CONFIGURED");
    expect(fake.callCount()).toBe(0);
  });

  it("works without an API key (local servers)", async () => {
    const r = await llm({ apiKey: "" }).complete(req);
    expect(r.ok).toBe(true);
  });

  it("maps HTTP 500 to LLM_HTTP_ERROR without retrying", async () => {
    fake.setMode("http500");
    const r = failed(await llm().complete(req));
    expect(r.code).toBe("LLM_HTTP_ERROR");
    expect(r.message).toContain("500");
    expect(fake.callCount()).toBe(1);
  });

  it("never puts the API key in a message, even when the provider echoes it", async () => {
    const r = failed(await llm({ baseUrl: `${fake.url}/echo-key` }).complete(req));
    expect(r.code).toBe("LLM_HTTP_ERROR");
    expect(r.message).toContain("401");
    expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it("maps an answer slower than the timeout to LLM_TIMEOUT", async () => {
    fake.setMode("slow", { delayMs: 5000 });
    const r = failed(await llm().complete({ ...req, timeoutMs: 100 }));
    expect(r.code).toBe("LLM_TIMEOUT");
  });

  it("maps a hanging server to LLM_TIMEOUT when the caller aborts", async () => {
    fake.setMode("hang");
    const ctl = new AbortController();
    const pending = llm().complete({ ...req, signal: ctl.signal });
    await waitFor(() => fake.callCount() === 1);
    ctl.abort();
    expect(failed(await pending).code).toBe("LLM_TIMEOUT");
  });

  it("maps a hanging server to LLM_TIMEOUT at the timeout", async () => {
    fake.setMode("hang");
    expect(failed(await llm().complete({ ...req, timeoutMs: 100 })).code).toBe("LLM_TIMEOUT");
  });

  it("does not send a request when the signal is already aborted", async () => {
    const ctl = new AbortController();
    ctl.abort();
    expect(failed(await llm().complete({ ...req, signal: ctl.signal })).code).toBe("LLM_TIMEOUT");
    expect(fake.callCount()).toBe(0);
  });

  it("maps a 200 with a non-JSON body or the wrong shape to LLM_BAD_RESPONSE", async () => {
    fake.setMode("bad_body", { times: 1 });
    expect(failed(await llm().complete(req)).code).toBe("LLM_BAD_RESPONSE");
    expect(failed(await llm({ baseUrl: `${fake.url}/shapeless` }).complete(req)).code).toBe("LLM_BAD_RESPONSE");
  });

  it("maps empty content to LLM_EMPTY", async () => {
    fake.setAnswer("   ");
    expect(failed(await llm().complete(req)).code).toBe("LLM_EMPTY");
  });

  it("maps a refused connection to LLM_HTTP_ERROR", async () => {
    const gone = await startFakeOpenAI();
    const url = gone.url;
    await gone.close();
    const r = failed(await llm({ baseUrl: url }).complete(req));
    expect(r.code).toBe("LLM_HTTP_ERROR");
  });
});

describe("completeJson", () => {
  it("returns the object and asks for JSON by default", async () => {
    fake.setAnswer('{"title":"Standup","priority":1}');
    const r = await completeJson(llm(), req);
    expect(r).toMatchObject({ ok: true, value: { title: "Standup", priority: 1 }, model: "test-model" });
    expect((fake.requests[0]?.body as Record<string, unknown>).response_format).toEqual({ type: "json_object" });
  });

  it("extracts fenced JSON with chatter around it", async () => {
    fake.setAnswer('{"title":"Fenced"}');
    fake.setMode("fenced");
    expect(await completeJson(llm(), req)).toMatchObject({ ok: true, value: { title: "Fenced" } });
  });

  it("reports prose as LLM_OUTPUT_NOT_JSON with the raw text", async () => {
    fake.setMode("non_json");
    const r = await completeJson(llm(), req);
    expect(r).toEqual({
      ok: false,
      code: "LLM_OUTPUT_NOT_JSON",
      message: "the answer contains no JSON object",
      text: "Sure! The meeting went well, everyone agreed on the plan, and there is nothing more to add.",
    });
  });

  it("reports cut-off JSON as LLM_OUTPUT_TRUNCATED", async () => {
    fake.setAnswer('{"title":"A long title","bullets":["one","two","three"]}');
    fake.setMode("truncated_json");
    expect(await completeJson(llm(), req)).toMatchObject({ ok: false, code: "LLM_OUTPUT_TRUNCATED" });
  });

  it("passes LLM_* failures through", async () => {
    fake.setMode("http500", { times: 1 });
    expect(await completeJson(llm(), req)).toMatchObject({ ok: false, code: "LLM_HTTP_ERROR" });
    expect(await completeJson(createLlm({ baseUrl: "", apiKey: "", model: "" }), req)).toMatchObject({ ok: false, code: "LLM_NOT_CONFIGURED" });
  });
});

describe("llmFor client cache", () => {
  const settings = () => ({ LLM_BASE_URL: fake.url, LLM_API_KEY: KEY, LLM_MODEL: "cached-model" });

  it("returns one client per settings fingerprint and talks to the configured server", async () => {
    const a = llmFor(settings());
    expect(llmFor(settings())).toBe(a);
    expect(llmFor({ ...settings(), LLM_API_KEY: "sk-other" })).not.toBe(a);
    expect(llmFor({ ...settings(), LLM_MODEL: "other-model" })).not.toBe(a);
    expect(llmFor({ ...settings(), LLM_BASE_URL: `${fake.url}/` })).not.toBe(a);
    expect(cachedLlmFingerprints()).toHaveLength(4);

    const r = await a.complete(req);
    expect(r).toMatchObject({ ok: true, model: "cached-model" });
    expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(fake.requests[0]?.body).toMatchObject({ model: "cached-model" });
  });

  it("never keeps the raw key in the cache key", () => {
    llmFor(settings());
    const keys = cachedLlmFingerprints();
    expect(keys).toEqual([llmFingerprint(settings())]);
    for (const k of keys) {
      expect(k).not.toContain(KEY);
      expect(k).not.toContain(KEY.slice(3, 12));
    }
  });

  it("dropLlmClients() forgets every client", () => {
    const a = llmFor(settings());
    dropLlmClients();
    expect(cachedLlmFingerprints()).toHaveLength(0);
    const b = llmFor(settings());
    expect(b).not.toBe(a);
    expect(llmFor(settings())).toBe(b);
  });

  it("stays bounded", () => {
    for (let i = 0; i < 40; i++) llmFor({ ...settings(), LLM_API_KEY: `sk-${i}` });
    expect(cachedLlmFingerprints().length).toBeLessThanOrEqual(16);
  });
});
