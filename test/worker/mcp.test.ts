import { env, exports } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { boardTools, tinyJpeg } from "../../scripts/lib/device-mcp.ts";
import { issueVisionToken } from "../../src/auth/vision-token.ts";
import { api, BASE, connectDevice, eventually, fetchWorker, type Json, openSocket, SECRET, type TestSocket, tokenFor, uniqueId } from "./helpers.ts";
import { connectFirmware, fakeChat, mcpReady, mcpState } from "./mcp-device.ts";
import { llm, voice } from "./services.ts";

// Device tools over MCP (PROTOCOL §13) in workerd: the test plays the firmware's MCP server
// (scripts/lib/device-mcp.ts) on a real socket and the fake OpenAI-compatible server plays the LLM.

const stub = (id: string) => env.DEVICE.get(env.DEVICE.idFromName(id));

/** Runtime settings (PUT /api/config), in force at once in the device's object. */
async function setConfig(deviceId: string, values: Record<string, string | null>): Promise<void> {
  const res = await api("/config", { method: "PUT", body: JSON.stringify({ values }) });
  expect(res.status, await res.clone().text()).toBe(200);
  await runInDurableObject(stub(deviceId), (o) => o.config.refresh(Date.now(), true));
}

/** Structured info lines written during the test (log.ts writes info records with console.info). */
function infoLines(spy: { mock: { calls: unknown[][] } }): Json[] {
  return spy.mock.calls
    .map((c) => String(c[0]))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Json);
}

beforeEach(async () => {
  await llm.reset();
  await voice.tts({ msPerLatin: 10, msPerCjk: 40, minMs: 200 });
});
afterEach(() => vi.restoreAllMocks());

describe("setup", () => {
  it("initialize, then tools/list, after the hello and the §3 deliveries; numeric ids that only grow", async () => {
    const id = uniqueId();
    // A queued peer message and working mode: both are delivered before setup starts.
    // The first socket's setup done means its own after-hello work is over too.
    const first = await connectFirmware(id);
    await first.sock.request({ type: "mode", state: "start", mode: "working" });
    first.sock.close();
    await eventually(
      async () => ((await (await api(`/devices/${id}`)).json()) as Json).online,
      (online) => online === false,
    );
    const sent = await api(`/devices/${id}/messages`, { method: "POST", body: JSON.stringify({ payload: { text: "queued" } }) });
    expect(((await sent.json()) as Json).enqueued).toEqual([id]);

    const { sock, mcp } = await connectFirmware(id);
    const types = sock.received.map((m) => (m.type === "mcp" ? `mcp ${(m.payload as Json).method}` : String(m.type)));
    const firstMcp = types.indexOf("mcp initialize");
    expect(types.slice(0, 4), JSON.stringify(types)).toEqual(["hello", "peer", "workflow", "mcp initialize"]);
    expect(types[0]).toBe("hello");
    expect(types.indexOf("peer")).toBeGreaterThan(0);
    expect(types.indexOf("peer")).toBeLessThan(firstMcp);
    expect(types.indexOf("workflow")).toBeLessThan(firstMcp);
    expect(mcp.methods()).toEqual(["initialize", "tools/list"]);
    const [init, list] = mcp.requests as [Json, Json];
    expect(init).toEqual({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "supie-edge", version: expect.any(String) } },
    });
    expect(list).toEqual({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { cursor: "" } });
    expect(sock.received.find((m) => m.type === "mcp")?.session_id).toBe(sock.received[0]!.session_id);
    expect(await mcpState(id)).toMatchObject({ phase: "ready", next: 3 });
    sock.close();
  });

  it("no setup without features.mcp; the device's mcp frames are then only logged", async () => {
    const id = uniqueId();
    const sock = await openSocket(id);
    await sock.request({ type: "hello", version: 1 });
    sock.send({ type: "mcp", payload: { jsonrpc: "2.0", id: 1, result: {} } });
    await sock.request({ type: "keepalive" }, "pong");
    await new Promise((r) => setTimeout(r, 100));
    expect(sock.received.map((m) => m.type)).toEqual(["hello", "pong"]);
    expect(await mcpState(id)).toBeUndefined();
    sock.close();
  });

  it("reads two pages, the second from the first's nextCursor, one request at a time", async () => {
    const id = uniqueId();
    const { sock, mcp } = await connectFirmware(id, { extraTools: boardTools(40) });
    const lists = mcp.requests.filter((r) => r.method === "tools/list");
    expect(lists.length).toBeGreaterThanOrEqual(2);
    expect((lists[0]!.params as Json).cursor).toBe("");
    expect((lists[1]!.params as Json).cursor).toMatch(/^self\.led_strip\.set_segment_\d+$/);
    expect(mcp.requests.map((r) => r.id)).toEqual(mcp.requests.map((_, i) => i + 1));
    const state = await mcpState(id);
    expect(state).toMatchObject({ phase: "ready", pages: lists.length });
    const stored = await runInDurableObject(stub(id), (o) => (o.session.store.get({ key: "mcp.tools" }) as { tools: Json[] }).tools.map((t) => t.name));
    expect(stored).toHaveLength(44); // 4 built-in tools the LLM may use + 40 board tools; no user-only ones
    expect(stored).not.toContain("self.reboot");
    sock.close();
  });

  it("an error: no device tools on that socket, the session goes on", async () => {
    const id = uniqueId();
    const refuse = (p: Json) => (p.method === "initialize" ? `{"jsonrpc":"2.0","id":${p.id},"error":{"message":"busy"}}` : undefined);
    const { sock, mcp } = await connectFirmware(id, { intercept: refuse });
    expect(await mcpState(id)).toMatchObject({ phase: "failed" });
    expect(mcp.methods()).toEqual(["initialize"]);
    expect(await sock.request({ type: "keepalive" }, "pong")).toMatchObject({ type: "pong" });
    sock.close();
  });

  it("a repeated hello does not redo setup; a new socket does", async () => {
    const id = uniqueId();
    const a = await connectFirmware(id);
    await a.sock.request({ type: "hello", version: 1, features: { mcp: true } }, "hello");
    await a.sock.request({ type: "keepalive" }, "pong");
    expect(a.mcp.methods()).toEqual(["initialize", "tools/list"]);
    const b = await connectFirmware(id);
    expect(b.mcp.methods()).toEqual(["initialize", "tools/list"]);
    expect(b.mcp.requests[0]!.id).toBe(1);
    a.sock.close();
    b.sock.close();
  });
});

