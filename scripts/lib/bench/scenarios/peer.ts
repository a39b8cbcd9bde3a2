import type { DeviceClient, Json } from "../../device-client.ts";
import type { Fleet } from "../connections.ts";
import { openDevices, round2 } from "../devices.ts";
import { sleep, summarize } from "../stats.ts";
import type { Target } from "../targets.ts";
import type { BenchContext, Figure, Scenario } from "../types.ts";

// Peer relay between two online devices of one group (PROTOCOL §9): device A sends
// {"type":"peer","to":[B],"payload":{...}}, B receives {"type":"peer","event":"message",...} and A
// its receipt. Bare comparison: echo object A forwards the same message by RPC to echo object B,
// which sends it to its socket, and A sends a receipt.
// - latency: messages one at a time (the next after the previous one's delivery and receipt and a
//   short gap), send → B's delivery; the targets alternate in blocks so noise hits both alike;
// - throughput: a burst of N messages sent at once on a fresh pair, N / (first send → the last of
//   all N deliveries and receipts); the median of a few rounds, ours and echo alternating.
// Our server limits text frames per socket (50/s, burst 200): the burst stays within it by default;
// frames beyond it are answered RATE_LIMITED and counted as lost.

const WARMUP = 10;
const BLOCK = 20;
const GAP_MS = 10;
const ROUNDS = 3;
const OUR_BURST = 200;

interface Timing {
  sentAt: number;
  deliveredAt: number;
  receiptAt: number;
}

/** Messages from A to B with their timings; matched by a client ref carried in the payload. */
class PeerLink {
  readonly a: DeviceClient;
  readonly b: DeviceClient;
  private seq = 0;
  private readonly pending = new Map<string, { t: Partial<Timing> & { sentAt: number }; done: (t: Timing | null) => void; timer: NodeJS.Timeout }>();
  /** Frames the server refused (RATE_LIMITED) or answered with an error, and receipts not "delivered". */
  readonly problems: string[] = [];

  constructor(a: DeviceClient, b: DeviceClient) {
    this.a = a;
    this.b = b;
    a.tap((m, at) => {
      if (m.type === "peer" && m.event === "receipt") {
        const ref = String(m.ref ?? "");
        if (!(m.delivered as unknown[] | undefined)?.includes(b.deviceId)) this.problems.push(`receipt not delivered: ${JSON.stringify(m).slice(0, 200)}`);
        this.mark(ref, "receiptAt", at);
        return true;
      }
      if (m.status === "error" || m.type === "error") {
        this.problems.push(String(m.code ?? "error"));
        return true;
      }
      return false;
    });
    b.tap((m, at) => {
      if (m.type === "peer" && m.event === "message") {
        this.mark(String((m.payload as Json | undefined)?.ref ?? ""), "deliveredAt", at);
        return true;
      }
      return false;
    });
  }

  private mark(ref: string, k: "deliveredAt" | "receiptAt", at: number): void {
    const p = this.pending.get(ref);
    if (!p) return;
    p.t[k] = at;
    if (p.t.deliveredAt !== undefined && p.t.receiptAt !== undefined) {
      this.pending.delete(ref);
      clearTimeout(p.timer);
      p.done(p.t as Timing);
    }
  }

  /** Sends one message; resolves with its timings, or null when it did not complete in time. */
  send(timeoutMs: number): Promise<Timing | null> {
    const ref = `m${++this.seq}`;
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        done(null);
      }, timeoutMs);
      const sentAt = performance.now();
      this.pending.set(ref, { t: { sentAt }, done, timer });
      this.a.send({ type: "peer", id: ref, to: [this.b.deviceId], category: "chat", payload: { ref, text: `bench message ${this.seq}` } });
    });
  }
}

async function openPair(ctx: BenchContext, target: Target, prefix: string): Promise<{ fleet: Fleet; link: PeerLink }> {
  // One id prefix: both ids share their first 8 characters, so one group, and the ACL allows it.
  const fleet = await openDevices(ctx, target, ctx.ids(prefix, 2));
  return { fleet, link: new PeerLink(fleet.clients[0]!, fleet.clients[1]!) };
}

interface Burst {
  rate: number | null;
  lost: number;
  spanMs: number;
  latencyMs: ReturnType<typeof summarize>;
  /** Worker workerd CPU time per message during the burst (nothing else runs meanwhile). */
  workerCpuMsPerMessage: number | null;
}

async function burst(ctx: BenchContext, target: Target, round: number, n: number): Promise<Burst & { problems: string[] }> {
  const { fleet, link } = await openPair(ctx, target, `peer-b${round}-${target.name[0]}`);
  try {
    for (let i = 0; i < 3; i++) await link.send(ctx.options.timeoutMs); // the pair's first hop, not measured
    const cpu0 = ctx.cpu();
    const t0 = performance.now();
    const all = await Promise.all(Array.from({ length: n }, () => link.send(ctx.options.timeoutMs)));
    const cpu1 = ctx.cpu();
    const ok = all.filter((t): t is Timing => t !== null);
    const end = Math.max(...ok.map((t) => Math.max(t.deliveredAt, t.receiptAt)));
    const spanMs = ok.length ? end - t0 : 0;
    return {
      rate: ok.length === n && spanMs > 0 ? Math.round((n / spanMs) * 1000) : null,
      lost: n - ok.length,
      spanMs: round2(spanMs),
      latencyMs: summarize(ok.map((t) => t.deliveredAt - t.sentAt)),
      workerCpuMsPerMessage: cpu0 && cpu1 && ok.length ? round2((cpu1.workerMs - cpu0.workerMs) / ok.length) : null,
      problems: link.problems,
    };
  } finally {
    await fleet.closeAll();
  }
}

