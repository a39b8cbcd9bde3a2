import type { DevServer } from "../dev-server.ts";
import type { CpuSample, MemorySample } from "./proc.ts";
import type { Target } from "./targets.ts";

// The benchmark's extension points. A scenario measures one thing for our Worker and for the bare
// echo Durable Object in the same workerd, and returns figures side by side; the runner adds the
// ratio (ours / echo), checks targets and prints. Add a scenario: write a `Scenario` in
// scenarios/<name>.ts and list it in scenarios/index.ts.

export interface BenchOptions {
  /** Concurrent idle devices for the capacity scenario. */
  devices: number;
  /** Connects per second in the latency scenario. */
  rate: number;
  /** Connections per target in the latency scenario. */
  connects: number;
  /** Opening rate while ramping up the capacity scenario. */
  ramp: number;
  /** Seconds the idle devices are held open. */
  holdS: number;
  /** Per-connection timeout (hello reply). */
  timeoutMs: number;
  /** peer: messages per pipelined burst (throughput). */
  messages: number;
  /** peer: messages sent one at a time (latency). */
  peerSamples: number;
  /** inbox: connected devices sending to the one offline target. */
  senders: number;
  /** inbox: messages sent to the offline target in the enqueue phase. */
  enqueues: number;
  /** inbox: drain repetitions per target, each on a fresh device with 100 queued messages. */
  drains: number;
  /** fanout: devices in the one group. */
  group: number;
  /** fanout: task changes per target. */
  changes: number;
  /** finalize: segments per meeting. */
  segments: number;
  /** finalize: meetings finalized (fresh device each). */
  meetings: number;
  /** finalize and voice: fixed latency of the fake LLM (before its first byte), ms. */
  llmMs: number;
  /** coding: devices in coding mode. */
  coders: number;
  /** coding: log lines per second per device. */
  linesPerS: number;
  /** coding: seconds the log stream runs. */
  codingS: number;
  /** recovery: peer messages queued for sleeping devices before the restart (devices = `devices`). */
  queued: number;
  /** recovery: a restart of wrangler dev (the port closes) or a reload of a new Worker version under it. */
  recoveryBy: "restart" | "reload";
  /** voice: devices talking at once. */
  talkers: number;
  /** voice: spoken turns per device. */
  turns: number;
  /** voice: the devices start their first turn evenly over this many ms (0: all at once). */
  spreadMs: number;
  /** voice: fixed latency of the fake ASR (before its answer), ms. */
  asrMs: number;
  /** voice: fixed latency of the fake TTS (before its first audio), ms. */
  ttsMs: number;
  /** voice-tools: the simulated device's fixed latency before it answers a `tools/call`, ms. */
  toolMs: number;
}

export interface RestartOptions {
  /**
   * Have wrangler print the Worker's own log lines (its --log-level "log"), so a scenario can read
   * them from `server.output()` (e.g. the `voice.turn` breakdown). Off by default: wrangler printing
   * lines costs CPU on the same machine.
   */
  workerLogs?: boolean;
}

export interface BenchContext {
  /** The running server; replaced by restart(). Every scenario starts on a fresh one. */
  readonly server: DevServer;
  options: BenchOptions;
  readonly ours: Target;
  readonly echo: Target;
  /**
   * Stops the server and starts a fresh one from the same snapshot (same code, config and
   * secrets, new workerd, empty storage). For measurements that the previous phase's leftovers
   * would skew, such as memory: workerd does not give freed memory back. `vars` are server vars
   * for this server only, on top of the run's (e.g. LLM_BASE_URL of a fake LLM the scenario started).
   */
  restart(vars?: Record<string, string>, opts?: RestartOptions): Promise<void>;
  /**
   * Stops the server and starts it again with the same code, vars and port on the same local state
   * (Durable Object storage, R2, KV, D1 kept): a restart the devices reconnect to at the address
   * they know. Returns when the new server answers /health, with the time it was down.
   */
  relaunch(): Promise<{ downMs: number }>;
  /**
   * A new version under the same server, as a deploy: the bundle changes, wrangler dev replaces the
   * runtime (every socket closes) on the same port and state. Returns once the new version answers.
   */
  reload(): Promise<{ downMs: number }>;
  /** Progress line on stderr. */
  log(msg: string): void;
  /** RSS of the workerd processes wrangler dev spawned (null where /proc is unavailable). */
  memory(): MemorySample | null;
  /** CPU time used so far by the workerd processes (null where /proc is unavailable). */
  cpu(): CpuSample | null;
  /** Set when the run is interrupted (Ctrl-C): scenarios stop opening connections and clean up. */
  stopped(): boolean;
  /** Unique device ids for this run: `<prefix>` + index, valid device ids. */
  ids(prefix: string, n: number): string[];
  /** With --cpu-profile: profiles the Worker's isolate while a scenario runs; resolves to a summary. */
  profile?(name: string): Promise<() => Promise<string[]>>;
}

/** A check on a figure, e.g. "< 50 ms" on ours, or "≤ 1.5× echo" on the ratio. */
export interface Check {
  text: string;
  pass: boolean;
}

export interface Figure {
  name: string;
  unit: string;
  ours: number | null;
  echo: number | null;
  /** Filled by the runner: ours / echo, when both are numbers and echo is not 0. */
  ratio?: number | null;
  checks?: Check[];
}

export interface ScenarioResult {
  figures: Figure[];
  /** Everything else worth keeping in the JSON report (distributions, error tallies, samples). */
  details: Record<string, unknown>;
  /** Observations for the reader (failures, odd behaviour). */
  notes: string[];
}

export interface Scenario {
  name: string;
  title: string;
  /**
   * The scenario starts its own fresh server (ctx.restart(vars)), e.g. because it needs server vars
   * only it knows; the runner then does not restart the server before it.
   */
  ownServer?: boolean;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}
