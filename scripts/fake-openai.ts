import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

// A fake OpenAI-compatible server for tests (real HTTP, real SDK) and for trying the Worker by hand:
//   node scripts/fake-openai.ts --port 8788 [--host 127.0.0.1] [--answer '{"a":1}'] [--mode fenced]
//        [--delay-ms 3000] [--api-key sk-test]
// Routes live in one table (ROUTES); a new endpoint (e.g. /v1/audio/*) is one more entry. Failure
// modes apply to routes marked `failable`: transport modes (http500, slow, hang, bad_body) are
// handled before the route runs; content modes (non_json, truncated_json, fenced) reshape the answer
// text of routes that produce one (see `shapeAnswer`).

export type FailureMode = "http500" | "slow" | "non_json" | "truncated_json" | "fenced" | "hang" | "bad_body";
export const FAILURE_MODES: readonly FailureMode[] = ["http500", "slow", "non_json", "truncated_json", "fenced", "hang", "bad_body"];

export interface ModeOptions {
  /** Apply to the next N failable requests only (queued after earlier one-shot modes); absent: until changed. */
  times?: number;
  /** `slow`: delay before answering (default 2000 ms). */
  delayMs?: number;
  /** `http500`: status to answer with (default 500; e.g. 429 or 401 to simulate those). */
  status?: number;
}

export interface ActiveMode extends ModeOptions {
  mode: FailureMode;
}

export interface ChatMessage {
  role: string;
  content: unknown;
  [k: string]: unknown;
}

export interface ChatRequestInfo {
  messages: ChatMessage[];
  model: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** A fixed string, a queue (one per request, then the default answer), or a function of the request. */
export type Answer = string | string[] | ((req: ChatRequestInfo) => string | Promise<string>);

export const DEFAULT_ANSWER = '{"ok":true,"source":"fake-openai"}';
export const DEFAULT_MODEL = "fake-model";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names; `authorization` is kept verbatim so tests can check the key was sent. */
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the body as text (undefined when empty). */
  body: unknown;
  raw: Buffer;
  /** The failure mode applied to this request, if any. */
  mode: FailureMode | null;
  at: number;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  body: unknown;
  raw: Buffer;
  headers: Record<string, string>;
  /** Content mode to apply to the answer text (transport modes never reach the route). */
  mode: ActiveMode | null;
  server: FakeOpenAIState;
}

export interface Route {
  method: string;
  /** Exact path, e.g. "/v1/chat/completions". */
  path: string;
  /** Whether failure modes apply (and consume their "next N" budget). */
  failable: boolean;
  handle(ctx: RouteContext): void | Promise<void>;
}

export interface FakeOpenAIOptions {
  port?: number;
  host?: string;
  answer?: Answer;
  /** When set, requests without `Authorization: Bearer <apiKey>` get 401. */
  apiKey?: string;
  /** Ids listed by GET /v1/models. */
  models?: string[];
  /** Extra routes, matched before the built-in ones. */
  routes?: Route[];
  /** Log each request to stderr. */
  verbose?: boolean;
}

export interface FakeOpenAIState {
  nextAnswer(info: ChatRequestInfo): Promise<string>;
  models: string[];
}

export interface FakeOpenAI {
  /** Base URL ending in /v1, as OpenAI clients expect. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  setAnswer(answer: Answer): void;
  setMode(mode: FailureMode | null, opts?: ModeOptions): void;
  /** Requests served so far (all paths, or one path such as "/v1/chat/completions"). */
  callCount(path?: string): number;
  /** Clears recorded requests, modes and the answer (back to the default or the start option). */
  reset(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Response helpers (exported for routes added later).

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, message: string, type = "server_error", code: string | null = null): void {
  sendJson(res, status, { error: { message, type, param: null, code } });
}

/** Applies a content mode to an answer text. */
export function shapeAnswer(text: string, mode: ActiveMode | null): string {
  switch (mode?.mode) {
    case "non_json":
      return "Sure! The meeting went well, everyone agreed on the plan, and there is nothing more to add.";
    case "truncated_json": {
      const cut = Math.max(1, Math.floor(text.length / 2));
      return text.slice(0, cut);
    }
    case "fenced":
      return `Here is the JSON you asked for:\n\`\`\`json\n${text}\n\`\`\`\nLet me know if you need anything else.`;
    default:
      return text;
  }
}

const approxTokens = (s: string) => Math.max(1, Math.ceil(s.length / 4));

function messageText(messages: ChatMessage[]): string {
  return messages.map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? ""))).join("\n");
}

