import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { controlRoutes, startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from "../fake-openai.ts";

// Outbound services for tests that run inside workerd, where the test cannot call into Node: the
// fake OpenAI-compatible server and a webhook receiver, both steered over HTTP control endpoints
// (`/__control/...`) so a Worker test can set answers and read what arrived.

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  at: number;
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Answer the next `n` requests with `status` (or hang past the sender's timeout when 0). */
  failNext(n: number, status: number): void;
  reset(): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let failures: Array<{ status: number }> = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const body = await readBody(req);
    if (url.pathname === "/__control/webhooks") return json(res, 200, received);
    if (url.pathname === "/__control/fail") {
      const { n, status } = JSON.parse(body || "{}") as { n?: number; status?: number };
      receiver.failNext(n ?? 1, status ?? 500);
      return json(res, 200, { ok: true });
    }
    if (url.pathname === "/__control/reset") {
      receiver.reset();
      return json(res, 200, { ok: true });
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    const failure = failures.shift();
    const status = failure ? failure.status : 200;
    received.push({ headers, body, at: Date.now(), status });
    if (status === 0) {
      hanging.add(res);
      return; // never answered: the sender's timeout decides
    }
    json(res, status, { received: true });
  });
  const port = await listen(server);
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks/meeting`,
    received,
    failNext(n, status) {
      failures = Array.from({ length: n }, () => ({ status }));
    },
    reset() {
      received.length = 0;
      failures = [];
    },
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return receiver;
}

/**
 * The fake OpenAI-compatible server (chat, ASR, TTS) with its control routes
 * (scripts/lib/fake-openai/control.ts): `/__control/answer|script|mode|reset|calls` for chat answers
 * and failure modes, `asr`, `vision`, `chat`, `tts`, `latency` for the voice endpoints' answers and
 * settings, `config` and `records` to read back settings and what the Worker sent.
 */
export async function startControlledLlm(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let fake: FakeOpenAI | undefined;
  fake = await startFakeOpenAI({ ...opts, routes: [...(opts.routes ?? []), ...controlRoutes(() => fake as FakeOpenAI)] });
  return fake;
}
