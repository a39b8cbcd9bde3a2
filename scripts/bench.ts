import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { localObservability, startDevServer, type DevServer } from "./lib/dev-server.ts";
import { configDrift } from "./lib/bench/config-drift.ts";
import { snapshotWorker, type Snapshot } from "./lib/bench/snapshot.ts";
import { cpuPressure, fdLimit, machineCpu, machineCpuShare, openFds, sampleCpu, sampleMemory, workerdProcesses } from "./lib/bench/proc.ts";
import { collectChecks, renderTable, runScenarios, type BenchReport } from "./lib/bench/report.ts";
import { SCENARIOS } from "./lib/bench/scenarios/index.ts";
import { echoTarget, FD_HINT, oursTarget } from "./lib/bench/targets.ts";
import type { BenchContext, BenchOptions, RestartOptions } from "./lib/bench/types.ts";
import { PEER_INBOX_MAX } from "./lib/bench/scenarios/inbox.ts";
import { reloadWorker } from "./lib/bench/reload.ts";
import { saveProfile, startProfiler, topFunctions } from "./lib/bench/profile.ts";

// npm run bench [-- --devices N --rate R --only connect,capacity,peer,inbox,fanout,finalize,voice --json]
// Starts bench/wrangler.toml (our Worker unchanged + a bare echo Durable Object, one workerd) with
// `wrangler dev`, runs the scenarios of scripts/lib/bench/scenarios against both, prints a table
// (or JSON with --json) and writes .bench/last.json. Progress goes to stderr.

const ROOT = resolve(import.meta.dirname, "..");
const USAGE = `usage: npm run bench -- [options]
  --devices N     concurrent idle devices in the capacity scenario (default 1000)
  --rate R        connects per second in the latency scenario (default 100)
  --connects N    connections per target in the latency scenario (default 500)
  --ramp R        opening rate while ramping up the capacity scenario (default 200)
  --hold S        seconds the idle devices are held (default 5)
  --timeout MS    per-connection timeout, handshake and hello each (default 10000)
  --messages N    peer: messages per pipelined burst (default 150; ours allows a burst of 200 per socket)
  --peer-samples N  peer: messages sent one at a time for the latency (default 200)
  --senders N     inbox: connected devices sending to the one offline device (default 10)
  --enqueues N    inbox: messages queued for it in the enqueue phase (default 1500, at most 10000)
  --drains N      inbox: drain repetitions per target, 100 queued messages each (default 10)
  --group N       fanout: devices in the group (default 100)
  --changes N     fanout: task changes per target (default 20)
  --segments N    finalize: meeting segments before the finalize (default 2000)
  --meetings N    finalize: meetings finalized, a fresh device each (default 5)
  --llm-ms MS     finalize, voice: the fake LLM's fixed latency before its first byte (default 200)
  --coders N      coding: devices in coding mode (default 20; the fake LLM's latency is --llm-ms)
  --lines R       coding: log lines per second per device (default 100)
  --coding-s S    coding: seconds the log stream runs (default 15)
  --queued N      recovery: peer messages queued for sleeping devices before the restart (default
                  1000, over devices/10 of them; the restart is of --devices connected devices)
  --recovery-by restart|reload  recovery: stop and start wrangler dev on the same state (default),
                  or a new Worker version under it, as a deploy (the port stays open)
  --talkers N     voice: devices talking at once (default 50)
  --turns N       voice: spoken turns per device (default 3)
  --spread MS     voice: the devices start their first turn evenly over this time (default 8000,
                  about one turn, so ends of speech are spread as among independent speakers;
                  0 = all at once)
  --asr-ms MS     voice: the fake ASR's fixed latency (default 100)
  --tts-ms MS     voice: the fake TTS's fixed latency before its first audio (default 100)
  --tool-ms MS    voice-tools: the simulated device's fixed latency before it answers the turn's
                  tools/call (default 150; the voice options above apply too)
  --only LIST     comma list of scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}
  --json          print the JSON report instead of the table
  --verbose       echo wrangler dev's output, with the Worker's own logs, to stderr
  --cpu-profile DIR  write a CPU profile of the Worker's isolate per scenario to DIR (open it in
                  Chrome DevTools) and log its top functions
  --state-on-disk keep workerd's local state on disk instead of tmpfs (/dev/shm): adds this
                  machine's fsync latency to every first write of a new object`;

