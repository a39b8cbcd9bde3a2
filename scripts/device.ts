import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { formatInsight, planReplay, replay } from "./lib/coding-replay.ts";
import { DeviceClient } from "./lib/device-client.ts";
import { boardTools } from "./lib/device-mcp.ts";
import { linkMcp } from "./lib/device-mcp-link.ts";
import { TALK_MODES, type TalkMode } from "./lib/device-talk.ts";
import { DeviceVoice } from "./lib/device-voice.ts";
import { parseSimCommand, SIM_HELP, simHello } from "./lib/sim-commands.ts";

// Interactive device simulator: OTA check, WebSocket with the firmware's headers, firmware hello,
// then commands from stdin (see `help`). Every frame that arrives is printed as one `< ...` line.
//   npm run device -- --url http://127.0.0.1:8787 --id aa:bb:cc:dd:ee:ff [--client <uuid>] [--alias] [--protocol 1|2|3] [--query]
//   npm run device -- --coding-log build.log [--coding-batch 10] [--coding-pace 100]
// With --coding-log the simulator replays the file in coding mode (scripts/lib/coding-replay.ts),
// prints each insight and the summary, and exits.
//   npm run device -- --say speech.ogg [--mode auto|manual] [--fast] [--save-dir DIR | --save reply.wav] [--timeout MS]
// With --say the simulator speaks the file (WAV or Ogg Opus) as a device would, waits for the
// reply, prints its messages and a summary, saves its audio when asked, and exits (0: a reply came).

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8787" },
    id: { type: "string", default: "aa:bb:cc:dd:ee:ff" },
    client: { type: "string" },
    alias: { type: "boolean", default: false },
    protocol: { type: "string", default: "1" },
    query: { type: "boolean", default: false },
    "coding-log": { type: "string" },
    "coding-batch": { type: "string", default: "10" },
    "coding-pace": { type: "string", default: "100" },
    say: { type: "string" },
    mode: { type: "string", default: "auto" },
    fast: { type: "boolean", default: false },
    "save-dir": { type: "string" },
    save: { type: "string" },
    timeout: { type: "string", default: "60000" },
    camera: { type: "boolean", default: false },
    photo: { type: "string" },
    "board-tools": { type: "string", default: "0" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: npm run device -- --url http://127.0.0.1:8787 --id aa:bb:cc:dd:ee:ff [--client <uuid>] [--alias] [--protocol 1|2|3] [--query]\n" +
      "  --alias     use the /xiaozhi/ paths instead of /supie/\n  --query     identity and token in the URL query, like the browser test page\n" +
      "  --coding-log FILE   replay FILE in coding mode, print the insights and the summary, exit\n" +
      "                      (lines `::step <name> <status>` and `::phase <name>` become step and phase events)\n" +
      "  --coding-batch N    log lines per message (default 10)\n  --coding-pace MS    pause between messages (default 100)\n" +
      "  --say FILE          speak FILE (WAV, 16-bit PCM at any rate, or Ogg Opus) as the microphone would,\n" +
      "                      print the reply and its summary, exit (0 once a reply ended without an alert)\n" +
      "  --mode auto|manual  with --say: auto streams silence until the server's stt, manual sends listen stop (default auto)\n" +
      "  --camera            the device's MCP server has the camera tool (take_photo posts a JPEG to the vision URL)\n" +
      "  --photo FILE.jpg    the photo take_photo sends (default: a tiny test JPEG)\n" +
      "  --board-tools N     N more board tools (LED strip segments), to make tools/list page\n" +
      "  --fast              send the audio at once instead of one packet per 60 ms\n" +
      "  --save-dir DIR      save every reply as a WAV at the hello's sample rate (also interactively)\n" +
      "  --save FILE.wav     save the next reply there\n  --timeout MS        with --say: how long to wait for the reply (default 60000)\n\n" +
      SIM_HELP,
  );
  process.exit(0);
}
const protocol = Number(values.protocol);
if (protocol !== 1 && protocol !== 2 && protocol !== 3) {
  console.error(`--protocol must be 1, 2 or 3 (got ${values.protocol})`);
  process.exit(2);
}
const codingBatch = Number(values["coding-batch"]);
const codingPace = Number(values["coding-pace"]);
if (!Number.isInteger(codingBatch) || codingBatch < 1 || !Number.isFinite(codingPace) || codingPace < 0) {
  console.error(`--coding-batch must be a positive integer and --coding-pace a number of ms (got ${values["coding-batch"]}, ${values["coding-pace"]})`);
  process.exit(2);
}
const talkMode = values.mode as TalkMode;
const timeoutMs = Number(values.timeout);
if (!TALK_MODES.includes(talkMode) || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
  console.error(`--mode must be ${TALK_MODES.join(" or ")} and --timeout a number of ms (got ${values.mode}, ${values.timeout})`);
  process.exit(2);
}
let codingLog: string | undefined;
if (values["coding-log"] !== undefined) {
  try {
    codingLog = readFileSync(values["coding-log"], "utf8");
  } catch (err) {
    console.error(`! cannot read ${values["coding-log"]}: ${(err as Error).message}`);
    process.exit(2);
  }
}