describe("hibernation", () => {
  it("setup survives the object being evicted mid-listing: ids go on rising, the listing starts over and completes", async () => {
    const id = uniqueId();
    let release: (() => void) | null = null;
    let held = false;
    const { sock, mcp } = await connectFirmware(id, {
      extraTools: boardTools(40),
      ready: false,
      intercept: (p) => {
        if (held || p.method !== "tools/list" || (p.params as Json).cursor === "") return undefined;
        held = true;
        return new Promise<undefined>((r) => (release = () => r(undefined)));
      },
    });
    await mcp.waitFor("tools/list", 2);
    expect(await mcpState(id)).toMatchObject({ phase: "list", pages: 2, wait: 3 });
    await evictDurableObject(stub(id));
    release!();
    const state = await mcpReady(id);
    expect(state).toMatchObject({ phase: "ready" });
    const ids = mcp.requests.map((r) => r.id as number);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    // The page answered after the wake could not be joined to the lost first one: listed again from "".
    const firstPages = mcp.requests.filter((r) => r.method === "tools/list").map((r) => (r.params as Json).cursor === "");
    expect(firstPages.slice(0, 3)).toEqual([true, false, true]);
    expect(firstPages.slice(3).every((first) => !first)).toBe(true);
    const stored = await runInDurableObject(stub(id), (o) => (o.session.store.get({ key: "mcp.tools" }) as { tools: Json[] }).tools.length);
    expect(stored).toBe(44);
    sock.close();
  });
});

describe("frames from the device", () => {
  it("unknown ids, requests, notifications, malformed and oversized frames: logged, never answered", async () => {
    const id = uniqueId();
    const { sock } = await connectFirmware(id);
    const spy = vi.spyOn(console, "info");
    const before = sock.received.length;
    sock.send({ type: "mcp", payload: { jsonrpc: "2.0", id: 999, result: {} } });
    sock.send({ type: "mcp", payload: { jsonrpc: "2.0", method: "notifications/tools/list_changed" } });
    sock.send({ type: "mcp", payload: { jsonrpc: "2.0", id: 5, method: "ping" } });
    sock.send({ type: "mcp", payload: "nonsense" });
    sock.send('{"session_id":"x","type":"mcp","payload":{"jsonrpc":"2.0","id":7,"error":{"message":"Unknown tool: a"b"}}}');
    sock.send(`{"type":"mcp","payload":{"jsonrpc":"2.0","id":8,"result":{"content":[{"type":"text","text":"${"x".repeat(200 * 1024)}"}]}}}`);
    sock.send(`{"type":"mcp","payload":{"jsonrpc":"2.0","id":9,"result":{"content":[{"type":"text","text":"${"x".repeat(1100 * 1024)}"}]}}}`);
    sock.send(`{"type":"mcp","payload":${'{"a":'.repeat(40)}1${"}".repeat(40)}}`);
    await sock.request({ type: "keepalive" }, "pong");
    expect(sock.received.slice(before).map((m) => m.type)).toEqual(["pong"]);
    // Setup is untouched by the noise, and each frame left one line.
    expect(await mcpState(id)).toMatchObject({ phase: "ready" });
    expect(infoLines(spy).filter((l) => l.event === "mcp.ignored" && l.deviceId === id)).toHaveLength(8);
    // Other types keep the 64 KiB limit.
    // Sniffed as mcp near the start, but of another type.
    const big = await sock.request({ type: "peer", x: { type: "mcp" }, to: ["x"], payload: { pad: "y".repeat(70 * 1024) } }, "error");
    expect(big.code).toBe("MESSAGE_TOO_LARGE");
    sock.close();
  });
});

