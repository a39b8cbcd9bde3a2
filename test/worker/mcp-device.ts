import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { DeviceMcpServer, type DeviceMcpOptions } from "../../scripts/lib/device-mcp.ts";
import { openSocket, type Json, type OpenOptions, type TestSocket } from "./helpers.ts";

// A device socket whose MCP server answers like the firmware (scripts/lib/device-mcp.ts), driven
// from inside workerd: every `mcp` frame the server sends is recorded and, unless a test steps in,
// answered in the firmware's frame shape.

/** What a test does with one request: its own payload text, null to stay silent, undefined: the firmware's answer. */
export type Intercept = (payload: Json) => string | null | undefined | Promise<string | null | undefined>;

export class FirmwareMcp {
  readonly server: DeviceMcpServer;
  /** Payloads of every `mcp` frame the server sent, in order. */
  readonly requests: Json[] = [];
  intercept: Intercept | null = null;
  private readonly sock: TestSocket;
  private sessionId = "";

  constructor(sock: TestSocket, opts: DeviceMcpOptions) {
    this.sock = sock;
    this.server = new DeviceMcpServer(opts);
    sock.ws.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string") return;
      const msg = JSON.parse(ev.data) as Json;
      if (msg.type === "hello") this.sessionId = String(msg.session_id ?? "");
      if (msg.type !== "mcp") return;
      const payload = msg.payload as Json;
      this.requests.push(payload);
      void this.answer(payload);
    });
  }

  private async answer(payload: Json): Promise<void> {
    const own = this.intercept ? await this.intercept(payload) : undefined;
    const text = own === undefined ? await this.server.handle(payload) : own;
    if (text !== null && this.sock.closeEvent === undefined) this.sendPayload(text);
  }

  /** Sends a payload text in the firmware's frame. */
  sendPayload(text: string): void {
    try {
      this.sock.ws.send(DeviceMcpServer.frame(text, this.sessionId));
    } catch {
      /* closed */
    }
  }

  methods(): string[] {
    return this.requests.map((r) => String(r.method));
  }

  /** Waits until the server has sent `n` requests of `method`. */
  async waitFor(method: string, n = 1, timeoutMs = 5000): Promise<Json> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.requests.filter((r) => r.method === method);
      if (seen.length >= n) return seen[n - 1]!;
      if (Date.now() > until) throw new Error(`no ${method} #${n}; saw ${this.methods().join(", ")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Connects with the firmware hello and an MCP server; resolves once setup listed the tools (unless `ready: false`). */
export async function connectFirmware(
  deviceId: string,
  opts: DeviceMcpOptions & { hello?: Json; open?: OpenOptions; ready?: boolean; intercept?: Intercept } = {},
): Promise<{ sock: TestSocket; hello: Json; mcp: FirmwareMcp }> {
  const sock = await openSocket(deviceId, opts.open);
  const mcp = new FirmwareMcp(sock, { deviceId, ...opts });
  mcp.intercept = opts.intercept ?? null;
  const hello = await sock.request(
    opts.hello ?? {
      type: "hello",
      version: 1,
      transport: "websocket",
      features: { mcp: true },
      audio_params: { format: "opus", sample_rate: 16000, channels: 1, frame_duration: 60 },
    },
  );
  if (opts.ready !== false) await mcpReady(deviceId);
  return { sock, hello, mcp };
}

/** The MCP state of the device's newest socket (its attachment slice). */
export async function mcpState(deviceId: string): Promise<Json | undefined> {
  return runInDurableObject(env.DEVICE.get(env.DEVICE.idFromName(deviceId)), (o) => o.session.current()?.state.ext.mcp as Json | undefined);
}

/** Waits until setup on the device's newest socket has ended (ready or failed). */
export async function mcpReady(deviceId: string, timeoutMs = 5000): Promise<Json> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await mcpState(deviceId);
    if (s && (s.phase === "ready" || s.phase === "failed")) return s;
    if (Date.now() > until) throw new Error(`MCP setup did not end: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---- steering the fake OpenAI-compatible server's chat (scripted rounds, refusing tools, vision) ----

const llmBase = () => env.LLM_BASE_URL.replace(/\/v1\/?$/, "");
async function control(path: string, body: unknown): Promise<Json> {
  const res = await fetch(`${llmBase()}/__control/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return (await res.json()) as Json;
}

export type Round = string | { text?: string; tool_calls?: Array<{ name: string; arguments?: unknown; id?: string }> };

export const fakeChat = {
  /** One round per chat request, in order (then the default answer). */
  script: (rounds: Round[]) => control("script", { rounds }),
  options: (opts: { refuseTools?: boolean }) => control("chat", opts),
  vision: (answer: string | string[] | null) => control("vision", { answer }),
};
