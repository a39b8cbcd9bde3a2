import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseSettings } from "../src/config/settings.ts";
import { freePort } from "./lib/dev-server.ts";

// npm run check:deploy-guide (and test/e2e/deploy-guide.e2e.test.ts, part of `npm test`): runs
// every command of docs/deploy.md that needs no Cloudflare account, and checks that the guide still
// says each of them. It works on a copy of the project in a temporary directory (symlinks to the
// sources, wrangler.toml with the guide's environments appended, the guide's .dev.vars), so it
// never writes into the repository and never sees a developer's own .dev.vars. wrangler dev gets a
// free port instead of the guide's 8787. Nothing reaches Cloudflare: no credentials are passed on.

const ROOT = resolve(import.meta.dirname, "..");
const GUIDE = join(ROOT, "docs/deploy.md");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** Entries of the repository root not mirrored into the copy. */
const SKIP = new Set([".git", ".wrangler", ".dev.vars", "wrangler.toml", ".bench", "coverage", "dist"]);

export interface Step {
  name: string;
  ok: boolean;
  detail: string;
}

type Log = (line: string) => void;

/** The fenced block that follows `<!-- check-deploy-guide: <name> -->` in the guide. */
function markedBlock(guide: string, name: string): string {
  const at = guide.indexOf(`<!-- check-deploy-guide: ${name} -->`);
  if (at < 0) throw new Error(`docs/deploy.md has no block marked ${name}`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(guide.slice(at));
  if (!m) throw new Error(`no fenced block after the ${name} marker`);
  return m[1]!;
}

/** The first fenced block whose first line is `# <title>` (the guide's .dev.vars). */
function blockStartingWith(guide: string, firstLine: string): string {
  for (const m of guide.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) if (m[1]!.startsWith(firstLine)) return m[1]!;
  throw new Error(`docs/deploy.md has no block starting with ${firstLine}`);
}

/** [vars] of a wrangler.toml: NAME = "value" lines of that table. */
function topVars(toml: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const line of toml.split("\n")) {
    if (/^\s*\[/.test(line)) inVars = /^\s*\[vars\]\s*$/.test(line);
    const m = inVars ? /^([A-Z0-9_]+)\s*=\s*("(?:[^"\\]|\\.)*")\s*$/.exec(line) : null;
    if (m) vars[m[1]!] = JSON.parse(m[2]!) as string;
  }
  return vars;
}

interface Run {
  code: number | null;
  out: string;
}

function wrangler(cwd: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, out });
    });
  });
}

/** The environment of every wrangler run: no account credentials, no telemetry, no colour. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };
  for (const k of Object.keys(env)) if (/^(CLOUDFLARE|CF)_(API|ACCOUNT)/.test(k)) delete env[k];
  return env;
}

/** Binding names of wrangler's binding table, variables left out. */
function bindingNames(out: string): string[] {
  return [...out.matchAll(/^env\.([A-Z0-9_]+)\b.*$/gm)].filter((m) => !/Environment Variable|Secret/.test(m[0])).map((m) => m[1]!);
}

/** The machine's first non-loopback IPv4 address: what a board on the LAN would use. */
function lanAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return null;
}

interface Reply {
  status: number;
  body: string;
}