const isStop = (m: Json) => m.type === "tts" && m.state === "stop";

/** A typed utterance (the test page's way) and everything until the reply's `tts stop`. */
async function ask(sock: TestSocket, text: string): Promise<Json[]> {
  const from = sock.received.length;
  sock.send({ type: "listen", state: "detect", text });
  await sock.next(isStop, 15_000);
  return sock.received.slice(from);
}

/** "tts start" etc.; `mcp` frames as "mcp <method>". */
const kinds = (msgs: Json[]) =>
  msgs.map((m) => (m.type === "tts" ? `tts ${m.state}` : m.type === "mcp" ? `mcp ${(m.payload as Json).method}` : String(m.type)));

async function chats(): Promise<Json[]> {
  return (await voice.records()).chats;
}

async function history(id: string): Promise<Json[]> {
  return ((await (await api(`/devices/${encodeURIComponent(id)}/history`)).json()) as Json).items;
}

const calls = (mcp: { requests: Json[] }) => mcp.requests.filter((r) => r.method === "tools/call");

describe("tools in a chat turn", () => {
  it('"set the volume to 50": status, then set_volume, then a spoken answer; one tts start…stop; history holds what was spoken', async () => {
    const spy = vi.spyOn(console, "info");
    const id = uniqueId();
    const { sock, hello, mcp } = await connectFirmware(id);
    await fakeChat.script([
      { text: "Let me check.", tool_calls: [{ name: "self_get_device_status", arguments: {} }] },
      { tool_calls: [{ name: "self_audio_speaker_set_volume", arguments: { volume: 50 } }] },
      "Done, the volume is now 50.",
    ]);
    const got = await ask(sock, "set the volume to 50");
    const k = kinds(got);
    expect(k.filter((x) => x !== "mcp tools/call")).toEqual(["stt", "tts start", "llm", "tts sentence_start", "tts sentence_start", "tts stop"]);
    expect(k.indexOf("mcp tools/call")).toBeGreaterThan(k.indexOf("tts start"));
    expect(k.lastIndexOf("mcp tools/call")).toBeLessThan(k.indexOf("tts stop"));
    expect(got.filter((m) => m.state === "sentence_start").map((m) => m.text)).toEqual(["Let me check.", "Done, the volume is now 50."]);
    // The device got both calls, in order, with the next ids and the original names.
    expect(calls(mcp)).toEqual([
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "self.get_device_status", arguments: {} } },
      { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "self.audio_speaker.set_volume", arguments: { volume: 50 } } },
    ]);
    expect(got.filter((m) => m.type === "mcp").every((m) => m.session_id === hello.session_id)).toBe(true);
    expect(mcp.server.state.volume).toBe(50);
    // The LLM saw mapped names, the status text as a tool result, and auto tool choice.
    const [r1, r2, r3] = (await chats()).slice(-3) as [Json, Json, Json];
    const offered = (r1.tools as Json[]).map((t) => (t.function as Json).name);
    expect(offered).toEqual(
      expect.arrayContaining(["self_get_device_status", "self_audio_speaker_set_volume", "self_screen_set_brightness", "self_screen_set_theme"]),
    );
    expect(offered).not.toContain("self_reboot");
    expect(r1.toolChoice).toBe("auto");
    const toolMsg = (r2.messages as Json[]).at(-1)!;
    expect(toolMsg).toMatchObject({ role: "tool", tool_call_id: expect.any(String) });
    expect(JSON.parse(String(toolMsg.content))).toMatchObject({ audio_speaker: { volume: 70 } });
    expect((r2.messages as Json[]).at(-2)).toMatchObject({
      role: "assistant",
      content: "Let me check.",
      tool_calls: [{ function: { name: "self_get_device_status" } }],
    });
    expect((r3.messages as Json[]).at(-1)).toMatchObject({ role: "tool", content: "true" });
    expect(String((r1.messages as Json[])[0]!.content)).toMatch(/Local time now: \w+ \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(UTC\+08:00\)/);
    // History: the user's words and what was spoken, no tool traffic.
    expect((await history(id)).map((m) => [m.role, m.text])).toEqual([
      ["user", "set the volume to 50"],
      ["assistant", "Let me check. Done, the volume is now 50."],
    ]);
    // voice.turn counts the tool work; each call has its voice.tool line.
    const lines = await eventually(
      async () => infoLines(spy),
      (ls) => ls.some((l) => l.event === "voice.turn" && l.deviceId === id),
    );
    expect(lines.find((l) => l.event === "voice.turn" && l.deviceId === id)).toMatchObject({
      toolRounds: 2,
      toolCalls: 2,
      toolErrors: 0,
      toolMs: expect.any(Number),
    });
    expect(lines.filter((l) => l.event === "voice.tool" && l.deviceId === id).map((l) => [l.name, l.kind, l.ok, l.code])).toEqual([
      ["self.get_device_status", "device", true, null],
      ["self.audio_speaker.set_volume", "device", true, null],
    ]);
    sock.close();
  });

  it("numeric strings are coerced; bad arguments, user-only and unknown names are refused before anything is sent", async () => {
    const { sock, mcp } = await connectFirmware(uniqueId());
    await fakeChat.script([
      {
        tool_calls: [
          { name: "self_audio_speaker_set_volume", arguments: { volume: "30" } },
          { name: "self_screen_set_brightness", arguments: { brightness: 150 } },
          { name: "self_audio_speaker_set_volume", arguments: "{not json" },
          { name: "self_reboot", arguments: {} },
          { name: "self.reboot", arguments: {} },
        ],
      },
      "Volume set to 30.",
    ]);
    await ask(sock, "volume 30 and brightness 150 and reboot");
    expect(calls(mcp).map((c) => c.params)).toEqual([{ name: "self.audio_speaker.set_volume", arguments: { volume: 30 } }]);
    const results = ((await chats()).at(-1)!.messages as Json[]).filter((m) => m.role === "tool").map((m) => m.content);
    expect(results[0]).toBe("true");
    expect(JSON.parse(String(results[1]))).toEqual({ error: "bad arguments: brightness must be an integer between 0 and 100" });
    expect(JSON.parse(String(results[2]))).toEqual({ error: "bad arguments: arguments are not valid JSON" });
    expect(JSON.parse(String(results[3]))).toEqual({ error: 'no tool named "self_reboot" is offered' });
    expect(JSON.parse(String(results[4]))).toEqual({ error: 'no tool named "self.reboot" is offered' });
    sock.close();
  });

  it("maps names both ways, distinct where two map to the same one", async () => {
    const tool = (name: string) => ({ name, description: `the ${name} tool`, call: () => name });
    const { sock, mcp } = await connectFirmware(uniqueId(), { extraTools: [tool("self.lamp.on"), tool("self_lamp_on"), tool(`self.${"x".repeat(80)}`)] });
    await fakeChat.script([
      {
        tool_calls: [
          { name: "self_lamp_on_2", arguments: {} },
          { name: "self_lamp_on", arguments: {} },
        ],
      },
      "Both done.",
    ]);
    await ask(sock, "lamps on");
    const offered = ((await chats()).at(-2)!.tools as Json[]).map((t) => (t.function as Json).name as string);
    expect(offered).toEqual(expect.arrayContaining(["self_lamp_on", "self_lamp_on_2"]));
    expect(offered.every((n) => /^[A-Za-z0-9_-]{1,64}$/.test(n))).toBe(true);
    expect(calls(mcp).map((c) => (c.params as Json).name)).toEqual(["self_lamp_on", "self.lamp.on"]);
    sock.close();
  });

  it("an error without code, isError, and a 200 KiB result: the LLM reads them, nothing goes wrong on the socket", async () => {
    const big = "y".repeat(200 * 1024);
    const { sock, mcp } = await connectFirmware(uniqueId(), {
      intercept: (p) => {
        const name = (p.params as Json | undefined)?.name;
        if (name === "self.screen.set_theme") return `{"jsonrpc":"2.0","id":${p.id},"error":{"message":"Invalid "theme""}}`;
        if (name === "self.screen.set_brightness") return `{"jsonrpc":"2.0","id":${p.id},"error":{"message":"backlight is off"}}`;
        if (name === "self.audio_speaker.set_volume")
          return JSON.stringify({ jsonrpc: "2.0", id: p.id, result: { content: [{ type: "text", text: "speaker muted" }], isError: true } });
        if (name === "self.get_device_status")
          return JSON.stringify({ jsonrpc: "2.0", id: p.id, result: { content: [{ type: "text", text: big }], isError: false } });
        return undefined;
      },
    });
    await fakeChat.script([
      {
        tool_calls: [
          { name: "self_screen_set_brightness", arguments: { brightness: 10 } },
          { name: "self_audio_speaker_set_volume", arguments: { volume: 10 } },
          { name: "self_get_device_status", arguments: {} },
          { name: "self_screen_set_theme", arguments: { theme: "dark" } },
        ],
      },
      "Some of that failed.",
    ]);
    const got = await ask(sock, "dim everything");
    expect(got.filter((m) => m.type === "error")).toEqual([]);
    expect(calls(mcp)).toHaveLength(4);
    const results = ((await chats()).at(-1)!.messages as Json[]).filter((m) => m.role === "tool").map((m) => String(m.content));
    expect(JSON.parse(results[0]!)).toEqual({ error: "backlight is off" });
    expect(JSON.parse(results[1]!)).toEqual({ error: "speaker muted" });
    expect(results[2]!.length).toBeLessThan(4100);
    expect(results[2]!.startsWith("yyyy")).toBe(true);
    // The unescaped message is not JSON: the call still fails at once, with what could be read.
    expect(JSON.parse(results[3]!).error).toMatch(/unreadable answer/);
    sock.close();
  });

  it("a timeout: the LLM hears so and the late answer is dropped", async () => {
    const id = uniqueId();
    await setConfig(id, { MCP_TOOL_TIMEOUT_MS: "500" });
    try {
      let late: (() => void) | null = null;
      const { sock, mcp } = await connectFirmware(id, {
        intercept: (p) => {
          if (p.method !== "tools/call") return undefined;
          late = () => mcp.sendPayload(JSON.stringify({ jsonrpc: "2.0", id: p.id, result: { content: [{ type: "text", text: "true" }], isError: false } }));
          return null;
        },
      });
      await fakeChat.script([{ tool_calls: [{ name: "self_audio_speaker_set_volume", arguments: { volume: 5 } }] }, "The device did not answer."]);
      const got = await ask(sock, "quiet please");
      expect(got.filter((m) => m.state === "sentence_start").map((m) => m.text)).toEqual(["The device did not answer."]);
      const result = ((await chats()).at(-1)!.messages as Json[]).at(-1)!;
      expect(JSON.parse(String(result.content))).toEqual({ error: "the device did not answer within 1 s" });
      // The late answer: taken by nobody, answered with nothing, and the device's volume was set only on its side.
      const from = sock.received.length;
      late!();
      await sock.request({ type: "keepalive" }, "pong");
      expect(kinds(sock.received.slice(from))).toEqual(["pong"]);
      sock.close();
    } finally {
      await setConfig(id, { MCP_TOOL_TIMEOUT_MS: null });
    }
  });

  it("abort during a tool wait ends the turn at once; the late reply changes nothing", async () => {
    const id = uniqueId();
    let release: (() => void) | null = null;
    const { sock, mcp } = await connectFirmware(id, {
      intercept: (p) => (p.method === "tools/call" ? new Promise<undefined>((r) => (release = () => r(undefined))) : undefined),
    });
    await fakeChat.script([{ text: "One moment.", tool_calls: [{ name: "self_audio_speaker_set_volume", arguments: { volume: 90 } }] }, "Louder now."]);
    const before = (await chats()).length;
    sock.send({ type: "listen", state: "detect", text: "louder" });
    await mcp.waitFor("tools/call");
    const from = sock.received.length;
    sock.send({ type: "abort" });
    await sock.next(isStop, 5000);
    release!();
    await new Promise((r) => setTimeout(r, 300));
    await sock.request({ type: "keepalive" }, "pong");
    const after = sock.received.slice(from);
    expect(kinds(after.slice(after.findIndex(isStop) + 1))).toEqual(["pong"]);
    expect((await chats()).length - before).toBe(1);
    // Only what was played is kept.
    const last = (await history(id)).at(-1);
    expect(last?.role === "user" || last?.text === "One moment.").toBe(true);
    sock.close();
  });

  it("the socket closing during a call ends the turn quietly", async () => {
    const id = uniqueId();
    const { sock, mcp } = await connectFirmware(id, { intercept: (p) => (p.method === "tools/call" ? null : undefined) });
    await fakeChat.script([{ tool_calls: [{ name: "self_get_device_status", arguments: {} }] }, "never said"]);
    const before = (await chats()).length;
    sock.send({ type: "listen", state: "detect", text: "status?" });
    await mcp.waitFor("tools/call");
    sock.close();
    const busy = await eventually(
      () => runInDurableObject(stub(id), (o) => o.session.turns.busy),
      (b) => b === false,
    );
    expect(busy).toBe(false);
    expect((await chats()).length - before).toBe(1);
    expect(((await (await api(`/devices/${id}`)).json()) as Json).online).toBe(false);
  });

  it("at most CHAT_MAX_TOOL_ROUNDS rounds with tools, then one with tool_choice none", async () => {
    const { sock, mcp } = await connectFirmware(uniqueId());
    const status = { tool_calls: [{ name: "self_get_device_status", arguments: {} }] };
    await fakeChat.script([status, status, status, status, status]);
    const before = (await chats()).length;
    const got = await ask(sock, "keep checking");
    const mine = (await chats()).slice(before);
    expect(mine.map((c) => c.toolChoice)).toEqual(["auto", "auto", "auto", "none"]);
    expect(calls(mcp)).toHaveLength(3);
    // The last round had no tools to call: it answers (here, the fake's note that tool calls were suppressed).
    expect(got.filter((m) => m.state === "sentence_start").length).toBeGreaterThan(0);
    sock.close();
  });

  it("a provider answering 400 to tools is asked once more without them", async () => {
    const { sock, mcp } = await connectFirmware(uniqueId());
    await fakeChat.options({ refuseTools: true });
    await fakeChat.script(["No tools here, but hello."]);
    const before = (await chats()).length;
    const got = await ask(sock, "set the volume to 50");
    const mine = (await chats()).slice(before);
    expect(mine.map((c) => [c.outcome, c.tools === null])).toEqual([
      ["refused", false],
      ["text", true],
    ]);
    expect(got.filter((m) => m.state === "sentence_start").map((m) => m.text)).toEqual(["No tools here, but hello."]);
    expect(calls(mcp)).toEqual([]);
    expect(got.filter((m) => m.type === "alert")).toEqual([]);
    sock.close();
  });
});

