import { spawn } from "node:child_process";
import http from "node:http";
import { syncBuiltinESMExports } from "node:module";
import { fileURLToPath } from "node:url";
import type { FakeOpenAIOptions } from "../../fake-openai.ts";
import type { ChatRequestInfo, ChatRound } from "../fake-openai/types.ts";

// The fake OpenAI-compatible server in a process of its own, for scenarios whose clients keep the
// bench's event loop busy (the voice scenario streams audio to and from 50 devices): in the same
// process, every timer of the fake (its fixed latencies) and every answer would wait behind the
// clients' work, and the clients' timestamps behind the fake's. Options go in as JSON (plain
// answers and settings; functions cannot cross); the child prints its URL and serves until closed,
// or until the bench goes away (its IPC channel closes), so a crashed bench leaves nothing behind.
//
// The child also times itself, per provider kind: a request's upload (its headers in → its body
// complete) and its own time (body complete → the answer starts, minus the fixed latency: parsing,
// decoding the audio, its event loop). The rest of what the Worker sees as provider time is the
// Worker's side of the call.

export type ProviderKind = "asr" | "llm" | "tts";

export interface FakeProcess {
  url: string;
  pid: number;
  /** Forgets the timings so far. */
  resetTimings(): Promise<void>;
  /** Per kind, the requests since the last reset. */
  timings(): Promise<Record<ProviderKind, FakeTiming[]>>;
  close(): Promise<void>;
}

export type FakeProcessOptions = Omit<FakeOpenAIOptions, "answer" | "asrAnswer" | "visionAnswer" | "routes"> & {
  answer?: string;
  asrAnswer?: string;
  /** Every turn calls this tool first, then answers `answer` (toolRoundAnswer). */
  toolRound?: ToolRoundScript;
};

/** One tool round per turn: the device tool to call (its firmware name) and the arguments. */
export interface ToolRoundScript {
  tool: string;
  arguments: Record<string, unknown>;
}

/**
 * The chat answer of turns with one tool round, for many devices at once, so without a queue: a
 * request whose last message is a tool result gets `text`; any other calls the tool, by the name the
 * Worker offers it under (src/tools/names.ts: characters outside [A-Za-z0-9_-] become "_").
 */
export function toolRoundAnswer(script: ToolRoundScript, text: string): (req: ChatRequestInfo) => ChatRound {
  const name = script.tool.replace(/[^A-Za-z0-9_-]/g, "_");
  return (req) => (req.messages.at(-1)?.role === "tool" ? text : { tool_calls: [{ name, arguments: script.arguments }] });
}

export interface FakeTiming {
  /** Request headers in → body complete, ms. */
  uploadMs: number;
  /** Body complete → answer started, minus the fixed latency, ms. */
  ownMs: number;
}

type Timings = Record<ProviderKind, FakeTiming[]>;
type Reply = { timings: Timings } | { reset: true };

export async function startFakeProcess(opts: FakeProcessOptions): Promise<FakeProcess> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(opts)], { stdio: ["ignore", "pipe", "pipe", "ipc"] });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /^listening (\S+)$/m.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    child.once("exit", (code) => reject(new Error(`fake provider process exited (${code}): ${out.slice(-1000)}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const ask = (msg: "reset" | "timings") =>
    new Promise<Reply>((resolve) => {
      child.once("message", (m) => resolve(m as Reply));
      child.send(msg);
    });
  return {
    url,
    pid: child.pid ?? 0,
    async resetTimings() {
      await ask("reset");
    },
    async timings() {
      const r = await ask("timings");
      return "timings" in r ? r.timings : { asr: [], llm: [], tts: [] };
    },
    async close() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

const PATHS: Record<string, ProviderKind> = { "/v1/audio/transcriptions": "asr", "/v1/chat/completions": "llm", "/v1/audio/speech": "tts" };

async function serve(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? "{}") as FakeProcessOptions;
  let timings: Timings = { asr: [], llm: [], tts: [] };
  // Every server the fake creates gets a first listener that notes when a request arrived and when
  // its answer started (writeHead); the fake's module then binds the patched createServer.
  const createServer = http.createServer;
  http.createServer = ((...args: Parameters<typeof http.createServer>) => {
    const server = createServer(...args);
    server.prependListener("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const kind = PATHS[new URL(req.url ?? "/", "http://fake").pathname];
      if (!kind) return;
      const at = performance.now();
      let bodyAt = at;
      req.once("end", () => (bodyAt = performance.now()));
      const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => http.ServerResponse;
      res.writeHead = ((...a: unknown[]) => {
        timings[kind].push({ uploadMs: bodyAt - at, ownMs: performance.now() - bodyAt - (opts.latency?.[kind] ?? 0) });
        res.writeHead = writeHead as typeof res.writeHead;
        return writeHead(...a);
      }) as typeof res.writeHead;
    });
    return server;
  }) as typeof http.createServer;
  syncBuiltinESMExports();
  const { startFakeOpenAI } = await import("../../fake-openai.ts");
  const { toolRound, ...plain } = opts;
  const fake = await startFakeOpenAI(toolRound ? { ...plain, answer: toolRoundAnswer(toolRound, plain.answer ?? "") } : plain);
  process.on("message", (m) => {
    if (m === "reset") {
      timings = { asr: [], llm: [], tts: [] };
      process.send?.({ reset: true } satisfies Reply);
    } else if (m === "timings") process.send?.({ timings } satisfies Reply);
  });
  process.stdout.write(`listening ${fake.url}\n`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("disconnect", stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await serve();
