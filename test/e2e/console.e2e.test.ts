import { type Browser, type BrowserContext, type Locator, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceClient } from "../../scripts/lib/device-client.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import type { ChatRequestInfo, FakeOpenAI } from "../../scripts/lib/fake-openai/types.ts";
import { startControlledLlm } from "../../scripts/lib/test-services.ts";
import { launchOptions } from "../support/browser.ts";

// The operator console (PROTOCOL §12) in headless Chromium (Debian's package, driven by
// playwright-core) against the real Worker under `wrangler dev`, with the fake OpenAI-compatible
// server as LLM, ASR and TTS. One browser page walks through what an operator does, in order:
// sign in, watch devices come and go, bind a device by its code, chat, hold a meeting, share
// tasks, message between two playground devices, and act on a device from the devices tab.
// Waits are for what the page shows, never for a time on the clock.

const TOKEN = "dev-admin-token";
const REPLY = "Hello from the fake model. Nice to meet you.";
const HEARD = "what is on my list today";
const SUMMARY = {
  title: "Beta launch planning",
  bullets: ["The beta ships next week"],
  decisions: ["Launch the beta on Monday"],
  actions: ["Alice writes the release notes"],
  risks: [],
  nextSteps: ["Review the notes on Friday"],
};

/** Meeting summaries get JSON, chat turns a sentence: the fake answers by what it is asked. */
function answer(req: ChatRequestInfo): string {
  const system = req.messages.find((m) => m.role === "system")?.content;
  return typeof system === "string" && system.startsWith("You summarise meeting transcripts") ? JSON.stringify(SUMMARY) : REPLY;
}

let fake: FakeOpenAI;
let server: DevServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  fake = await startControlledLlm({ answer, asrAnswer: HEARD });
  server = await startDevServer({
    vars: { LLM_BASE_URL: fake.url, ASR_BASE_URL: fake.url, TTS_BASE_URL: fake.url, TTS_MODEL: "fake-tts" },
  });
  browser = await chromium.launch(launchOptions());
  context = await browser.newContext({ permissions: ["microphone"] });
  page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await fake?.close();
});

const tab = (name: string) => page.getByRole("tab", { name });
const panels = () => page.getByRole("region", { name: /^Playground device/ });
const conversation = (panel: Locator) => panel.getByRole("log", { name: "Conversation" });

/** Connects a playground panel and waits for the hello. */
async function connect(panel: Locator): Promise<string> {
  const id = await panel.getByLabel("Device ID").inputValue();
  await panel.getByRole("button", { name: "Connect", exact: true }).click();
  await expect.poll(() => panel.getByRole("status", { name: "Connection status" }).textContent(), { timeout: 20_000 }).toMatch(/^Connected · session/);
  return id;
}