describe("server tools", () => {
  const toolResults = async () =>
    ((await chats()).at(-1)!.messages as Json[]).filter((m) => m.role === "tool").map((m) => JSON.parse(String(m.content)) as Json);

  it("are offered without MCP too: the four of CHAT_SERVER_TOOLS, with the time in the prompt", async () => {
    const sock = await openSocket(uniqueId());
    await sock.request({ type: "hello", version: 1 });
    await llm.answer("Hi.");
    await ask(sock, "hello");
    const req = (await chats()).at(-1)!;
    expect((req.tools as Json[]).map((t) => (t.function as Json).name)).toEqual(["end_conversation", "send_message", "list_group_members", "add_task"]);
    expect(String((req.messages as Json[])[0]!.content)).toContain("Local time now:");
    sock.close();
  });

  it("end_conversation speaks the goodbye and closes with 1000 after tts stop, with no further LLM round", async () => {
    const { sock } = await connectDevice(uniqueId());
    await fakeChat.script([{ tool_calls: [{ name: "end_conversation", arguments: { say_goodbye: "Goodbye, talk soon!" } }] }, "never said"]);
    const before = (await chats()).length;
    const got = await ask(sock, "that's all, bye");
    expect(got.filter((m) => m.state === "sentence_start").map((m) => m.text)).toEqual(["Goodbye, talk soon!"]);
    expect(await sock.closed()).toMatchObject({ code: 1000 });
    expect(kinds(sock.received).at(-1)).toBe("tts stop");
    expect((await chats()).length - before).toBe(1);
  });

  it("send_message: to an online member by id (delivered), to an offline one by alias (queued in its inbox)", async () => {
    const a = await connectDevice(uniqueId());
    const bId = uniqueId();
    const b = await connectDevice(bId);
    await fakeChat.script([
      {
        tool_calls: [
          { name: "send_message", arguments: { to: bId.toUpperCase(), text: "standup in five" } },
          { name: "send_message", arguments: { to: "alice", text: "lunch at noon" } },
          { name: "send_message", arguments: { to: "Zed", text: "hi" } },
        ],
      },
      "Sent to both.",
    ]);
    await ask(a.sock, "tell them");
    const got = await b.sock.next((m) => m.type === "peer");
    expect(got).toMatchObject({ event: "message", from: a.hello.device_id, category: "chat", payload: { text: "standup in five", via: "voice" } });
    const [r1, r2, r3] = await toolResults();
    expect(r1).toEqual({ status: "delivered", to: bId });
    expect(r2).toMatchObject({ status: "queued", to: "Alice" });
    expect(r3!.error).toMatch(/no member of this group is called "Zed"/);
    const alice = (await (await api("/devices/aa:bb:cc:00:00:aa")).json()) as Json;
    expect(alice.inbox).toBe(1);
    const inbox = await connectDevice("aa:bb:cc:00:00:aa");
    expect(await inbox.sock.next((m) => m.type === "peer")).toMatchObject({ payload: { text: "lunch at noon", via: "voice" }, redelivery: true });
    for (const s of [a.sock, b.sock, inbox.sock]) s.close();
  });

  it("send_message: an alias that fits several members is an error naming them", async () => {
    const id = uniqueId();
    await setConfig(id, { DEVICE_ALIASES: JSON.stringify({ "aa:bb:cc:00:00:b1": "Bob Lee", "aa:bb:cc:00:00:b2": "Bob Ray" }) });
    try {
      const { sock } = await connectDevice(id);
      await fakeChat.script([{ tool_calls: [{ name: "send_message", arguments: { to: "bob", text: "hi" } }] }, "Which Bob?"]);
      await ask(sock, "message bob");
      const [r] = await toolResults();
      expect(r!.error).toBe('"bob" fits 2 members: Bob Lee (aa:bb:cc:00:00:b1), Bob Ray (aa:bb:cc:00:00:b2); ask which one');
      sock.close();
    } finally {
      await setConfig(id, { DEVICE_ALIASES: null });
    }
  });

  it("list_group_members and add_task: the group's members, and a task the group's online members see (§7 update)", async () => {
    const aId = uniqueId();
    const bId = uniqueId();
    const a = await connectDevice(aId);
    const b = await connectDevice(bId);
    await fakeChat.script([
      { tool_calls: [{ name: "list_group_members", arguments: {} }] },
      { tool_calls: [{ name: "add_task", arguments: { title: "Fix the door", priority: "2", owner: bId } }] },
      "Added.",
    ]);
    await ask(a.sock, "who is around, and add a task for them to fix the door");
    const results = await toolResults();
    const members = (results[0]!.members as Json[]).map((m) => [m.id, m.online]);
    expect(members).toEqual(
      expect.arrayContaining([
        [aId, true],
        [bId, true],
      ]),
    );
    expect(results[1]).toMatchObject({ added: true, id: expect.stringMatching(/^t-/), title: "Fix the door", owner: bId, group: "aa:bb:cc" });
    const update = await b.sock.next((m) => m.type === "workflow" && m.event === "update" && (m.tasks as Json[]).some((t) => t.title === "Fix the door"));
    expect((update.tasks as Json[]).find((t) => t.title === "Fix the door")).toMatchObject({ priority: 2, owner: bId, status: "open" });
    expect(a.sock.received.some((m) => m.type === "workflow" && m.event === "update")).toBe(true);
    a.sock.close();
    b.sock.close();
  });
});