let idCounter = 0;
const nextId = (prefix: string) => `${prefix}-fake${Date.now().toString(36)}${(++idCounter).toString(36)}`;

// ---------------------------------------------------------------------------------------------
// Routes.

async function chatCompletions(ctx: RouteContext): Promise<void> {
  const body = ctx.body;
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    sendError(ctx.res, 400, "request body must be a JSON object", "invalid_request_error");
    return;
  }
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    sendError(ctx.res, 400, "messages must be a non-empty array", "invalid_request_error", "invalid_messages");
    return;
  }
  const messages = b.messages as ChatMessage[];
  const model = typeof b.model === "string" && b.model ? b.model : DEFAULT_MODEL;
  const answer = await ctx.server.nextAnswer({ messages, model, body: b, headers: ctx.headers });
  const content = shapeAnswer(answer, ctx.mode);
  const finishReason = ctx.mode?.mode === "truncated_json" ? "length" : "stop";
  const id = nextId("chatcmpl");
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = approxTokens(messageText(messages));
  const usage = { prompt_tokens: promptTokens, completion_tokens: approxTokens(content), total_tokens: promptTokens + approxTokens(content) };

  if (b.stream !== true) {
    sendJson(ctx.res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: finishReason }],
      usage,
    });
    return;
  }

  const res = ctx.res;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
  res.write(chunk({ role: "assistant", content: "" }, null));
  for (let i = 0; i < content.length; i += 8) res.write(chunk({ content: content.slice(i, i + 8) }, null));
  res.write(chunk({}, finishReason));
  const streamOptions = b.stream_options as { include_usage?: unknown } | undefined;
  if (streamOptions?.include_usage === true) {
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`);
  }
  res.end("data: [DONE]\n\n");
}

function listModels(ctx: RouteContext): void {
  const created = Math.floor(Date.now() / 1000);
  sendJson(ctx.res, 200, {
    object: "list",
    data: ctx.server.models.map((id) => ({ id, object: "model", created, owned_by: "fake-openai" })),
  });
}

export const ROUTES: readonly Route[] = [
  { method: "POST", path: "/v1/chat/completions", failable: true, handle: chatCompletions },
  { method: "GET", path: "/v1/models", failable: false, handle: listModels },
];

// ---------------------------------------------------------------------------------------------
// Server.

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const text = raw.toString("utf8");
  if (contentType?.includes("json") || /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const routes: Route[] = [...(opts.routes ?? []), ...ROUTES];
  const initialAnswer: Answer = opts.answer ?? DEFAULT_ANSWER;
  let answer: Answer = Array.isArray(initialAnswer) ? [...initialAnswer] : initialAnswer;
  let globalMode: ActiveMode | null = null;
  let oneShot: Array<ActiveMode & { remaining: number }> = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closed = false;

  const state: FakeOpenAIState = {
    models: opts.models ?? [DEFAULT_MODEL],
    async nextAnswer(info) {
      if (typeof answer === "function") return answer(info);
      if (Array.isArray(answer)) return answer.shift() ?? DEFAULT_ANSWER;
      return answer;
    },
  };

  const takeMode = (): ActiveMode | null => {
    const next = oneShot[0];
    if (next) {
      next.remaining -= 1;
      if (next.remaining <= 0) oneShot.shift();
      const { remaining: _r, ...mode } = next;
      return mode;
    }
    return globalMode;
  };

  const delay = (ms: number, res: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve(!res.destroyed && !closed);
      }, ms);
      timers.add(t);
      res.once("close", () => {
        clearTimeout(t);
        timers.delete(t);
        resolve(false);
      });
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://fake");
    const headers = headerRecord(req);
    const method = (req.method ?? "GET").toUpperCase();
    const route = routes.find((r) => r.method === method && r.path === url.pathname.replace(/\/+$/, ""));
    const mode = route?.failable ? takeMode() : null;
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: parseBody(raw, headers["content-type"]),
      raw,
      mode: mode?.mode ?? null,
      at: Date.now(),
    };
    requests.push(record);
    if (opts.verbose) process.stderr.write(`fake-openai: ${method} ${url.pathname}${mode ? ` [${mode.mode}]` : ""}\n`);

    if (!route) {
      sendError(res, 404, `no route for ${method} ${url.pathname}`, "invalid_request_error", "not_found");
      return;
    }
    if (opts.apiKey !== undefined && headers.authorization !== `Bearer ${opts.apiKey}`) {
      sendError(res, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
      return;
    }
    switch (mode?.mode) {
      case "hang":
        return; // the response stays open until the client gives up or the server closes
      case "http500":
        sendError(res, mode.status ?? 500, "The fake server had an error while processing your request.");
        return;
      case "bad_body": {
        const text = "<html><body>502 upstream proxy says hello</body></html>";
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case "slow":
        if (!(await delay(mode.delayMs ?? 2000, res))) return;
        break;
    }
    if (res.destroyed) return;
    await route.handle({ req, res, path: url.pathname, body: record.body, raw, headers, mode, server: state });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `fake-openai handler failed: ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;

  return {
    url: `http://${host}:${addr.port}/v1`,
    port: addr.port,
    requests,
    setAnswer(next) {
      answer = Array.isArray(next) ? [...next] : next;
    },
    setMode(mode, modeOpts = {}) {
      if (mode === null) {
        globalMode = null;
        oneShot = [];
        return;
      }
      const { times, ...rest } = modeOpts;
      if (times !== undefined) {
        if (times > 0) oneShot.push({ mode, ...rest, remaining: Math.floor(times) });
      } else {
        globalMode = { mode, ...rest };
      }
    },
    callCount(path) {
      return path === undefined ? requests.length : requests.filter((r) => r.path === path).length;
    },
    reset() {
      requests.length = 0;
      globalMode = null;
      oneShot = [];
      answer = Array.isArray(initialAnswer) ? [...initialAnswer] : initialAnswer;
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CLI.

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        out[a.slice(2)] = next;
        i++;
      } else out[a.slice(2)] = "true";
    }
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(
      "usage: node scripts/fake-openai.ts [--port 8788] [--host 127.0.0.1] [--answer TEXT] [--mode MODE] [--delay-ms N] [--api-key KEY]\n" +
        `modes: ${FAILURE_MODES.join(", ")}\n`,
    );
    return;
  }
  const fake = await startFakeOpenAI({
    port: args.port ? Number(args.port) : 8788,
    host: args.host ?? "127.0.0.1",
    answer: args.answer,
    apiKey: args["api-key"],
    verbose: true,
  });
  if (args.mode) {
    if (!FAILURE_MODES.includes(args.mode as FailureMode)) throw new Error(`unknown mode ${args.mode}; one of ${FAILURE_MODES.join(", ")}`);
    fake.setMode(args.mode as FailureMode, { delayMs: args["delay-ms"] ? Number(args["delay-ms"]) : undefined });
  }
  process.stdout.write(`fake-openai listening on ${fake.url} (LLM_BASE_URL=${fake.url})\n`);
  const stop = () => {
    void fake.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`fake-openai: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
