import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { cachedLlmFingerprints, llmFingerprint, llmFor } from "../../src/llm/client.ts";
import { api, connectDevice, uniqueId, type Json } from "./helpers.ts";

const put = (values: Record<string, unknown>) => api("/config", { method: "PUT", body: JSON.stringify({ values }) });

describe("runtime settings (GET/PUT /api/config)", () => {
  it("shows effective settings and which secrets are set, never their values", async () => {
    const body = (await (await api("/config")).json()) as Json;
    expect(body).toMatchObject({ version: 0, overrides: {}, settings: { IDLE_TIMEOUT_S: 60, PEER_INBOX_MAX: 5 } });
    expect(body.secrets).toMatchObject({ DEVICE_TOKEN_SECRET: true, ADMIN_TOKEN: true, LLM_API_KEY: false });
    expect(JSON.stringify(body)).not.toContain("test-device-token-secret");
  });

  it("refuses unknown names, secrets and values that do not parse", async () => {
    for (const [values, text] of [
      [{ NOPE: "1" }, "NOPE is not a setting"],
      [{ DEVICE_TOKEN_SECRET: "x" }, "secret"],
      [{ IDLE_TIMEOUT_S: "soon" }, "invalid: IDLE_TIMEOUT_S"],
      [{ AUTH_MODE: "maybe" }, "invalid: AUTH_MODE"],
    ] as const) {
      const res = await put(values);
      expect(res.status).toBe(400);
      expect(((await res.json()) as Json).error.message).toContain(text);
    }
  });

  it("applies new values to the Worker at once and to device sessions on their next refresh", async () => {
    const llmSettings = { LLM_BASE_URL: env.LLM_BASE_URL, LLM_API_KEY: "", LLM_MODEL: "gpt-4o-mini" };
    const before = llmFor(llmSettings);
    expect(llmFor(llmSettings)).toBe(before); // cached: the same client again
    expect(cachedLlmFingerprints()).toContain(llmFingerprint(llmSettings));
    const res = await put({ DOWNLINK_SAMPLE_RATE: 16000, PUBLIC_WS_URL: "wss://edge.example.org/supie/v1/" });
    expect(await res.json()).toMatchObject({ version: 1, overrides: { DOWNLINK_SAMPLE_RATE: "16000" } });
    // The change dropped the cached LLM clients.
    expect(cachedLlmFingerprints()).toEqual([]);
    const ota = (await (await api("/config")).json()) as Json;
    expect(ota.settings.PUBLIC_WS_URL).toBe("wss://edge.example.org/supie/v1/");

    const id = uniqueId();
    await runInDurableObject(env.DEVICE.get(env.DEVICE.idFromName(id)), (i) => i.config.refresh(Date.now(), true));
    const { sock, hello } = await connectDevice(id);
    expect(hello.audio_params.sample_rate).toBe(16000);
    sock.close();

    expect(await (await put({ DOWNLINK_SAMPLE_RATE: null })).json()).toMatchObject({
      version: 2,
      overrides: { PUBLIC_WS_URL: "wss://edge.example.org/supie/v1/" },
    });
  });
});
