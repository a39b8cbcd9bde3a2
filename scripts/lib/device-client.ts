import WebSocket from "ws";
import { FIRMWARE_HELLO, TEST_PAGE_HELLO } from "../../src/protocol/messages.ts";

// A simulated device, as the stock firmware behaves: OTA check, then a WebSocket with the firmware's
// headers, then the firmware hello. Used by the CLI simulator, the end-to-end tests and the benchmark.

export { FIRMWARE_HELLO, TEST_PAGE_HELLO };

export type Json = Record<string, unknown>;

export interface OtaReply {
  server_time: { timestamp: number; timezone_offset: number };
  firmware: { version: string; url: string };
  websocket: { url: string; token: string; version: number };
  activation?: { code: string; message: string; challenge: string; timeout_ms: number };
}

export interface OtaOptions {
  clientId?: string;
  alias?: boolean;
  body?: unknown;
  /**
   * The client address the check claims (`CF-Connecting-IP`); null: none. Default: the device's
   * own simulated address (`simulatedAddress`) when the server is on this machine, else none.
   */
  clientIp?: string | null;
}

const LOOPBACK = /^(localhost|.*\.localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * A simulated device's client address: stable per device id, one of 2^24 in 10.0.0.0/8. The server
 * limits OTA checks per client address (120 a minute, PROTOCOL §1.1), and a real fleet comes from
 * many addresses; simulated devices sharing this machine's one would not. `wrangler dev` passes a
 * `CF-Connecting-IP` sent by the client through to the Worker (it sets one only when none is sent);
 * in front of a deployed Worker Cloudflare sets it, so it is only sent to a server on this machine.
 */
export function simulatedAddress(deviceId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) h = Math.imul(h ^ deviceId.charCodeAt(i), 0x01000193);
  return `10.${(h >>> 16) & 0xff}.${(h >>> 8) & 0xff}.${h & 0xff}`;
}