describe("operator API", () => {
  it("GET /api/devices/:id/tools lists every tool, user-only ones marked; offline is 409", async () => {
    const id = uniqueId();
    const { sock } = await connectFirmware(id);
    const res = await api(`/devices/${id}/tools`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    const items = body.items as Json[];
    expect(items.find((t) => t.name === "self.reboot")).toMatchObject({ userOnly: true });
    expect(items.find((t) => t.name === "self.audio_speaker.set_volume")).toEqual({
      name: "self.audio_speaker.set_volume",
      description: expect.any(String),
      inputSchema: { type: "object", properties: { volume: { type: "integer", minimum: 0, maximum: 100 } }, required: ["volume"] },
    });
    sock.close();
    const offline = await api(`/devices/${uniqueId()}/tools`);
    expect(offline.status).toBe(409);
    expect(((await offline.json()) as Json).error).toMatchObject({ code: "DEVICE_OFFLINE" });
  });

  it("POST /api/devices/:id/tools/call runs a listed tool with checked arguments; unknown 404, bad 400, no answer 504", async () => {
    const id = uniqueId();
    let silent = false;
    const { sock, mcp } = await connectFirmware(id, { intercept: (p) => (silent && p.method === "tools/call" ? null : undefined) });
    const call = (body: unknown) => api(`/devices/${id}/tools/call`, { method: "POST", body: JSON.stringify(body) });
    const ok = await call({ name: "self.audio_speaker.set_volume", arguments: { volume: "20" } });
    expect(await ok.json()).toEqual({ deviceId: id, name: "self.audio_speaker.set_volume", isError: false, text: "true" });
    expect(mcp.server.state.volume).toBe(20);
    const reboot = await call({ name: "self.reboot" });
    expect(reboot.status).toBe(200);
    expect((await call({ name: "self.nope" })).status).toBe(404);
    const bad = await call({ name: "self.audio_speaker.set_volume", arguments: { volume: 300 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error).toEqual({ code: "SCHEMA_INVALID", message: "volume must be an integer between 0 and 100" });
    expect((await call({ arguments: {} })).status).toBe(400);
    await setConfig(id, { MCP_TOOL_TIMEOUT_MS: "500" });
    try {
      silent = true;
      const slow = await call({ name: "self.get_device_status" });
      expect(slow.status).toBe(504);
      expect(((await slow.json()) as Json).error).toMatchObject({ code: "TOOL_TIMEOUT" });
    } finally {
      await setConfig(id, { MCP_TOOL_TIMEOUT_MS: null });
    }
    sock.close();
  });
});

/** A multipart body as the firmware streams it: no Content-Length, chunks as they come. */
function chunkedMultipart(parts: Array<{ name: string; filename?: string; type?: string; data: Uint8Array | string }>): { body: ReadableStream; type: string } {
  const boundary = "----ESP32_CAMERA_BOUNDARY";
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ""}`;
    chunks.push(enc.encode(`--${boundary}\r\nContent-Disposition: ${disp}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ""}\r\n`));
    chunks.push(typeof p.data === "string" ? enc.encode(p.data) : p.data);
    chunks.push(enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const body = new ReadableStream({
    pull(ctrl) {
      const next = chunks.shift();
      if (next) ctrl.enqueue(next);
      else ctrl.close();
    },
  });
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

describe("vision", () => {
  const URL_PATH = "/supie/vision/explain";
  const post = (deviceId: string, token: string | null, body: BodyInit | ReadableStream, type: string | null, extra: Record<string, string> = {}) =>
    exports.default.fetch(
      new Request(new URL(URL_PATH, BASE), {
        method: "POST",
        headers: { "device-id": deviceId, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(type ? { "content-type": type } : {}), ...extra },
        body: body as BodyInit,
        // @ts-expect-error: workerd needs it for a streamed body
        duplex: "half",
      }),
    );
  const form = (fields: Record<string, string | Blob>) => {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v === "string") f.append(k, v);
      else f.append(k, v, "photo.jpg");
    }
    return f;
  };
  const jpeg = () => new Blob([tinyJpeg()], { type: "image/jpeg" });
  let id = "";
  let token = "";

  beforeEach(async () => {
    id = uniqueId();
    token = await issueVisionToken(SECRET, id, 600);
    await setConfig(id, { VISION_MODEL: "fake-vision" });
  });
  afterEach(async () => {
    await setConfig(id, { VISION_MODEL: null });
  });

  it("the camera tool end to end: initialize carries the URL and token, the device posts its photo, the answer reaches the LLM", async () => {
    await fakeChat.vision("A red mug on a desk.");
    const { sock, mcp } = await connectFirmware(id, { camera: true, fetch: (input, init) => exports.default.fetch(new Request(input as string, init)) });
    const init = mcp.requests[0]!.params as Json;
    expect((init.capabilities as Json).vision).toEqual({ url: `${BASE}${URL_PATH}`, token: expect.any(String) });
    await fakeChat.script([{ tool_calls: [{ name: "self_camera_take_photo", arguments: { question: "what is on my desk?" } }] }, "A red mug."]);
    await ask(sock, "what do you see?");
    const result = ((await chats()).at(-1)!.messages as Json[]).at(-1)!;
    expect(JSON.parse(String(result.content))).toEqual({ success: true, action: "RESPONSE", response: "A red mug on a desk." });
    const visionReq = (await chats()).find((c) => (c.images as Json[]).length > 0)!;
    expect(visionReq.model).toBe("fake-vision");
    expect((visionReq.images as Json[])[0]).toMatchObject({ mime: "image/jpeg", sniffed: "jpeg", bytes: tinyJpeg().length });
    sock.close();
  });

  it("without VISION_MODEL the camera tool is not offered and initialize has no vision", async () => {
    await setConfig(id, { VISION_MODEL: null });
    const { sock, mcp } = await connectFirmware(id, { camera: true });
    expect((mcp.requests[0]!.params as Json).capabilities).toEqual({});
    await llm.answer("ok");
    await ask(sock, "look");
    const offered = ((await chats()).at(-1)!.tools as Json[]).map((t) => (t.function as Json).name);
    expect(offered).not.toContain("self_camera_take_photo");
    sock.close();
  });

  it("the firmware's chunked multipart (`file`) and the test page's (`image`, after a CORS preflight)", async () => {
    await fakeChat.vision(["It is a mug.", "Still a mug."]);
    const fw = chunkedMultipart([
      { name: "question", data: "what is this?" },
      { name: "file", filename: "camera.jpg", type: "image/jpeg", data: tinyJpeg() },
    ]);
    const r1 = await post(id.toUpperCase(), token, fw.body, fw.type, { "transfer-encoding": "chunked", "client-id": "c-1" });
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({ success: true, action: "RESPONSE", response: "It is a mug." });

    const pre = await fetchWorker(URL_PATH, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:8006",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,device-id,client-id",
      },
    });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    const r2 = await post(id, token, form({ question: "and now?", image: jpeg() }), null, { origin: "http://localhost:8006" });
    expect(r2.headers.get("access-control-allow-origin")).toBe("*");
    expect(await r2.json()).toEqual({ success: true, action: "RESPONSE", response: "Still a mug." });
    expect((await fetchWorker(URL_PATH)).status).toBe(200);
  });

  it("refuses what is not a vision upload: tokens (401), size (413), format (415), form (400); a model failure is a 200 that says why", async () => {
    const good = () => form({ question: "q", file: jpeg() });
    const status = async (r: Response) => [r.status, ((await r.json()) as Json).error?.code ?? ((await r.clone().json()) as Json).success];
    expect(await status(await post(id, null, good(), null))).toEqual([401, "UNAUTHORIZED"]);
    expect(await status(await post(id, await tokenFor(id), good(), null))).toEqual([401, "UNAUTHORIZED"]);
    expect(await status(await post(uniqueId(), token, good(), null))).toEqual([401, "UNAUTHORIZED"]);
    expect(await status(await post(id, `${token}x`, good(), null))).toEqual([401, "UNAUTHORIZED"]);
    const huge = new Uint8Array(3 * 1024 * 1024);
    huge.set(tinyJpeg());
    expect(await status(await post(id, token, form({ question: "q", file: new Blob([huge]) }), null))).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const big = chunkedMultipart([{ name: "file", filename: "camera.jpg", data: huge }]);
    expect(await status(await post(id, token, big.body, big.type, { "transfer-encoding": "chunked" }))).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    expect(await status(await post(id, token, form({ question: "q", file: new Blob(["GIF89a not really"]) }), null))).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    expect(await status(await post(id, token, form({ question: "q" }), null))).toEqual([400, "INVALID_REQUEST"]);
    expect(await status(await post(id, token, "{}", "application/json"))).toEqual([400, "INVALID_REQUEST"]);
    await voice.fail("llm", { times: 1 });
    const failing = await post(id, token, good(), null);
    expect(failing.status).toBe(200);
    const body = (await failing.json()) as Json;
    expect(body.success).toBe(false);
    expect(body.message).toMatch(/^vision HTTP 500/);
  });
});
