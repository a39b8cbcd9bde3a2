import type { Json } from "./device-client.ts";

// Coding mode in the device simulator (scripts/device.ts --coding-log): a log file becomes the
// `coding` events a forwarder would send (PROTOCOL §8), and insights become readable lines. Pure,
// so both are unit-tested.
//
// File format: plain build output, one line per line. Two markers, in the style of CI workflow
// commands, become events instead of log lines:
//   ::step <name> <status>     {"type":"coding","event":"step","name":...,"status":...}
//   ::phase <name>             {"type":"coding","event":"phase","phase":...}
// Everything else is sent as `log` text, `batch` lines per message (a forwarder sends what it has
// read since the last send; the server splits the text into lines and infers each line's level).

const STEP = /^::step\s+(.+?)\s+(\S+)\s*$/;
const PHASE = /^::phase\s+(.+?)\s*$/;

export interface ReplayPlan {
  events: Json[];
  /** Log lines in the file (markers excluded). */
  lines: number;
}

export function planReplay(text: string, batch = 10): ReplayPlan {
  const size = Math.max(1, Math.floor(batch));
  const events: Json[] = [];
  let pending: string[] = [];
  let lines = 0;
  const flush = () => {
    if (pending.length) events.push({ type: "coding", event: "log", text: pending.join("\n") });
    pending = [];
  };
  const all = text.replace(/\r\n/g, "\n").split("\n");
  if (all.at(-1) === "") all.pop(); // the file's final newline is not an empty line
  for (const line of all) {
    const step = STEP.exec(line);
    const phase = step ? null : PHASE.exec(line);
    if (step || phase) {
      flush();
      events.push(step ? { type: "coding", event: "step", name: step[1], status: step[2] } : { type: "coding", event: "phase", phase: phase![1] });
      continue;
    }
    pending.push(line);
    lines++;
    if (pending.length >= size) flush();
  }
  flush();
  return { events, lines };
}

const LABELS: ReadonlyArray<[key: string, label: string]> = [
  ["insights", "insights"],
  ["risks", "risks"],
  ["actions", "actions"],
  ["nextSteps", "next steps"],
];

function build(v: unknown): string {
  return v === true ? "build ok" : v === false ? "build failed" : "build not run";
}

/** An insight or summary as a header line and one line per item; null for any other message. */
export function formatInsight(msg: Json): string[] | null {
  if (msg.type !== "coding" || (msg.event !== "insight" && msg.event !== "summary")) return null;
  const s = (msg.stats ?? {}) as Json;
  const head = [
    `* ${String(msg.event)} (${String(msg.source)})`,
    msg.phase ? `phase "${String(msg.phase)}"` : null,
    `errors ${String(s.errorCount)}`,
    `warnings ${String(s.warnCount)}`,
    build(s.buildSuccess),
    `tests failed ${String(s.testsFailed)}`,
    s.lastStep ? `last step "${String(s.lastStep)}"` : null,
  ]
    .filter(Boolean)
    .join(" · ");
  const out = [head];
  const width = Math.max(...LABELS.map(([, l]) => l.length));
  for (const [key, label] of LABELS) {
    const items = Array.isArray(msg[key]) ? (msg[key] as unknown[]) : [];
    for (const [i, item] of items.entries()) out.push(`    ${(i === 0 ? label : "").padEnd(width)}  ${String(item)}`);
  }
  return out;
}

/** What the replay needs of a connected device (DeviceClient has it). */
export interface ReplayClient {
  send(msg: unknown): void;
  request(msg: Json, replyType?: string, timeoutMs?: number): Promise<Json>;
  next(pred: (m: Json) => boolean, timeoutMs?: number): Promise<Json>;
}

export interface ReplayOptions {
  /** Pause between messages, ms (the server allows 50 messages a second per socket). */
  paceMs: number;
  /** How long to wait for the summary after `stop`. */
  summaryTimeoutMs: number;
  say(line: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Enters coding mode, replays the plan (`start`, its events, `stop`) and resolves with the summary.
 * Insights are printed by whoever watches the socket; refusals are returned as errors.
 */
export async function replay(client: ReplayClient, plan: ReplayPlan, opts: ReplayOptions): Promise<Json> {
  const mode = await client.request({ type: "mode", state: "start", mode: "coding" }, "mode");
  if (mode.status !== "ok") throw new Error(`mode start answered ${JSON.stringify(mode)}`);
  const isAck = (m: Json) => m.type === "coding" && typeof m.status === "string";
  const send = async (msg: Json) => {
    const ack = client.next(isAck);
    client.send(msg);
    const got = await ack;
    if (got.status !== "ok") opts.say(`! ${JSON.stringify(got)}`);
  };
  await send({ type: "coding", event: "start" });
  for (const [i, event] of plan.events.entries()) {
    if (i) await sleep(opts.paceMs);
    await send(event);
  }
  const summary = client.next((m) => m.type === "coding" && m.event === "summary", opts.summaryTimeoutMs);
  await send({ type: "coding", event: "stop" });
  return summary;
}
