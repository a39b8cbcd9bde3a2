import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// Starts the real Worker with `wrangler dev` on a free loopback port, for end-to-end tests and the
// benchmark. Settings are overridden with --var exactly as operators and outside checks do.

const ROOT = resolve(import.meta.dirname, "../..");

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export interface DevServerOptions {
  vars?: Record<string, string>;
  /** Directory for Durable Object / R2 state; a fresh temporary one when absent. */
  persistTo?: string;
  /** With `persistTo`: the directory is this server's own and is removed when it stops. */
  ownState?: boolean;
  /** Where the temporary state directory goes when `persistTo` is not given (default: the OS temp dir). */
  stateParent?: string;
  port?: number;
  /** Wrangler config; defaults to the project's wrangler.toml. */
  config?: string;
  /** Print the server's output (for debugging a test). */
  verbose?: boolean;
  /** wrangler's --log-level (default "info", which shows the Worker's info, warn and error lines). */
  logLevel?: "debug" | "log" | "info" | "warn" | "error" | "none";
}

export interface DevServer {
  url: string;
  port: number;
  /** wrangler dev's inspector (Chrome DevTools protocol): `/json` lists the Worker's isolate. */
  inspectorPort: number;
  persistTo: string;
  /** Process id of the wrangler child (workerd runs among its descendants). */
  pid: number;
  /** Everything the server printed so far (logs are JSON lines among wrangler's own output). */
  output(): string;
  stop(): Promise<void>;
  /**
   * Stops wrangler dev and starts it again with the same options on the same port and the same
   * local state (Durable Object storage, R2, KV, D1 kept): a server restart devices can reconnect
   * to at the address they know. Resolves once the new one answers /health; this object is then
   * stopped and the returned one is the server.
   */
  restart(): Promise<DevServer>;
}

/**
 * wrangler dev's local observability (on by default since 4.x) streams every invocation's trace
 * events and spans to a collector in the same workerd, on the thread that runs every object: in the
 * bench it took 40 % of the worker's CPU per connect. Deployed, tracing runs out of band, so tests
 * and the bench run without it unless X_LOCAL_OBSERVABILITY says otherwise.
 */
export function localObservability(): string {
  return process.env.X_LOCAL_OBSERVABILITY ?? "false";
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const inspector = await freePort();
  const ownDir = !opts.persistTo || opts.ownState === true;
  const persistTo = opts.persistTo ?? mkdtempSync(join(opts.stateParent ?? tmpdir(), "supie-e2e-"));
  const args = [
    join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--config",
    opts.config ?? join(ROOT, "wrangler.toml"),
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspector),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    "--log-level",
    opts.logLevel ?? "info",
  ];
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CI: "true",
      NO_COLOR: "1",
      X_LOCAL_OBSERVABILITY: localObservability(),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const onData = (b: Buffer) => {
    out += b.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
    if (opts.verbose) process.stderr.write(b);
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));

  const halt = async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(killer);
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${out.slice(-3000)}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`wrangler dev did not become ready:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    port,
    inspectorPort: inspector,
    persistTo,
    pid: child.pid ?? 0,
    output: () => out,
    async stop() {
      await halt();
      if (ownDir) rmSync(persistTo, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      return startDevServer({ ...opts, port, persistTo, ownState: ownDir });
    },
  };
}
