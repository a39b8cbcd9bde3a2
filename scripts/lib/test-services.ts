import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { startFakeOpenAI, type FailureMode, type FakeOpenAI, type Route } from "../fake-openai.ts";

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

/** The fake LLM with control routes: answer, mode, reset, and the count of chat calls. */
export async function startControlledLlm(): Promise<FakeOpenAI> {
  let fake: FakeOpenAI | undefined;
  const control = (path: string, handle: (body: Record<string, unknown>, f: FakeOpenAI) => unknown): Route => ({
    method: "POST",
    path,
    failable: false,
    handle: (ctx) => {
      const out = handle((ctx.body ?? {}) as Record<string, unknown>, fake!);
      ctx.res.writeHead(200, { "content-type": "application/json" });
      ctx.res.end(JSON.stringify(out ?? { ok: true }));
    },
  });
  fake = await startFakeOpenAI({
    routes: [
      control("/__control/answer", (b, f) => f.setAnswer(String(b.answer))),
      control("/__control/mode", (b, f) =>
        f.setMode((b.mode as FailureMode | null) ?? null, {
          ...(typeof b.times === "number" ? { times: b.times } : {}),
          ...(typeof b.delayMs === "number" ? { delayMs: b.delayMs } : {}),
        }),
      ),
      control("/__control/reset", (_b, f) => f.reset()),
      control("/__control/calls", (_b, f) => ({ calls: f.callCount("/v1/chat/completions") })),
    ],
  });
  return fake;
}