describe("console in Chromium", () => {
  it("loads without console errors, asks for the admin token and keeps it out of storage and the URL", async () => {
    const res = await page.goto(`${server.url}/`);
    expect(res?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/console");
    await expect.poll(() => page.getByLabel("Admin token").isVisible()).toBe(true);

    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Open console" }).click();
    await expect.poll(() => tab("Devices").getAttribute("aria-selected")).toBe("true");
    await expect.poll(() => page.getByRole("status", { name: "Fleet figures" }).textContent()).toMatch(/online of \d+ devices/);

    expect(page.url()).not.toContain(TOKEN);
    expect(await page.evaluate(() => ({ local: localStorage.length, cookie: document.cookie }))).toEqual({ local: 0, cookie: "" });
    expect((await context.cookies()).length).toBe(0);
    expect(problems).toEqual([]);
  });

  it("shows connected devices appear and disappear live", async () => {
    await page.getByLabel("Status").selectOption("true");
    const id = "0a:11:22:33:44:55";
    const row = page.getByRole("table", { name: "Devices" }).locator(`tr[data-device-id="${id}"]`);
    const device = await DeviceClient.connect({ baseUrl: server.url, deviceId: id });
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("online");
    await device.close();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    await page.getByLabel("Status").selectOption("");
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("offline");
  });

  it("binds a playground device by the code it shows", async () => {
    // Activation is off on localhost unless asked for: ask for it at runtime from the settings tab.
    await tab("Settings").click();
    const setting = page.getByRole("textbox", { name: "OTA_ACTIVATION", exact: true });
    await setting.fill("required");
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect.poll(() => page.locator("tr[data-name=OTA_ACTIVATION]").getAttribute("class")).toBe("overridden");

    await tab("Playground").click();
    const panel = panels().first();
    const id = await panel.getByLabel("Device ID").inputValue();
    await panel.getByRole("button", { name: "Connect", exact: true }).click();
    const shown = panel.getByRole("status", { name: "Activation" }).locator(".code");
    await expect.poll(() => shown.textContent(), { timeout: 15_000 }).toMatch(/^\d{6}$/);
    const code = (await shown.textContent())!;

    await tab("Devices").click();
    const pending = page.getByRole("table", { name: "Pending activations" });
    await expect.poll(() => pending.textContent(), { timeout: 10_000 }).toContain(id);
    await page.getByLabel("Activation code").fill(code);
    await page.getByRole("button", { name: "Bind" }).click();
    await expect.poll(() => page.getByText(`Bound ${id}`).count()).toBe(1);

    await tab("Playground").click();
    await expect.poll(() => panel.getByRole("status", { name: "Connection status" }).textContent(), { timeout: 20_000 }).toMatch(/^Connected · session/);

    await tab("Settings").click();
    await page.locator("tr[data-name=OTA_ACTIVATION]").getByRole("button", { name: "Reset" }).click();
    await expect.poll(() => page.locator("tr[data-name=OTA_ACTIVATION]").getAttribute("class")).toBe("");
    await tab("Playground").click();
  });

  it("chats by text with the fake LLM and plays the spoken reply", async () => {
    const panel = panels().first();
    await panel.getByLabel("Say", { exact: true }).fill("hello there");
    await panel.getByRole("button", { name: "Send", exact: true }).click();
    const chat = conversation(panel);
    await expect.poll(() => chat.textContent(), { timeout: 15_000 }).toContain(REPLY);
    expect(await chat.locator("li.user").first().textContent()).toContain("hello there");
    await expect.poll(() => panel.getByRole("log", { name: "Traffic" }).textContent(), { timeout: 15_000 }).toContain("tts stop");
    // The reply's Opus frames were decoded at the hello's rate.
    await expect.poll(() => panel.getByLabel("Audio frames").textContent(), { timeout: 15_000 }).not.toMatch(/ 0\.00 s decoded/);
    const traffic = await panel.getByRole("log", { name: "Traffic" }).textContent();
    for (const t of ["hello", "listen detect", "stt", "llm", "tts start", "tts sentence_start", "tts stop"]) expect(traffic).toContain(t);
  });

  it("sends push-to-talk audio from the microphone as Opus and gets it transcribed", async () => {
    const panel = panels().first();
    const chat = conversation(panel);
    for (const codec of ["wasm", "webcodecs"]) {
      await panel.getByLabel("Codec", { exact: true }).selectOption(codec);
      await expect.poll(() => panel.locator(".talk [role=status]").textContent()).toContain(codec === "wasm" ? "libopus" : "WebCodecs");
      const before = await chat.locator("li.user").count();
      const replies = await chat.locator("li.assistant").count();
      const sent = async () => Number(/↑ (\d+) frames sent/.exec((await panel.getByLabel("Audio frames").textContent()) ?? "")?.[1] ?? 0);
      const sentBefore = await sent();
      // A person speaks again once the last reply has ended (every tts start has its tts stop).
      const traffic = panel.getByRole("log", { name: "Traffic" });
      const count = async (state: string) => traffic.locator("li", { hasText: `tts ${state}` }).count();
      await expect.poll(async () => (await count("start")) - (await count("stop")), { timeout: 15_000 }).toBe(0);
      await panel.getByRole("button", { name: "Hold to talk" }).hover();
      await page.mouse.down();
      // Hold until a second of audio has gone up (the fake microphone plays a tone).
      await expect.poll(sent, { timeout: 10_000 }).toBeGreaterThan(sentBefore + 16);
      await page.mouse.up();
      await expect.poll(() => chat.locator("li.user").count(), { timeout: 15_000 }).toBe(before + 1);
      expect(await chat.locator("li.user").last().textContent()).toContain(HEARD);
      await expect.poll(() => chat.locator("li.assistant").count(), { timeout: 15_000 }).toBe(replies + 1);
    }
  });

  it("holds a meeting: live transcript, finalize, summary, then the archive", async () => {
    const panel = panels().first();
    await panel.getByRole("button", { name: "Start meeting" }).click();
    await expect.poll(() => panel.getByLabel("Current mode").textContent()).toBe("meeting");
    for (const line of ["We ship the beta next week", "Alice writes the release notes"]) {
      await panel.getByLabel("Transcript line").fill(line);
      await panel.getByRole("button", { name: "Add line" }).click();
    }
    // Typed speech in meeting mode becomes transcript too, echoed at once.
    await panel.getByLabel("Say", { exact: true }).fill("Launch on Monday");
    await panel.getByRole("button", { name: "Send", exact: true }).click();
    const transcript = panel.getByRole("log", { name: "Meeting transcript" });
    await expect.poll(() => transcript.textContent(), { timeout: 20_000 }).toContain("Alice writes the release notes");
    await expect.poll(() => transcript.textContent()).toContain("Launch on Monday");

    await panel.getByRole("button", { name: "Finalize meeting" }).click();
    const summary = panel.getByLabel("Meeting summary");
    await expect.poll(() => summary.textContent(), { timeout: 20_000 }).toContain(SUMMARY.title);
    expect(await summary.textContent()).toContain(SUMMARY.decisions[0]);

    await tab("Meetings").click();
    const row = page.getByRole("table", { name: "Meetings" }).getByRole("row", { name: new RegExp(SUMMARY.title) });
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    await row.getByRole("button", { name: "Open" }).click();
    const detail = page.getByRole("region", { name: /^Meeting / });
    await expect.poll(() => detail.textContent()).toContain(SUMMARY.actions[0]);
    await expect.poll(() => detail.getByRole("list", { name: "Archived transcript" }).textContent()).toContain("We ship the beta next week");
    await tab("Playground").click();
  });

  it("shares the group's task list: add, assign and complete, seen by a second device", async () => {
    await page.getByRole("button", { name: "Add device" }).click();
    const [first, second] = [panels().nth(0), panels().nth(1)];
    await connect(second);
    await first.getByRole("button", { name: "Start working" }).click();
    await expect.poll(() => first.getByLabel("Current mode").textContent()).toBe("working");

    await first.getByLabel("Task title").fill("Write release notes");
    await first.getByRole("button", { name: "Add task" }).click();
    const task = (p: Locator) => p.getByRole("table", { name: "Tasks" }).getByRole("row", { name: /Write release notes/ });
    await expect.poll(() => task(first).count(), { timeout: 10_000 }).toBe(1);
    // The second device is in the same group (same id prefix) and online: the change reaches it.
    await expect.poll(() => task(second).count(), { timeout: 10_000 }).toBe(1);

    const secondId = await second.getByLabel("Device ID").inputValue();
    await task(second).getByRole("button", { name: "Claim" }).click();
    await expect.poll(() => task(first).textContent(), { timeout: 10_000 }).toContain(secondId);
    await task(first).getByRole("button", { name: "Complete" }).click();
    await expect.poll(() => task(second).textContent(), { timeout: 10_000 }).toContain("done");
    await expect.poll(() => task(first).getAttribute("class")).toBe("done");
  });

  it("sends a peer message that arrives in the second playground", async () => {
    const [first, second] = [panels().nth(0), panels().nth(1)];
    const secondId = await second.getByLabel("Device ID").inputValue();
    await first.getByLabel("To", { exact: true }).fill(secondId);
    await first.getByLabel("Peer message", { exact: true }).fill("Standup in five minutes");
    await first.getByRole("button", { name: "Send to peer" }).click();
    await expect.poll(() => second.getByRole("log", { name: "Peer messages" }).textContent(), { timeout: 10_000 }).toContain("Standup in five minutes");
    await expect.poll(() => first.getByRole("log", { name: "Peer messages" }).textContent()).toContain(`delivered: ${secondId}`);
  });

  it("acts on a device from the devices tab: profile, message, history, disconnect", async () => {
    const first = panels().nth(0);
    const id = await first.getByLabel("Device ID").inputValue();
    await tab("Devices").click();
    await page.getByLabel("Search").fill(id);
    const row = page.getByRole("table", { name: "Devices" }).locator(`tr[data-device-id="${id}"]`);
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("online");
    await row.getByRole("button", { name: "Open" }).click();
    const detail = page.getByRole("region", { name: `Device ${id}` });

    await detail.getByLabel("Alias").fill("Front desk");
    await detail.getByRole("button", { name: "Save profile" }).click();
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("Front desk");
    await expect.poll(() => detail.getByLabel("Chat history").textContent()).toContain(REPLY);

    await detail.getByLabel("Message", { exact: true }).fill("Please come to the lobby");
    await detail.getByRole("button", { name: "Send message" }).click();
    await expect.poll(() => detail.getByRole("status").first().textContent()).toContain("Message delivered");

    await detail.getByRole("button", { name: "Disconnect" }).click();
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("offline");
    await tab("Playground").click();
    expect(await first.getByRole("log", { name: "Peer messages" }).textContent()).toContain("Please come to the lobby");
    await expect.poll(() => first.getByRole("status", { name: "Connection status" }).textContent()).toContain("Disconnected (1000");
  });

  it("logged no console error or warning along the way", () => {
    expect(problems).toEqual([]);
  });
});