export const peerScenario: Scenario = {
  name: "peer",
  title: "peer relay between two online devices",
  async run(ctx) {
    const { messages: n, peerSamples: samples, timeoutMs } = ctx.options;
    const targets = [ctx.ours, ctx.echo];
    const notes: string[] = [];
    if (n > OUR_BURST - 10)
      notes.push(
        `a burst of ${n} exceeds what our server accepts from one socket at once (${OUR_BURST}, then 50/s): expect RATE_LIMITED frames counted as lost`,
      );

    ctx.log(`peer: latency, ${samples} messages one at a time per target (blocks of ${BLOCK}, ${GAP_MS} ms apart)`);
    const pairs = { ours: await openPair(ctx, ctx.ours, "peer-lo"), echo: await openPair(ctx, ctx.echo, "peer-le") };
    const lat: Record<"ours" | "echo", Timing[]> = { ours: [], echo: [] };
    const lostOne = { ours: 0, echo: 0 };
    try {
      for (const t of targets) for (let i = 0; i < WARMUP; i++) await pairs[t.name].link.send(timeoutMs);
      for (let done = 0, b = 0; done < samples && !ctx.stopped(); done += BLOCK, b++) {
        for (const t of b % 2 ? [ctx.echo, ctx.ours] : [ctx.ours, ctx.echo]) {
          for (let i = done; i < Math.min(samples, done + BLOCK); i++) {
            const r = await pairs[t.name].link.send(timeoutMs);
            if (r) lat[t.name].push(r);
            else lostOne[t.name]++;
            await sleep(GAP_MS);
          }
        }
      }
    } finally {
      await pairs.ours.fleet.closeAll();
      await pairs.echo.fleet.closeAll();
    }

    ctx.log(`peer: throughput, bursts of ${n} on fresh pairs, ${ROUNDS} rounds per target`);
    const bursts: Record<"ours" | "echo", (Burst & { problems: string[] })[]> = { ours: [], echo: [] };
    for (let r = 0; r < ROUNDS && !ctx.stopped(); r++) {
      for (const t of r % 2 ? [ctx.echo, ctx.ours] : [ctx.ours, ctx.echo]) bursts[t.name].push(await burst(ctx, t, r, n));
    }

    const problems = {
      ours: [...pairs.ours.link.problems, ...bursts.ours.flatMap((b) => b.problems)],
      echo: [...pairs.echo.link.problems, ...bursts.echo.flatMap((b) => b.problems)],
    };
    const median = (xs: (number | null)[]) => {
      const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
      return v.length === xs.length && v.length ? v[Math.floor((v.length - 1) / 2)]! : null;
    };
    const rate = { ours: median(bursts.ours.map((b) => b.rate)), echo: median(bursts.echo.map((b) => b.rate)) };
    const lost = {
      ours: lostOne.ours + bursts.ours.reduce((s, b) => s + b.lost, 0),
      echo: lostOne.echo + bursts.echo.reduce((s, b) => s + b.lost, 0),
    };
    const d = { ours: summarize(lat.ours.map((t) => t.deliveredAt - t.sentAt)), echo: summarize(lat.echo.map((t) => t.deliveredAt - t.sentAt)) };
    const rc = { ours: summarize(lat.ours.map((t) => t.receiptAt - t.sentAt)), echo: summarize(lat.echo.map((t) => t.receiptAt - t.sentAt)) };
    const inBurst = { ours: median(bursts.ours.map((b) => b.latencyMs?.p50 ?? null)), echo: median(bursts.echo.map((b) => b.latencyMs?.p50 ?? null)) };
    for (const t of targets) {
      if (problems[t.name].length)
        notes.push(`${t.name}: ${problems[t.name].length} error replies or undelivered receipts, e.g. ${problems[t.name].slice(0, 3).join(" | ")}`);
      if (rate[t.name] === null) notes.push(`${t.name}: no throughput figure: a burst lost messages`);
    }

    const figures: Figure[] = [
      { name: `relay throughput, burst of ${n} (median of ${ROUNDS})`, unit: "msg/s", ours: rate.ours, echo: rate.echo },
      { name: "relay latency p50 (send → target's delivery)", unit: "ms", ours: d.ours?.p50 ?? null, echo: d.echo?.p50 ?? null },
      { name: "relay latency p99", unit: "ms", ours: d.ours?.p99 ?? null, echo: d.echo?.p99 ?? null },
      { name: "receipt latency p50 (send → sender's receipt)", unit: "ms", ours: rc.ours?.p50 ?? null, echo: rc.echo?.p50 ?? null },
      { name: "relay latency p50 within a burst", unit: "ms", ours: inBurst.ours, echo: inBurst.echo },
      {
        name: "worker workerd CPU per relayed message",
        unit: "ms",
        ours: median(bursts.ours.map((b) => b.workerCpuMsPerMessage)),
        echo: median(bursts.echo.map((b) => b.workerCpuMsPerMessage)),
      },
      { name: "messages lost", unit: "count", ours: lost.ours, echo: lost.echo, checks: [{ text: "0", pass: lost.ours === 0 }] },
    ];
    return {
      figures,
      details: {
        latency: { samples, warmup: WARMUP, block: BLOCK, gapMs: GAP_MS, deliveryMs: d, receiptMs: rc },
        throughput: { burst: n, rounds: bursts },
        lost,
        problems: { ours: problems.ours.slice(0, 20), echo: problems.echo.slice(0, 20) },
      },
      notes,
    };
  },
};
