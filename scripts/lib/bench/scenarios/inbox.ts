import { FIRMWARE_HELLO, type DeviceClient, type Json } from "../../device-client.ts";
import type { Fleet } from "../connections.ts";
import { adminGet, deferred, openDevices, round2, within } from "../devices.ts";
import { summarize } from "../stats.ts";
import { echoTarget, type Target } from "../targets.ts";
import type { BenchContext, Figure, Scenario } from "../types.ts";

// The offline inbox (PROTOCOL §9), two measurements:
// - enqueue rate: S connected devices send to one offline device of their group as fast as the
//   receipts allow (each keeps WINDOW messages in flight), N messages in all; enqueues/s from the
//   first send to the last receipt. Every one of them lands in the one target object's SQLite.
// - drain time: exactly 100 messages queued for a fresh offline device (by S other connected
//   devices), then the device connects; from sending its hello to receiving the last of the 100.
//   Repeated on fresh devices, ours and echo alternating.
// Bare comparison: the echo object INSERTs one row into its own SQLite per RPC and, after a hello,
// SELECTs, DELETEs and sends them.
// The bench server runs with PEER_INBOX_MAX at its ceiling so QUEUE_FULL does not interfere.

/** PEER_INBOX_MAX of the bench server: the setting's ceiling (a larger value falls back to 100). */
export const PEER_INBOX_MAX = 10_000;
const WINDOW = 4;
const DRAIN_SIZE = 100;
const OUR_BURST = 200;

type Name = "ours" | "echo";

/** Receipts and error replies of one sender, routed to whoever waits for them. */
function watchReceipts(c: DeviceClient, onReceipt: (m: Json, at: number) => void, onError: (m: Json) => void): void {
  c.tap((m, at) => {
    if (m.type === "peer" && m.event === "receipt") {
      onReceipt(m, at);
      return true;
    }
    if (m.type === "peer" && m.event === "redelivered") return true; // ours tells senders after a drain
    if (m.status === "error" || m.type === "error") {
      onError(m);
      return true;
    }
    return false;
  });
}

interface EnqueuePhase {
  target: Name;
  sent: number;
  enqueued: number;
  other: number;
  errors: Record<string, number>;
  spanMs: number;
  rate: number | null;
  /** Enqueues/s over the first and the last third of the receipts: does it slow as the inbox fills? */
  rateFirstThird: number | null;
  rateLastThird: number | null;
  receiptMs: ReturnType<typeof summarize>;
  /** workerd CPU time per enqueued message while the phase ran (nothing else runs meanwhile). */
  cpuMsPerMessage: { worker: number; proxy: number } | null;
  /** Ours: the target's inbox count from the operator API afterwards. */
  inboxAfter: number | null;
}