let client: DeviceClient;
try {
  client = await DeviceClient.connect({
    baseUrl: values.url,
    deviceId: values.id,
    ...(values.client ? { clientId: values.client } : {}),
    alias: values.alias,
    protocolVersion: protocol,
    identity: values.query ? "query" : "headers",
    hello: simHello(protocol),
  });
} catch (err) {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  console.error(`! connect failed: ${e.message}${e.cause ? ` (${e.cause.code ?? e.cause.message})` : ""}`);
  process.exit(1);
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const shown = new URL(client.ws.url);
if (shown.searchParams.has("authorization")) shown.searchParams.set("authorization", "Bearer …"); // keep tokens off the screen
say(`* connected to ${shown} as ${client.deviceId}`);
say(`< ${JSON.stringify(client.hello)}`);
// The firmware's MCP server (PROTOCOL §13): answers the server's initialize, tools/list and tools/call.
const photo = values.photo;
linkMcp(
  client,
  { camera: values.camera, extraTools: boardTools(Number(values["board-tools"]) || 0), ...(photo ? { photo: () => new Uint8Array(readFileSync(photo)) } : {}) },
  say,
);
// Frames that arrived together with the hello were buffered by the client: print them first.
for (const msg of client.inbox.splice(0)) say(`< ${JSON.stringify(msg)}`);
for (const b of client.binary.splice(0)) say(`< [binary ${b.byteLength} bytes]`);
if (codingLog !== undefined) await replayCodingLog(codingLog);
const voice = new DeviceVoice(client, { version: protocol, saveDir: values["save-dir"] ?? null, say });
if (values.save) voice.saver.nextTo(values.save);
client.ws.on("message", (data, isBinary) => {
  voice.handle(data, isBinary); // prints; a reply's frames as one summary line when it ends
  client.inbox.length = 0; // printed; keep nothing for next()
  client.binary.length = 0;
});
if (values.say !== undefined) {
  const code = await voice.oneShot(values.say, { mode: talkMode, fast: values.fast, timeoutMs });
  await client.close(1000, "bye");
  process.exit(code);
}

/** --coding-log: replays the file, prints insights as they come (acks only counted), then exits. */
async function replayCodingLog(text: string): Promise<never> {
  const plan = planReplay(text, codingBatch);
  say(`* replaying ${plan.lines} lines as ${plan.events.length} coding events, one every ${codingPace} ms`);
  let acks = 0;
  client.tap((msg) => {
    const lines = formatInsight(msg);
    if (lines) for (const line of lines) say(line);
    else if (msg.type === "coding" && msg.status === "ok") acks++;
    else say(`< ${JSON.stringify(msg)}`);
    return false; // replay() still sees acks and the summary
  });
  let code = 0;
  try {
    await replay(client, plan, { paceMs: codingPace, summaryTimeoutMs: 30_000, say });
    say(`* done: ${acks} events acknowledged`);
  } catch (err) {
    say(`! ${(err as Error).message}`);
    code = 1;
  }
  await client.close(1000, "bye");
  process.exit(code);
}

const rl = createInterface({ input: process.stdin, terminal: false });
void client.closed.then(({ code, reason }) => {
  say(`* closed: code ${code}${reason ? ` reason "${reason}"` : ""}`);
  rl.close();
  process.exit(0);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let busy: Promise<void> = Promise.resolve();
rl.on("line", (line) => {
  // Commands run in order, even when one (audio) takes a while.
  busy = busy.then(async () => {
    const action = parseSimCommand(line, protocol);
    if (!client.isOpen && action.kind !== "quit" && action.kind !== "help" && action.kind !== "none") {
      say("! socket is not open");
      return;
    }
    switch (action.kind) {
      case "json":
        client.send(action.msg);
        break;
      case "raw":
        client.sendRaw(action.text);
        break;
      case "binary":
        for (const [i, f] of action.frames.entries()) {
          if (i) await sleep(60);
          if (!client.isOpen) break;
          client.sendRaw(f);
        }
        say(`* sent ${action.frames.length} binary frames`);
        break;
      case "speak":
        try {
          await voice.speak(action.file, { mode: action.mode, fast: action.fast });
        } catch (err) {
          say(`! ${(err as Error).message}`);
        }
        break;
      case "save":
        voice.save(action.target);
        break;
      case "help":
        say(SIM_HELP);
        break;
      case "error":
        say(`! ${action.message}`);
        break;
      case "quit":
        await client.close(1000, "bye");
        break;
      case "none":
        break;
    }
  });
});
rl.on("close", () => {
  // End of stdin (piped input): finish queued commands, give replies a second (and a playing reply
  // its end), then close politely.
  void busy
    .then(() => sleep(1000))
    .then(() => voice.quiet(60_000))
    .then(() => client.close(1000, "bye"));
});
