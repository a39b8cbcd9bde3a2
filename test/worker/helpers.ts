import { exports } from "cloudflare:workers";
import { issueDeviceToken } from "../../src/auth/tokens.ts";
import { FIRMWARE_HELLO } from "../../src/protocol/messages.ts";

export const SECRET = "test-device-token-secret";
export const ADMIN = "test-admin-token";
export const BASE = "https://edge.example.com";

export type Json = Record<string, any>;

export function fetchWorker(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(new URL(path, BASE), init));
}

export function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN}`);
  if (init.body) headers.set("content-type", "application/json");
  return fetchWorker(`/api${path}`, { ...init, headers });
}

export async function tokenFor(deviceId: string, clientId = deviceId): Promise<string> {
  return issueDeviceToken(SECRET, deviceId, clientId, 3600);
}

/** A device socket inside workerd, with a queue of parsed messages. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly inbox: Json[] = [];
  readonly received: Json[] = [];
  readonly binary: ArrayBuffer[] = [];
  /** Everything received, text and binary, in arrival order. */
  readonly log: Array<Json | Uint8Array> = [];
  closeEvent: { code: number; reason: string } | undefined;
  private waiters: Array<{ pred: (m: Json) => boolean; resolve: (m: Json) => void }> = [];
  private closeWaiters: Array<(e: { code: number; reason: string }) => void> = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    (ws as { binaryType?: string }).binaryType = "arraybuffer";
    ws.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string") {
        this.binary.push(ev.data as ArrayBuffer);
        this.log.push(new Uint8Array(ev.data as ArrayBuffer));
        return;
      }
      const msg = JSON.parse(ev.data) as Json;
      this.log.push(msg);
      this.received.push(msg);
      const i = this.waiters.findIndex((w) => w.pred(msg));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(msg);
      else this.inbox.push(msg);
    });
    ws.addEventListener("close", (ev) => {
      this.closeEvent = { code: ev.code, reason: ev.reason };
      for (const w of this.closeWaiters.splice(0)) w(this.closeEvent);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === "string" ? msg : JSON.stringify(msg));
  }

  // Generous: on a loaded 2-core CI machine a group RPC plus a D1 write can take seconds.
  next(pred: (m: Json) => boolean = () => true, timeoutMs = 15_000): Promise<Json> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      // The last messages say what happened instead (an alert, a reply to something else).
      const t = setTimeout(() => {
        const last = JSON.stringify(this.received.slice(-6)).slice(-600);
        reject(new Error(`timeout waiting; inbox=${JSON.stringify(this.inbox).slice(0, 300)}; last received=${last}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  async request(msg: Json, replyType = String(msg.type)): Promise<Json> {
    const p = this.next((m) => m.type === replyType);
    this.send(msg);
    return p;
  }

  closed(): Promise<{ code: number; reason: string }> {
    if (this.closeEvent) return Promise.resolve(this.closeEvent);
    return new Promise((r) => this.closeWaiters.push(r));
  }

  close(code = 1000): void {
    try {
      this.ws.close(code, "test done");
    } catch {
      /* closed */
    }
  }
}

export interface OpenOptions {
  clientId?: string;
  token?: string | null;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  path?: string;
}

export async function upgradeResponse(deviceId: string | null, opts: OpenOptions = {}): Promise<Response> {
  const url = new URL(opts.path ?? "/supie/v1/", BASE);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const headers = new Headers({ upgrade: "websocket", ...opts.headers });
  if (deviceId !== null) headers.set("device-id", deviceId);
  if (opts.clientId) headers.set("client-id", opts.clientId);
  const token = opts.token === undefined && deviceId ? await tokenFor(deviceId, opts.clientId ?? deviceId) : opts.token;
  if (token) headers.set("authorization", `Bearer ${token}`);
  return exports.default.fetch(new Request(url, { headers }));
}

export async function openSocket(deviceId: string | null, opts: OpenOptions = {}): Promise<TestSocket> {
  const res = await upgradeResponse(deviceId, opts);
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new TestSocket(res.webSocket);
}

export { FIRMWARE_HELLO };

export async function connectDevice(deviceId: string, opts: OpenOptions = {}): Promise<{ sock: TestSocket; hello: Json }> {
  const sock = await openSocket(deviceId, opts);
  const hello = await sock.request(FIRMWARE_HELLO);
  return { sock, hello };
}

let counter = 0;
/** A fresh device id per test: storage is per test file, ids keep tests within a file apart. */
export function uniqueId(prefix = "aa:bb:cc"): string {
  counter++;
  const n = (counter + Math.floor(Math.random() * 1e6)).toString(16).padStart(6, "0").slice(-6);
  return `${prefix}:${n.slice(0, 2)}:${n.slice(2, 4)}:${n.slice(4, 6)}`;
}

/** Polls until `ok(value)`; for work an object does just after its reply (see SessionRuntime.later). */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, tries = 400): Promise<T> {
  let v = await fn();
  for (let i = 0; i < tries && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 10));
    v = await fn();
  }
  return v;
}

/** Waits until the devices have joined their group (a first connection joins just after its hello). */
export async function joined(groupKey: string, ids: string[]): Promise<void> {
  const listed = async () => ((await (await api(`/groups/${groupKey}/devices`)).json()) as Json).devices.map((d: Json) => d.deviceId) as string[];
  const all = await eventually(listed, (l) => ids.every((id) => l.includes(id)));
  if (!ids.every((id) => all.includes(id))) throw new Error(`devices did not join ${groupKey}: ${ids.filter((id) => !all.includes(id))}`);
}