async function enqueuePhase(ctx: BenchContext, target: Target, n: number, s: number): Promise<EnqueuePhase> {
  const ids = ctx.ids(`inbox-q-${target.name[0]}`, s + 1);
  const to = ids[s]!; // never connects
  const fleet = await openDevices(ctx, target, ids.slice(0, s));
  try {
    const errors: Record<string, number> = {};
    let enqueued = 0;
    let other = 0;
    const receipts: number[] = [];
    const latencies: number[] = [];
    const all = deferred();
    let outstanding = 0;
    let left = n;
    let warm = s;
    const warmDone = deferred();
    const sentAt = new Map<string, number>();
    let seq = 0;
    const send = (c: DeviceClient) => {
      const ref = `q${++seq}`;
      sentAt.set(ref, performance.now());
      c.send({ type: "peer", id: ref, to: [to], category: "chat", payload: { ref, text: `queued message ${seq}` } });
    };
    // Each sender sends its share at most: one socket may not exceed our per-socket burst.
    const quota = new Map(fleet.clients.map((c, i) => [c, Math.floor(n / s) + (i < n % s ? 1 : 0)]));
    const next = (c: DeviceClient) => {
      const mine = quota.get(c)!;
      if (mine > 0 && !ctx.stopped()) {
        quota.set(c, mine - 1);
        left--;
        outstanding++;
        send(c);
      } else if (outstanding === 0) all.resolve();
    };
    let measuring = false;
    for (const c of fleet.clients) {
      watchReceipts(
        c,
        (m, at) => {
          const ok = (m.enqueued as unknown[] | undefined)?.includes(to) ?? false;
          if (!measuring) {
            if (--warm === 0) warmDone.resolve();
            return;
          }
          outstanding--;
          if (ok) enqueued++;
          else other++;
          receipts.push(at);
          const t0 = sentAt.get(String(m.ref));
          if (t0 !== undefined) latencies.push(at - t0);
          next(c);
        },
        (m) => {
          const code = String(m.code ?? "error");
          errors[code] = (errors[code] ?? 0) + 1;
          if (!measuring) return;
          outstanding--; // that frame was refused: its slot is free again
          next(c);
        },
      );
    }
    // One message from each sender first: wakes the target object and creates its tables.
    for (const c of fleet.clients) send(c);
    await within(warmDone.promise, ctx.options.timeoutMs, null);
    measuring = true;
    const cpu0 = ctx.cpu();
    const t0 = performance.now();
    for (const c of fleet.clients) for (let i = 0; i < WINDOW; i++) next(c);
    const finished = await within(
      all.promise.then(() => true),
      Math.max(30_000, n * 20),
      false,
    );
    const cpu1 = ctx.cpu();
    const spanMs = receipts.length ? Math.max(...receipts) - t0 : 0;
    const third = Math.floor(receipts.length / 3);
    const sorted = [...receipts].sort((a, b) => a - b);
    const sliceRate = (from: number, to: number) =>
      third > 1 && sorted[to]! > sorted[from]! ? Math.round(((to - from) / (sorted[to]! - sorted[from]!)) * 1000) : null;
    let inboxAfter: number | null = null;
    if (target.name === "ours") inboxAfter = (await adminGet<{ inbox: number }>(ctx, `/api/devices/${encodeURIComponent(to)}`)).inbox;
    return {
      target: target.name,
      sent: n - left,
      enqueued,
      other,
      errors,
      spanMs: round2(spanMs),
      rate: finished && enqueued === n && spanMs > 0 ? Math.round((enqueued / spanMs) * 1000) : null,
      rateFirstThird: sliceRate(0, third),
      rateLastThird: sliceRate(sorted.length - 1 - third, sorted.length - 1),
      receiptMs: summarize(latencies),
      cpuMsPerMessage:
        cpu0 && cpu1 && enqueued
          ? { worker: round2((cpu1.workerMs - cpu0.workerMs) / enqueued), proxy: round2((cpu1.proxyMs - cpu0.proxyMs) / enqueued) }
          : null,
      inboxAfter,
    };
  } finally {
    await fleet.closeAll();
  }
}

interface Drain {
  helloMs: number | null;
  drainMs: number | null;
  received: number;
}

/** Queues exactly 100 messages for a fresh device, then connects it and times the drain. */
async function drainOnce(ctx: BenchContext, target: Target, senders: Fleet, to: string): Promise<Drain> {
  const { timeoutMs } = ctx.options;
  const queued = deferred();
  let receipts = 0;
  const per = Math.ceil(DRAIN_SIZE / senders.clients.length);
  let sent = 0;
  const waiting = senders.clients.map((c) => {
    const n = Math.min(per, DRAIN_SIZE - sent);
    sent += n;
    return { c, n };
  });
  let refused = "";
  const onReceipt = () => {
    if (++receipts === DRAIN_SIZE) queued.resolve();
  };
  for (const { c, n } of waiting) {
    const stop = c.tap((m) => {
      if (m.type === "peer" && m.event === "receipt") {
        if ((m.enqueued as unknown[] | undefined)?.includes(to)) onReceipt();
        else refused ||= JSON.stringify(m).slice(0, 300);
        return true;
      }
      return false;
    });
    void queued.promise.then(stop);
    for (let i = 0; i < n; i++) c.send({ type: "peer", to: [to], category: "chat", payload: { text: `offline message ${i}` } });
  }
  if (
    (await within(
      queued.promise.then(() => true),
      timeoutMs,
      false,
    )) === false
  )
    throw new Error(`${target.name}: only ${receipts} of ${DRAIN_SIZE} messages were queued for ${to}${refused ? `; e.g. ${refused}` : ""}`);

  await target.prepare(to);
  const { client } = await target.open(to, timeoutMs, { hello: false });
  try {
    let got = 0;
    let helloAt: number | null = null;
    const last = deferred<number>();
    client.tap((m, at) => {
      if (m.type === "hello") helloAt = at;
      else if (m.type === "peer" && m.event === "message") {
        if (++got === DRAIN_SIZE) last.resolve(at);
      } else return false;
      return true;
    });
    const t0 = performance.now();
    client.send(FIRMWARE_HELLO);
    const end = await within(last.promise, timeoutMs, null);
    return { helloMs: helloAt === null ? null : round2(helloAt - t0), drainMs: end === null ? null : round2(end - t0), received: got };
  } finally {
    await client.close(1000, "bench done");
  }
}