const { values } = parseArgs({
  options: {
    devices: { type: "string", default: "1000" },
    rate: { type: "string", default: "100" },
    connects: { type: "string", default: "500" },
    ramp: { type: "string", default: "200" },
    hold: { type: "string", default: "5" },
    timeout: { type: "string", default: "10000" },
    messages: { type: "string", default: "150" },
    "peer-samples": { type: "string", default: "200" },
    senders: { type: "string", default: "10" },
    enqueues: { type: "string", default: "1500" },
    drains: { type: "string", default: "10" },
    group: { type: "string", default: "100" },
    changes: { type: "string", default: "20" },
    segments: { type: "string", default: "2000" },
    meetings: { type: "string", default: "5" },
    "llm-ms": { type: "string", default: "200" },
    coders: { type: "string", default: "20" },
    lines: { type: "string", default: "100" },
    "coding-s": { type: "string", default: "15" },
    queued: { type: "string", default: "1000" },
    "recovery-by": { type: "string", default: "restart" },
    talkers: { type: "string", default: "50" },
    turns: { type: "string", default: "3" },
    spread: { type: "string", default: "8000" },
    "asr-ms": { type: "string", default: "100" },
    "tts-ms": { type: "string", default: "100" },
    "tool-ms": { type: "string", default: "150" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    "state-on-disk": { type: "boolean", default: false },
    "cpu-profile": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number (got ${v})\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
function nonNegative(name: string, v: string): number {
  return v.trim() === "0" ? 0 : positive(name, v);
}
const options: BenchOptions = {
  devices: Math.round(positive("devices", values.devices)),
  rate: positive("rate", values.rate),
  connects: Math.round(positive("connects", values.connects)),
  ramp: positive("ramp", values.ramp),
  holdS: Math.round(positive("hold", values.hold)),
  timeoutMs: positive("timeout", values.timeout),
  messages: Math.round(positive("messages", values.messages)),
  peerSamples: Math.round(positive("peer-samples", values["peer-samples"])),
  senders: Math.round(positive("senders", values.senders)),
  enqueues: Math.round(positive("enqueues", values.enqueues)),
  drains: Math.round(positive("drains", values.drains)),
  group: Math.max(2, Math.round(positive("group", values.group))),
  changes: Math.round(positive("changes", values.changes)),
  segments: Math.round(positive("segments", values.segments)),
  meetings: Math.round(positive("meetings", values.meetings)),
  llmMs: positive("llm-ms", values["llm-ms"]),
  coders: Math.round(positive("coders", values.coders)),
  linesPerS: positive("lines", values.lines),
  codingS: positive("coding-s", values["coding-s"]),
  queued: Math.round(positive("queued", values.queued)),
  recoveryBy: values["recovery-by"] === "reload" ? "reload" : "restart",
  talkers: Math.round(positive("talkers", values.talkers)),
  turns: Math.round(positive("turns", values.turns)),
  spreadMs: nonNegative("spread", values.spread),
  asrMs: positive("asr-ms", values["asr-ms"]),
  ttsMs: positive("tts-ms", values["tts-ms"]),
  toolMs: nonNegative("tool-ms", values["tool-ms"]),
};
const only = values.only
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length) {
  console.error(`unknown scenario ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.name).join(", ")}`);
  process.exit(2);
}
const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;

const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const notes: string[] = [];

// File descriptors: the client holds one per socket (the latency scenario keeps 2 × connects open,
// the capacity one 2 × devices, the fan-out one 2 × group); wrangler dev's proxy workerd was seen
// holding 4–5 per socket.
const maxSockets = 2 * Math.max(options.connects, options.devices, options.group, options.talkers);
const needFds = maxSockets + 256;
const selfFds = fdLimit();
if (selfFds && selfFds.soft < needFds) {
  const msg = `file descriptor limit ${selfFds.soft} (hard ${selfFds.hard}) is below the ~${needFds} this run needs; connections will fail with EMFILE. Run \`ulimit -n ${Math.min(Math.max(needFds * 2, 65536), selfFds.hard)}\` first.`;
  log(`WARNING: ${msg}`);
  notes.push(msg);
}

const drift = configDrift(join(ROOT, "wrangler.toml"), join(ROOT, "bench/wrangler.toml"));
if (drift.length) {
  const msg = `bench/wrangler.toml lacks lines of wrangler.toml (update it): ${drift.join(" | ")}`;
  log(`WARNING: ${msg}`);
  notes.push(msg);
}

let stopping = false;
let server: DevServer | undefined;
let snapshot: Snapshot | undefined;
// Never leave a wrangler dev (and its workerd) running behind a crashed or terminated bench.
const bail = (why: string, err?: unknown) => {
  log(`${why}${err ? `: ${(err as Error)?.stack ?? String(err)}` : ""}; stopping the server`);
  void (server?.stop() ?? Promise.resolve()).finally(() => {
    snapshot?.remove();
    process.exit(1);
  });
};
process.on("uncaughtException", (err) => bail("uncaught exception", err));
process.on("unhandledRejection", (err) => bail("unhandled rejection", err));
process.on("SIGTERM", () => bail("terminated"));
process.on("SIGHUP", () => bail("hang-up"));
process.on("SIGINT", () => {
  if (stopping) {
    log("second interrupt: stopping the server now");
    void (server?.stop() ?? Promise.resolve()).finally(() => {
      snapshot?.remove();
      process.exit(130);
    });
    return;
  }
  stopping = true;
  log("interrupted: finishing the current step, closing sockets, stopping the server (Ctrl-C again to force)");
});

function macIds(prefix: string, n: number): string[] {
  // MAC-shaped ids, one locally administered OUI per prefix: like one vendor's fleet, the devices of
  // a phase share the default group (the id's first 8 characters).
  const h = createHash("sha256").update(prefix).digest();
  const oui = [(h[0]! & 0xfc) | 0x02, h[1]!, h[2]!];
  const hex = (b: number) => b.toString(16).padStart(2, "0");
  return Array.from({ length: n }, (_, i) => [...oui, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map(hex).join(":"));
}

function version(pkg: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return null;
  }
}

function gitHead(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

const startedAt = new Date();
log("bundling bench/wrangler.toml (a snapshot: edits during the run do not reload the Worker)");
const snap = await snapshotWorker(join(ROOT, "bench/wrangler.toml"));
snapshot = snap;
log(`starting the snapshot (${Math.round(snap.bytes / 1024)} KiB) under wrangler dev`);
// workerd keeps each object's local SQLite in a file; on this machine's disk, creating one costs a
// synchronous fsync on the JS thread, which is the machine, not the Worker. So state goes to tmpfs
// when there is one (--state-on-disk measures the disk too).
const stateParent = !values["state-on-disk"] && existsSync("/dev/shm") ? "/dev/shm" : undefined;
const startServer = (extra: Record<string, string> = {}, opts: RestartOptions = {}) =>
  startDevServer({
    config: snap.config,
    ...(stateParent ? { stateParent } : {}),
    verbose: values.verbose,
    // Quiet unless asked: wrangler printing a line per request costs CPU on the same machine.
    logLevel: values.verbose || opts.workerLogs ? "log" : "warn",
    vars: {
      AUTH_MODE: "device-token",
      DEVICE_TOKEN_SECRET: "bench-device-token-secret",
      ADMIN_TOKEN: "bench-admin-token",
      // The inbox scenario queues thousands of messages for one device: QUEUE_FULL must not
      // interfere. 10000 is the setting's ceiling; a larger value would fall back to the default 100.
      PEER_INBOX_MAX: String(PEER_INBOX_MAX),
      ...extra,
    },
  });
const describe = (srv: DevServer) =>
  workerdProcesses(srv.pid, srv.port)
    .map((p) => `${p.role} pid ${p.pid} ${Math.round(p.rssKiB / 1024)} MiB`)
    .join(", ") || "workerd not found";
try {
  server = await startServer();
} catch (err) {
  snap.remove();
  throw err;
}
let srv: DevServer = server;
let starts = 1;
/** Server output of every server of the run, for the error scan at the end. */
const outputs: (() => string)[] = [srv.output];
const workerd = workerdProcesses(srv.pid, srv.port);
log(`server at ${srv.url}; ${describe(srv)}`);
for (const p of workerd) {
  const lim = fdLimit(p.pid);
  if (lim && lim.soft < 5 * maxSockets + 256) notes.push(`workerd ${p.role} (pid ${p.pid}) may run out of file descriptors: limit ${lim.soft}`);
}

const base = () => srv.url;
const ctx: BenchContext = {
  get server() {
    return srv;
  },
  options,
  ours: oursTarget(base),
  echo: echoTarget(base),
  async restart(vars, opts) {
    const resumeProfile = await beforeRestart();
    await srv.stop();
    server = undefined;
    srv = await startServer(vars, opts);
    await resumeProfile?.();
    server = srv;
    starts++;
    outputs.push(srv.output);
    log(`fresh server at ${srv.url}${vars && Object.keys(vars).length ? ` with ${Object.keys(vars).join(", ")}` : ""}; ${describe(srv)}`);
  },
  async relaunch() {
    const t0 = performance.now();
    const old = srv;
    server = undefined;
    srv = await old.restart();
    server = srv;
    starts++;
    outputs.push(srv.output);
    log(`server restarted on the same state at ${srv.url}; ${describe(srv)}`);
    return { downMs: performance.now() - t0 };
  },
  async reload() {
    const r = await reloadWorker(snap.dir, srv.url);
    log(`new Worker version under the same server at ${srv.url}`);
    return r;
  },
  log,
  memory: () => sampleMemory(srv.pid, srv.port),
  cpu: () => sampleCpu(srv.pid, srv.port),
  stopped: () => stopping,
  ids: macIds,
  ...(values["cpu-profile"] ? { profile: (name: string) => profileScenario(values["cpu-profile"]!, name) } : {}),
};

// A restart inside a scenario (the fleet storm's echo half runs on a fresh server) ends the
// profile of the old server there and starts one of the new: one profile per server.
let profiling: { name: string; part: number; stop: () => Promise<string[]> } | undefined;

async function profileServer(dir: string, name: string, part: number) {
  const profiler = await startProfiler(srv.inspectorPort);
  profiling = {
    name,
    part,
    async stop() {
      profiling = undefined;
      const profile = await profiler.stop();
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}-${part}-${Date.now()}.cpuprofile`);
      saveProfile(file, profile);
      return [`cpu profile of ${name} (server ${part}): ${file}`, ...topFunctions(profile)];
    },
  };
}

async function profileScenario(dir: string, name: string): Promise<() => Promise<string[]>> {
  await profileServer(dir, name, 1);
  return async () => (profiling ? profiling.stop() : []);
}

async function beforeRestart(): Promise<(() => Promise<void>) | undefined> {
  const p = profiling;
  if (!p) return undefined;
  for (const line of await p.stop()) log(line);
  return () => profileServer(values["cpu-profile"]!, p.name, p.part + 1);
}

const loadBefore = loadavg();
const machineBefore = machineCpu();
const pressureBefore = cpuPressure();
let exitCode = 0;
let report: BenchReport | undefined;
try {
  const results = await runScenarios(scenarios, ctx);
  const emfile = JSON.stringify(results).includes("EMFILE");
  if (emfile) notes.push(FD_HINT);
  const serverErrors = outputs.flatMap((o) => o().split("\n")).filter((l) => /"level":"error"|✘|\bERROR\b|Uncaught/.test(l));
  if (serverErrors.length) notes.push(`server printed ${serverErrors.length} error lines, e.g. ${serverErrors.slice(0, 3).join(" ⏎ ").slice(0, 600)}`);
  if (results.some((r) => r.error)) exitCode = 1;
  const machine = machineCpuShare(machineBefore, machineCpu());
  const o = options;
  const sizes: Record<string, string> = {
    connect: `${o.connects} connects/target at ${o.rate}/s`,
    capacity: `devices ${o.devices}`,
    peer: `peer ${o.messages} pipelined, ${o.peerSamples} one by one`,
    inbox: `inbox ${o.enqueues} from ${o.senders} senders, ${o.drains} drains`,
    fanout: `fan-out ${o.group} devices × ${o.changes} changes`,
    finalize: `finalize ${o.meetings} × ${o.segments} segments, LLM ${o.llmMs} ms`,
    coding: `coding ${o.coders} devices × ${o.linesPerS} lines/s for ${o.codingS} s, LLM ${o.llmMs} ms`,
    recovery: `recovery (${o.recoveryBy}) of ${o.devices} devices, ${o.queued} messages queued`,
    voice: `voice ${o.talkers} talkers × ${o.turns} turns spread over ${o.spreadMs} ms, ASR ${o.asrMs} / LLM ${o.llmMs} / TTS ${o.ttsMs} ms`,
    "voice-tools": `voice-tools ${o.talkers} talkers × ${o.turns} turns spread over ${o.spreadMs} ms, ASR ${o.asrMs} / LLM 2 × ${o.llmMs} / TTS ${o.ttsMs} ms, device tool ${o.toolMs} ms`,
  };
  const summary =
    `wrangler dev ×${starts} · ${cpus().length} CPUs · machine busy ${machine ? `${machine.busyPct}% (steal ${machine.stealPct}%)` : "?"} · ` +
    `CPU pressure avg60 ${cpuPressure() ?? "?"}% · state on ${stateParent ? "tmpfs" : "disk"} · ` +
    `local observability ${localObservability() === "false" ? "off" : "on"} · ${scenarios
      .map((sc) => sizes[sc.name])
      .filter(Boolean)
      .join(", ")}`;
  report = {
    meta: {
      summary,
      startedAt: startedAt.toISOString(),
      durationS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
      options,
      scenarios: scenarios.map((s) => s.name),
      interrupted: stopping,
      git: gitHead(),
      node: process.version,
      wrangler: version("wrangler"),
      cpus: cpus().length,
      loadavg: { before: loadBefore.map((x) => Math.round(x * 100) / 100), after: loadavg().map((x) => Math.round(x * 100) / 100) },
      // The machine is shared: busy/steal over the run and CPU pressure tell how noisy the figures are.
      machineCpu: machine,
      cpuPressureAvg60: { before: pressureBefore, after: cpuPressure() },
      fdLimit: { client: selfFds, workerd: workerd.map((p) => ({ pid: p.pid, role: p.role, limit: fdLimit(p.pid), open: openFds(p.pid) })) },
      workerdAtStart: workerd,
      serverStarts: starts,
      serverVars: {
        PEER_INBOX_MAX,
        perScenario:
          "finalize adds LLM_BASE_URL (its fake LLM); voice and voice-tools add ASR_BASE_URL, LLM_BASE_URL, TTS_BASE_URL, TTS_MODEL (its fake providers) and print the Worker's logs",
      },
      server: "wrangler dev on a bundled snapshot of bench/wrangler.toml, a fresh one per scenario: clients → dev proxy workerd → worker workerd",
      bundleKiB: Math.round(snap.bytes / 1024),
    },
    scenarios: results,
    checks: collectChecks(results),
    notes,
  };
  mkdirSync(join(ROOT, ".bench"), { recursive: true });
  writeFileSync(join(ROOT, ".bench/last.json"), JSON.stringify(report, null, 2) + "\n");
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(renderTable(report) + "\n");
  log(`report written to .bench/last.json`);
} catch (err) {
  exitCode = 1;
  log(`bench failed: ${(err as Error).stack ?? String(err)}`);
  log(`server output (tail):\n${srv.output().slice(-3000)}`);
} finally {
  log("stopping the server");
  await srv.stop();
  snap.remove();
}
process.exit(exitCode);