/** HTTP to the dev server at `connect`, as a board addressing it as `host` would. */
function call(
  connect: { host: string; port: number },
  host: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: connect.host, port: connect.port, method, path, headers: { host, ...headers } }, (res) => {
      let text = "";
      res.on("data", (b: Buffer) => (text += b.toString()));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", fail);
    req.setTimeout(20_000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

interface Dev {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

async function startDev(cwd: string, args: string[]): Promise<Dev> {
  const port = await freePort();
  const inspector = await freePort();
  const child = spawn(
    process.execPath,
    [WRANGLER, "dev", ...args, "--port", String(port), "--inspector-port", String(inspector), "--show-interactive-dev-session=false"],
    {
      cwd,
      env: childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${out.slice(-2000)}`);
    try {
      if ((await call({ host: "127.0.0.1", port }, `127.0.0.1:${port}`, "GET", "/health")).status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer: ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { port, child, output: () => out, stop };
}

const OTA_BODY = JSON.stringify({ application: { version: "1.6.0" }, board: { type: "bread-compact-wifi" }, mac_address: "aa:bb:cc:dd:ee:ff" });

export async function checkDeployGuide(log: Log = () => {}): Promise<Step[]> {
  const steps: Step[] = [];
  const step = (name: string, ok: boolean, detail = "") => {
    steps.push({ name, ok, detail });
    log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
  };
  const guide = readFileSync(GUIDE, "utf8");
  const says = (cmd: string) => step(`the guide says \`${cmd}\``, guide.includes(cmd));

  // Settings an environment does not list take the code's defaults: they must be [vars]' values.
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const vars = topVars(toml);
  const fromVars = parseSettings(vars).settings as Record<string, unknown>;
  const defaults = parseSettings({}).settings as Record<string, unknown>;
  const differ = Object.keys(vars).filter((k) => k in defaults && JSON.stringify(fromVars[k]) !== JSON.stringify(defaults[k]));
  step(`every [vars] value of wrangler.toml is the code's default (${Object.keys(vars).length} vars)`, differ.length === 0, differ.join(", "));

  const dir = mkdtempSync(join(tmpdir(), "supie-deploy-guide-"));
  const devs: Dev[] = [];
  try {
    for (const name of readdirSync(ROOT)) if (!SKIP.has(name) && !name.startsWith(".dev.vars")) symlinkSync(join(ROOT, name), join(dir, name));
    writeFileSync(
      join(dir, "wrangler.toml"),
      `${toml}\n# Appended by scripts/check-deploy-guide.ts from docs/deploy.md\n${markedBlock(guide, "environments")}`,
    );
    const devVars = blockStartingWith(guide, "# .dev.vars");
    writeFileSync(join(dir, ".dev.vars"), devVars);

    // Offline builds of each environment; each environment has every binding of the default one.
    const built: Record<string, string[]> = {};
    for (const env of ["", "staging", "production"]) {
      const cmd = `npx wrangler deploy --dry-run${env ? ` --env ${env}` : ""}`;
      says(cmd);
      const r = await wrangler(dir, ["deploy", "--dry-run", ...(env ? ["--env", env] : [])]);
      built[env] = bindingNames(r.out);
      step(`${cmd} succeeds`, r.code === 0 && r.out.includes("--dry-run: exiting now."), r.code === 0 ? `${built[env].length} bindings` : r.out.slice(-800));
    }
    for (const env of ["staging", "production"]) {
      const missing = built[""]!.filter((b) => !built[env]!.includes(b));
      step(
        `--env ${env} has every binding of the default environment`,
        missing.length === 0,
        missing.length ? `missing ${missing.join(", ")}` : built[env]!.join(" "),
      );
    }
    says("npx wrangler versions upload --dry-run --env production");
    const upload = await wrangler(dir, ["versions", "upload", "--dry-run", "--env", "production"]);
    step("npx wrangler versions upload --dry-run --env production succeeds", upload.code === 0, upload.code === 0 ? "" : upload.out.slice(-800));

    if (/^\s*binding\s*=\s*"FLEET"/m.test(toml)) {
      says("npx wrangler d1 migrations apply FLEET --local");
      const d1 = await wrangler(dir, ["d1", "migrations", "apply", "FLEET", "--local"]);
      step("npx wrangler d1 migrations apply FLEET --local succeeds", d1.code === 0, d1.code === 0 ? "" : d1.out.slice(-800));
    }

    // A board on the LAN: the guide's .dev.vars, every interface, a non-loopback address.
    const lan = lanAddress();
    says("npx wrangler dev --ip 0.0.0.0 --port 8787");
    const dev = await startDev(dir, ["--ip", "0.0.0.0"]);
    devs.push(dev);
    const at = (d: Dev) => ({ host: lan ?? "127.0.0.1", port: d.port });
    const hostOf = (d: Dev) => `${lan ?? "192.168.1.50"}:${d.port}`;
    const admin = /^ADMIN_TOKEN=(.*)$/m.exec(devVars)?.[1] ?? "";
    const ota = await call(at(dev), hostOf(dev), "POST", "/xiaozhi/ota/", { "device-id": "aa:bb:cc:dd:ee:ff", "content-type": "application/json" }, OTA_BODY);
    const otaJson = JSON.parse(ota.body || "{}") as { websocket?: { url?: string; token?: string } };
    step(
      `OTA check at ${hostOf(dev)} (not loopback) with the guide's .dev.vars: a token, the LAN WebSocket URL`,
      ota.status === 200 && Boolean(otaJson.websocket?.token) && otaJson.websocket?.url === `ws://${hostOf(dev)}/xiaozhi/v1/`,
      `${ota.status} ${ota.body.slice(0, 200)}`,
    );
    const config = await call(at(dev), hostOf(dev), "GET", "/api/config", { authorization: `Bearer ${admin}` });
    const secrets = (JSON.parse(config.body || "{}") as { secrets?: Record<string, boolean> }).secrets ?? {};
    step(
      "default environment: every key of .dev.vars reaches the Worker (LLM_API_KEY too)",
      config.status === 200 && secrets.DEVICE_TOKEN_SECRET === true && secrets.ADMIN_TOKEN === true && secrets.LLM_API_KEY === true,
      `${config.status} secrets ${JSON.stringify(secrets)}`,
    );
    await dev.stop();

    // Production locally: only the required secrets are read, and one missing is a clear 503.
    says("npx wrangler dev --env production");
    writeFileSync(
      join(dir, ".dev.vars.production"),
      devVars
        .split("\n")
        .filter((l) => !l.startsWith("DEVICE_TOKEN_SECRET="))
        .join("\n"),
    );
    const prod = await startDev(dir, ["--env", "production", "--ip", "0.0.0.0"]);
    devs.push(prod);
    step("wrangler dev --env production names the required secret it lacks", prod.output().includes("Missing required secrets: DEVICE_TOKEN_SECRET"), "");
    const refused = await call(
      at(prod),
      hostOf(prod),
      "POST",
      "/xiaozhi/ota/",
      { "device-id": "aa:bb:cc:dd:ee:ff", "content-type": "application/json" },
      OTA_BODY,
    );
    step(
      "without DEVICE_TOKEN_SECRET off loopback: 503 SERVER_MISCONFIGURED that points to .dev.vars",
      refused.status === 503 &&
        refused.body.includes("SERVER_MISCONFIGURED") &&
        refused.body.includes(".dev.vars") &&
        refused.body.includes("wrangler secret put DEVICE_TOKEN_SECRET"),
      `${refused.status} ${refused.body.slice(0, 300)}`,
    );
    const prodConfig = await call(at(prod), hostOf(prod), "GET", "/api/config", { authorization: `Bearer ${admin}` });
    const prodSecrets = (JSON.parse(prodConfig.body || "{}") as { secrets?: Record<string, boolean> }).secrets ?? {};
    step(
      "--env production (secrets.required): ADMIN_TOKEN read, the optional LLM_API_KEY dropped",
      prodConfig.status === 200 && prodSecrets.ADMIN_TOKEN === true && prodSecrets.LLM_API_KEY === false,
      `${prodConfig.status} secrets ${JSON.stringify(prodSecrets)}`,
    );
    await prod.stop();
  } catch (err) {
    step("the check ran to its end", false, (err as Error).stack ?? String(err));
  } finally {
    await Promise.all(devs.map((d) => d.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  return steps;
}

if (import.meta.main) {
  const steps = await checkDeployGuide((l) => console.log(l));
  const failed = steps.filter((s) => !s.ok);
  console.log(failed.length ? `\n${failed.length} of ${steps.length} checks failed` : `\nall ${steps.length} checks passed`);
  process.exit(failed.length ? 1 : 0);
}