export const inboxScenario: Scenario = {
  name: "inbox",
  title: "offline inbox: enqueue rate and drain after hello",
  async run(ctx) {
    const { enqueues: n, senders: s, drains } = ctx.options;
    const notes: string[] = [];
    if (n + s > PEER_INBOX_MAX) notes.push(`${n + s} messages exceed PEER_INBOX_MAX ${PEER_INBOX_MAX} of the bench server: expect QUEUE_FULL`);
    if (Math.ceil(n / s) + 2 > OUR_BURST - 10)
      notes.push(
        `${Math.ceil(n / s)} messages per sender exceed what our server accepts from one socket at once (${OUR_BURST}, then 50/s): expect RATE_LIMITED`,
      );

    // Bare devices of this scenario drain their queued rows after the hello, as ours always do.
    const targets: Record<Name, Target> = { ours: ctx.ours, echo: echoTarget(() => ctx.server.url, { inbox: true }) };
    const phases: Partial<Record<Name, EnqueuePhase>> = {};
    for (const t of [targets.ours, targets.echo]) {
      if (ctx.stopped()) break;
      ctx.log(`inbox/${t.name}: ${s} senders queue ${n} messages for one offline device, ${WINDOW} in flight each`);
      phases[t.name] = await enqueuePhase(ctx, t, n, s);
      ctx.log(`inbox/${t.name}: ${phases[t.name]!.enqueued} enqueued in ${phases[t.name]!.spanMs} ms`);
    }

    ctx.log(`inbox: drain of ${DRAIN_SIZE} queued messages after the hello, ${drains} fresh devices per target`);
    const drainsOf: Record<Name, Drain[]> = { ours: [], echo: [] };
    const warmup: Partial<Record<Name, Drain>> = {};
    const senders: Partial<Record<Name, Fleet>> = {};
    try {
      // Fresh senders: the enqueue phase used up most of their sockets' burst allowance on ours.
      // One id list per target, so senders and the devices they queue for share a group (the ACL):
      // the senders, then a warm-up device (its drain is not measured), then one fresh device per drain.
      const ids = { ours: ctx.ids("inbox-d-o", s + 1 + drains), echo: ctx.ids("inbox-d-e", s + 1 + drains) };
      for (const t of [targets.ours, targets.echo]) senders[t.name] = await openDevices(ctx, t, ids[t.name].slice(0, s));
      const warm = { ours: ids.ours[s]!, echo: ids.echo[s]! };
      const fresh = { ours: ids.ours.slice(s + 1), echo: ids.echo.slice(s + 1) };
      for (const name of ["ours", "echo"] as const) warmup[name] = await drainOnce(ctx, targets[name], senders[name]!, warm[name]);
      for (let r = 0; r < drains && !ctx.stopped(); r++) {
        for (const name of r % 2 ? (["echo", "ours"] as const) : (["ours", "echo"] as const)) {
          drainsOf[name].push(await drainOnce(ctx, targets[name], senders[name]!, fresh[name][r]!));
        }
      }
    } finally {
      for (const f of Object.values(senders)) await f.closeAll();
    }

    const dr = {
      ours: summarize(drainsOf.ours.flatMap((d) => (d.drainMs === null ? [] : [d.drainMs]))),
      echo: summarize(drainsOf.echo.flatMap((d) => (d.drainMs === null ? [] : [d.drainMs]))),
    };
    const incomplete = { ours: drainsOf.ours.filter((d) => d.received < DRAIN_SIZE).length, echo: drainsOf.echo.filter((d) => d.received < DRAIN_SIZE).length };
    for (const name of ["ours", "echo"] as const) {
      const p = phases[name];
      if (p && Object.keys(p.errors).length) notes.push(`${name}: error replies while enqueueing ${JSON.stringify(p.errors)}`);
      if (p?.other) notes.push(`${name}: ${p.other} receipts did not say enqueued`);
      if (p && p.rate === null) notes.push(`${name}: no enqueue rate: ${p.enqueued} of ${n} enqueued`);
      if (incomplete[name]) notes.push(`${name}: ${incomplete[name]} drains did not deliver all ${DRAIN_SIZE} messages within the timeout`);
    }
    const po = phases.ours;
    if (po && po.inboxAfter !== null && po.inboxAfter !== n + s) notes.push(`ours: the target's inbox holds ${po.inboxAfter} messages, expected ${n + s}`);
    if (po?.rateFirstThird && po.rateLastThird && po.rateLastThird < 0.7 * po.rateFirstThird)
      notes.push(`ours: enqueueing slows as the inbox fills: ${po.rateFirstThird}/s over the first third of the receipts, ${po.rateLastThird}/s over the last`);

    const enq = { ours: phases.ours?.rate ?? null, echo: phases.echo?.rate ?? null };
    const figures: Figure[] = [
      {
        name: `enqueue rate into one offline device (${n} from ${s} senders)`,
        unit: "msg/s",
        ours: enq.ours,
        echo: enq.echo,
        checks: [{ text: "≥ 2000/s", pass: enq.ours !== null && enq.ours >= 2000 }],
      },
      { name: "enqueue receipt latency p50", unit: "ms", ours: phases.ours?.receiptMs?.p50 ?? null, echo: phases.echo?.receiptMs?.p50 ?? null },
      { name: "enqueue receipt latency p99", unit: "ms", ours: phases.ours?.receiptMs?.p99 ?? null, echo: phases.echo?.receiptMs?.p99 ?? null },
      {
        name: "worker workerd CPU per enqueue",
        unit: "ms",
        ours: phases.ours?.cpuMsPerMessage?.worker ?? null,
        echo: phases.echo?.cpuMsPerMessage?.worker ?? null,
      },
      {
        name: `drain of ${DRAIN_SIZE} after hello p50 (${drains} runs)`,
        unit: "ms",
        ours: dr.ours?.p50 ?? null,
        echo: dr.echo?.p50 ?? null,
        checks: [{ text: "< 100 ms", pass: dr.ours !== null && dr.ours.p50 < 100 }],
      },
      {
        name: "drain p99",
        unit: "ms",
        ours: dr.ours?.p99 ?? null,
        echo: dr.echo?.p99 ?? null,
        checks: [{ text: "< 100 ms", pass: dr.ours !== null && dr.ours.p99 < 100 && incomplete.ours === 0 }],
      },
      {
        name: "of which hello reply p50",
        unit: "ms",
        ours: summarize(drainsOf.ours.flatMap((d) => (d.helloMs === null ? [] : [d.helloMs])))?.p50 ?? null,
        echo: summarize(drainsOf.echo.flatMap((d) => (d.helloMs === null ? [] : [d.helloMs])))?.p50 ?? null,
      },
    ];
    return {
      figures,
      details: { window: WINDOW, peerInboxMax: PEER_INBOX_MAX, enqueue: phases, drainSize: DRAIN_SIZE, drainMs: dr, drains: drainsOf, drainWarmup: warmup },
      notes,
    };
  },
};
