import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceClient, type Json } from "../../scripts/lib/device-client.ts";
import { linkMcp } from "../../scripts/lib/device-mcp-link.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import { startFakeOpenAI } from "../../scripts/lib/fake-openai/server.ts";
import type { FakeOpenAI } from "../../scripts/lib/fake-openai/types.ts";

// Device tools end to end (PROTOCOL §13): the real Worker under `wrangler dev`, the simulator's
// firmware-like MCP server on a real socket (the module `npm run device` uses), and the fake
// OpenAI-compatible server scripting the LLM's tool calls and answering the camera's photo.

const ADMIN = "dev-admin-token"; // loopback without ADMIN_TOKEN: the development token
let server: DevServer;
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI({ tts: { msPerLatin: 10, msPerCjk: 40, minMs: 200 } });
  server = await startDevServer({
    vars: { LLM_BASE_URL: fake.url, TTS_BASE_URL: fake.url, TTS_MODEL: "fake-tts", VISION_MODEL: "fake-vision" },
  });
});
afterAll(async () => {
  await server?.stop();
  await fake?.close();
});

async function until<T>(fn: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("device tools against wrangler dev", () => {
  it('"set the volume to 50 and tell me what you see": status, set_volume, take_photo through the vision endpoint, one spoken answer', async () => {
    const client = await DeviceClient.connect({ baseUrl: server.url, deviceId: "aa:bb:cc:dd:ee:51" });
    const link = linkMcp(client, { camera: true });
    await until(() => (link.server.requests.some((r) => r.method === "tools/list") ? true : undefined), "setup");
    const init = link.server.requests[0]!;
    expect(init).toMatchObject({ id: 1, method: "initialize" });
    expect(((init.params as Json).capabilities as Json).vision).toEqual({ url: `${server.url}/supie/vision/explain`, token: expect.any(String) });
    expect(link.server.vision?.url).toBe(`${server.url}/supie/vision/explain`);

    fake.setVisionAnswer("A red mug on a desk.");
    fake.setAnswer([
      { tool_calls: [{ name: "self_get_device_status", arguments: {} }] },
      {
        tool_calls: [
          { name: "self_audio_speaker_set_volume", arguments: { volume: 50 } },
          { name: "self_camera_take_photo", arguments: { question: "what is on the desk?" } },
        ],
      },
      "Volume is 50, and I see a red mug.",
    ]);
    const stop = client.next((m) => m.type === "tts" && m.state === "stop", 30_000);
    client.send({ type: "listen", state: "detect", text: "set the volume to 50 and tell me what you see" });
    await stop;
    const texts = client.received.filter((m) => m.type === "tts" && m.state === "sentence_start").map((m) => m.text);
    expect(texts).toEqual(["Volume is 50, and I see a red mug."]);
    expect(client.received.filter((m) => m.type === "tts" && m.state === "start")).toHaveLength(1);
    expect(link.server.state.volume).toBe(50);
    const calls = link.server.requests.filter((r) => r.method === "tools/call").map((r) => (r.params as Json).name);
    expect(calls).toEqual(["self.get_device_status", "self.audio_speaker.set_volume", "self.camera.take_photo"]);
    // The camera's result came back from the vision endpoint, through the device, to the LLM.
    const last = fake.chats.filter((c) => c.images.length === 0).at(-1)!;
    const photo = last.messages.filter((m) => m.role === "tool").at(-1)!;
    expect(JSON.parse(String(photo.content))).toEqual({ success: true, action: "RESPONSE", response: "A red mug on a desk." });
    expect(fake.chats.some((c) => c.model === "fake-vision" && c.images[0]?.sniffed === "jpeg")).toBe(true);

    // The operator sees the device's tools, user-only ones marked, and may call one.
    const auth = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
    const listed = (await (await fetch(`${server.url}/api/devices/aa:bb:cc:dd:ee:51/tools`, { headers: auth })).json()) as { items: Json[] };
    expect(listed.items.find((t) => t.name === "self.reboot")).toMatchObject({ userOnly: true });
    const res = await fetch(`${server.url}/api/devices/aa:bb:cc:dd:ee:51/tools/call`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ name: "self.screen.set_theme", arguments: { theme: "dark" } }),
    });
    expect(await res.json()).toMatchObject({ isError: false, text: "true" });
    expect(link.server.state.theme).toBe("dark");
    link.stop();
    await client.close();
  });
});
