import { DeviceClient, otaCheck } from "../device-client.ts";

// The two things every scenario measures: our device path (OTA token, firmware headers, firmware
// hello through auth, the Worker and DeviceObject) and the bare echo Durable Object of
// bench/worker.ts (no auth, no logic). Both use the same client code so the client's own cost
// cancels out of the ratio.

export interface Opened {
  client: DeviceClient;
  /** From socket creation to the hello reply, ms. */
  helloMs: number;
  /** Of which: socket creation → upgrade answered (101). */
  upgradeMs: number;
}

export interface Target {
  readonly name: "ours" | "echo";
  /** What a device does before it opens its socket (ours: the OTA check). Returns its duration in ms. */
  prepare(id: string): Promise<number>;
  /**
   * Opens a socket and completes the hello; `prepare(id)` must have run. With `hello: false` it
   * returns once the upgrade is answered and the caller sends the hello (`FIRMWARE_HELLO`) itself.
   */
  open(id: string, timeoutMs: number, opts?: OpenOptions): Promise<Opened>;
  /** A message the target answers and the type of its answer, to check a socket is alive. */
  readonly probe: { msg: Record<string, unknown>; reply: string };
}

export interface OpenOptions {
  hello?: boolean;
}

async function timedConnect(opts: Parameters<typeof DeviceClient.connect>[0]): Promise<Opened> {
  // With token and wsUrl given, connect() creates the socket at once, without an OTA round trip.
  const client = await DeviceClient.connect(opts);
  const { created, open = created, hello = performance.now() } = client.timing;
  return { client, helloMs: hello - created, upgradeMs: open - created };
}

/** `base()` is the current server's URL: it changes when the bench restarts the server. */
export function oursTarget(base: () => string): Target {
  // Device tokens are stateless (signed with the bench's fixed secret), so they stay valid on a
  // restarted server; the socket path comes from the OTA reply, the host from the current server.
  const creds = new Map<string, { token: string; path: string }>();
  return {
    name: "ours",
    probe: { msg: { type: "ping" }, reply: "pong" },
    async prepare(id) {
      const t0 = performance.now();
      const ota = await otaCheck(base(), id);
      creds.set(id, { token: ota.websocket.token, path: new URL(ota.websocket.url).pathname });
      return performance.now() - t0;
    },
    open(id, timeoutMs, opts = {}) {
      const c = creds.get(id);
      if (!c) return Promise.reject(new Error(`no OTA credentials for ${id}`));
      const wsUrl = new URL(c.path, base().replace(/^http/, "ws")).toString();
      return timedConnect({ baseUrl: base(), deviceId: id, token: c.token, wsUrl, timeoutMs, ...(opts.hello === false ? { hello: false } : {}) });
    },
  };
}

export interface EchoOptions {
  /**
   * The bare object joins the bare group of its id's first 8 characters on connect (one RPC, one
   * SQLite row), as our devices join theirs (ours: once, shortly after their first hello); off by
   * default, so the connect and capacity floors stay a bare socket.
   */
  presence?: boolean;
  /** After the hello the bare object SELECTs, DELETEs and sends its queued rows, as ours drains its inbox. */
  inbox?: boolean;
  /**
   * Binary frames are uplink Opus the bare object decodes while listening (not echoed), and a
   * `listen stop` carrying `reply: {sentences, frames}` is answered with that many paced Opus frames.
   */
  voice?: boolean;
}

export function echoTarget(base: () => string, echo: EchoOptions = {}): Target {
  return {
    name: "echo",
    probe: { msg: { type: "ping" }, reply: "ping" },
    prepare: async () => 0,
    open(id, timeoutMs, opts = {}) {
      const query = new URLSearchParams({
        ...(echo.presence ? { presence: "1" } : {}),
        ...(echo.inbox ? { inbox: "1" } : {}),
        ...(echo.voice ? { voice: "1" } : {}),
      }).toString();
      const wsUrl = `${base().replace(/^http/, "ws")}/__bench/echo/${encodeURIComponent(id)}${query ? `?${query}` : ""}`;
      return timedConnect({ baseUrl: base(), deviceId: id, token: "", wsUrl, timeoutMs, ...(opts.hello === false ? { hello: false } : {}) });
    },
  };
}

/** A short, stable label for a failed connection, for tallies. */
export function failureKind(err: unknown): string {
  const e = err as { status?: number; code?: string; message?: string };
  if (typeof e?.status === "number") return `upgrade ${e.status}`;
  if (e?.code) return e.code;
  const m = String(e?.message ?? err);
  if (m.startsWith("no matching message")) return "hello timeout";
  if (m.includes("handshake has timed out")) return "handshake timeout";
  if (m.includes("socket closed")) return "closed before hello";
  return m.slice(0, 80);
}

export const FD_HINT =
  "EMFILE: the process ran out of file descriptors. Raise the limit in the shell that runs the bench (ulimit -n 65536; the hard limit may need /etc/security/limits.conf or `prlimit`) and rerun.";