export async function otaCheck(baseUrl: string, deviceId: string, opts: OtaOptions = {}): Promise<OtaReply> {
  const url = new URL(opts.alias ? "/xiaozhi/ota/" : "/supie/ota/", baseUrl);
  const clientIp = opts.clientIp === undefined ? (LOOPBACK.test(url.hostname) ? simulatedAddress(deviceId) : null) : opts.clientIp;
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "device-id": deviceId,
      "client-id": opts.clientId ?? deviceId,
      "user-agent": "bread-compact-wifi/1.6.0",
      ...(clientIp ? { "cf-connecting-ip": clientIp } : {}),
    },
    body: JSON.stringify(
      opts.body ?? {
        application: { name: "xiaozhi", version: "1.6.0" },
        board: { type: "bread-compact-wifi" },
        mac_address: deviceId,
        minimum_free_heap_size: "102400",
      },
    ),
  });
  if (!res.ok) throw new Error(`OTA check answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as OtaReply;
}

export interface ConnectOptions {
  /** HTTP base URL of the server, e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  deviceId: string;
  clientId?: string;
  /** Token to use; when absent the OTA check provides one. */
  token?: string;
  /** Take the WebSocket URL from this instead of the OTA reply. */
  wsUrl?: string;
  /** "headers" like the firmware (default), "query" like the browser test page. */
  identity?: "headers" | "query";
  protocolVersion?: 1 | 2 | 3;
  alias?: boolean;
  /** The hello to send; false to send none. Defaults to the firmware hello. */
  hello?: Json | false;
  /** Extra HTTP headers on the upgrade. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

type Waiter = { pred: (m: Json) => boolean; resolve: (m: Json) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
/** Sees a text message first, with its arrival time (performance.now()); true consumes it. */
export type Tap = (msg: Json, at: number) => boolean;

export class DeviceClient {
  readonly ws: WebSocket;
  readonly deviceId: string;
  /** Messages received and not yet taken by next(). */
  readonly inbox: Json[] = [];
  /** Every text message received, in order. */
  readonly received: Json[] = [];
  readonly binary: Buffer[] = [];
  hello: Json | undefined;
  /** performance.now() marks: socket created, upgrade answered (open), hello reply received. */
  readonly timing: { created: number; open?: number; hello?: number } = { created: performance.now() };
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Waiter[] = [];
  private taps: Tap[] = [];
  private closeInfo: { code: number; reason: string } | undefined;

  private constructor(ws: WebSocket, deviceId: string) {
    this.ws = ws;
    this.deviceId = deviceId;
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        this.binary.push(data as Buffer);
        return;
      }
      let msg: Json;
      try {
        msg = JSON.parse(data.toString()) as Json;
      } catch {
        msg = { type: "__unparsable__", raw: data.toString() };
      }
      if (this.taps.length) {
        const at = performance.now();
        if (this.taps.some((t) => t(msg, at))) return;
      }
      this.received.push(msg);
      const i = this.waiters.findIndex((w) => w.pred(msg));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w!.timer);
        w!.resolve(msg);
      } else this.inbox.push(msg);
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`socket closed (${code} ${reason.toString()}) while waiting`));
        }
        resolve(this.closeInfo);
      });
    });
    ws.on("error", () => {
      /* surfaced through close */
    });
  }

  /** Opens the socket (after an OTA check unless a token is given) and completes the hello. */
  static async connect(opts: ConnectOptions): Promise<DeviceClient> {
    const clientId = opts.clientId ?? opts.deviceId;
    let token = opts.token;
    let wsUrl = opts.wsUrl;
    if (token === undefined || wsUrl === undefined) {
      const ota = await otaCheck(opts.baseUrl, opts.deviceId, { clientId, ...(opts.alias ? { alias: true } : {}) });
      token ??= ota.websocket.token;
      wsUrl ??= ota.websocket.url;
    }
    const url = new URL(wsUrl);
    const headers: Record<string, string> = { ...opts.headers };
    if ((opts.identity ?? "headers") === "headers") {
      headers["device-id"] = opts.deviceId;
      headers["client-id"] = clientId;
      headers["protocol-version"] = String(opts.protocolVersion ?? 1);
      if (token) headers.authorization = `Bearer ${token}`;
    } else {
      url.searchParams.set("device-id", opts.deviceId);
      url.searchParams.set("client-id", clientId);
      if (token) url.searchParams.set("authorization", `Bearer ${token}`);
    }
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: opts.timeoutMs ?? 10_000 });
    const client = new DeviceClient(ws, opts.deviceId);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => {
        client.timing.open = performance.now();
        resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
      });
      ws.once("error", reject);
    });
    const hello = opts.hello === undefined ? FIRMWARE_HELLO : opts.hello;
    if (hello !== false) {
      client.send(hello);
      try {
        client.hello = await client.next((m) => m.type === "hello", opts.timeoutMs ?? 10_000);
        client.timing.hello = performance.now();
      } catch (err) {
        ws.terminate(); // nobody else holds this socket: do not leak it
        throw err;
      }
    }
    return client;
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  sendRaw(data: string | Buffer | Uint8Array): void {
    this.ws.send(data);
  }

  /**
   * Sees every text message before anything else, with its arrival time. A message for which `fn`
   * returns true is consumed: not kept in `received` or `inbox`, not given to next(). For streams
   * too long to buffer (the benchmark). Returns the function that removes the tap.
   */
  tap(fn: Tap): () => void {
    this.taps.push(fn);
    return () => {
      this.taps = this.taps.filter((t) => t !== fn);
    };
  }

  /** The next message matching `pred` (buffered ones first); rejects after `timeoutMs`. */
  next(pred: (m: Json) => boolean = () => true, timeoutMs = 10_000): Promise<Json> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    if (this.closeInfo) return Promise.reject(new Error(`socket closed (${this.closeInfo.code})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no matching message within ${timeoutMs} ms; pending: ${JSON.stringify(this.inbox).slice(0, 500)}`));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  /** Sends and waits for the first reply of the given type. */
  async request(msg: Json, replyType = String(msg.type), timeoutMs = 10_000): Promise<Json> {
    const p = this.next((m) => m.type === replyType, timeoutMs);
    this.send(msg);
    return p;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(code = 1000, reason = "bye"): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
    return this.closed;
  }
}
