import { Fleet } from "../connections.ts";
import { openFds, type MemorySample } from "../proc.ts";
import { paced, sleep, tally } from "../stats.ts";
import { failureKind, type Target } from "../targets.ts";
import type { BenchContext, Figure, Scenario } from "../types.ts";

// (b) idle capacity and (c) workerd memory per connected device. For each target, on a fresh
// server: ramp to N idle sockets, hold them, check every held socket still answers, count refused
// (never got a hello) and dropped (closed by the server while held), take the RSS of the workerd
// processes before and after, close everything.
//
// Why a fresh server per target rather than both in one workerd: workerd does not give freed
// memory back, so whatever runs second grows into memory the first one freed. Measured here at
// 1000 devices: one after the other, the second phase grew 10× less (even in the dev proxy, which
// does the same work for both); stacked (the first phase held while the second opened), the bare
// echo, going first, came out at 1.5× *our* per-device memory. Two fresh servers from the same
// snapshot are the same runtime, code and config, and give each target the same starting point.
// All OTA checks run first, on a server of their own (tokens are stateless and stay valid), so
// both figures are sockets and objects only.

interface Phase {
  target: string;
  opened: number;
  refused: number;
  refusedKinds: Record<string, number>;
  dropped: number;
  dropSamples: { id: string; code: number; reason: string }[];
  alive: number;
  rampRate: number;
  rampS: number;
  memBefore: MemorySample | null;
  memHeld: MemorySample | null;
  memAfterClose: MemorySample | null;
  /** Open file descriptors of each workerd process while the devices were held. */
  fdsHeld: { role: string; pid: number; openFds: number | null }[];
  holdSeries: { t: number; totalKiB: number | null; workerCpuMs: number | null; open: number }[];
  /** Worker workerd CPU while the sockets sat idle, ms per second (timers or wake-ups show here). */
  idleCpuMsPerS: number | null;
  perDeviceKiB: { total: number; worker: number; proxy: number } | null;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

async function phase(ctx: BenchContext, target: Target, ids: string[]): Promise<Phase> {
  const { ramp, holdS, timeoutMs } = ctx.options;
  const n = ids.length;
  await sleep(1000);
  const memBefore = ctx.memory();
  ctx.log(`capacity/${target.name}: opening ${n} sockets at ${ramp}/s`);
  const fleet = new Fleet(target);
  const t0 = performance.now();
  try {
    await fleet.open(ids, ramp, timeoutMs, ctx.stopped);
    const rampS = (performance.now() - t0) / 1000;
    ctx.log(`capacity/${target.name}: ${fleet.clients.length} open, ${fleet.failures.length} refused; holding ${holdS} s`);
    const holdSeries: Phase["holdSeries"] = [];
    const h0 = performance.now();
    for (let s = 0; s <= holdS && !ctx.stopped(); s++) {
      holdSeries.push({
        t: round1((performance.now() - h0) / 1000),
        totalKiB: ctx.memory()?.totalKiB ?? null,
        workerCpuMs: ctx.cpu()?.workerMs ?? null,
        open: fleet.openCount,
      });
      if (s < holdS) await sleep(1000);
    }
    // Idle CPU from the second sample on: the first second still carries the ramp's tail.
    const from = holdSeries[1] ?? holdSeries[0];
    const to = holdSeries[holdSeries.length - 1];
    const idleCpuMsPerS =
      from && to && to.t > from.t && from.workerCpuMs !== null && to.workerCpuMs !== null
        ? round1((to.workerCpuMs - from.workerCpuMs) / (to.t - from.t))
        : null;
    const memHeld = ctx.memory();
    const fdsHeld = (memHeld?.processes ?? []).map((p) => ({ role: p.role, pid: p.pid, openFds: openFds(p.pid) }));
    const alive = await fleet.probe();
    const dropped = fleet.drops.length;
    ctx.log(`capacity/${target.name}: ${alive} answered the probe, ${dropped} dropped; closing`);
    await fleet.closeAll();
    await sleep(1500);
    const opened = fleet.clients.length;
    const per = (k: "totalKiB" | "workerKiB" | "proxyKiB") => (memBefore && memHeld ? round1((memHeld[k] - memBefore[k]) / opened) : 0);
    return {
      target: target.name,
      opened,
      refused: fleet.failures.length,
      refusedKinds: fleet.failureTally(),
      dropped,
      dropSamples: fleet.drops.slice(0, 10),
      alive,
      rampRate: fleet.achievedRate,
      rampS: round1(rampS),
      memBefore,
      memHeld,
      memAfterClose: ctx.memory(),
      fdsHeld,
      holdSeries,
      idleCpuMsPerS,
      perDeviceKiB: memBefore && memHeld && opened ? { total: per("totalKiB"), worker: per("workerKiB"), proxy: per("proxyKiB") } : null,
    };
  } finally {
    await fleet.closeAll(); // no-op when already closed; covers errors and interrupts
  }
}

export const capacityScenario: Scenario = {
  name: "capacity",
  title: "idle capacity and memory per device",
  async run(ctx) {
    const n = ctx.options.devices;
    const ids = { echo: ctx.ids("cap-e", n), ours: ctx.ids("cap-o", n) };
    ctx.log(`capacity: OTA checks for ${n} devices of ours`);
    const ota = await paced(n, ctx.options.ramp, (i) => ctx.ours.prepare(ids.ours[i]!), ctx.stopped);
    const otaFailures = tally(ota.results.flatMap((r) => (r.status === "rejected" ? [failureKind(r.reason)] : [])));

    await ctx.restart(); // the OTA checks' leftovers would flatter whichever phase ran on that server
    const echo = await phase(ctx, ctx.echo, ids.echo);
    if (ctx.stopped()) throw new Error("interrupted before our devices were opened");
    await ctx.restart();
    const ours = await phase(ctx, ctx.ours, ids.ours);

    const notes: string[] = [];
    if (Object.keys(otaFailures).length) notes.push(`failed OTA checks ${JSON.stringify(otaFailures)}`);
    for (const p of [ours, echo]) {
      if (p.refused) notes.push(`${p.target}: ${p.refused} refused ${JSON.stringify(p.refusedKinds)}`);
      if (p.dropped) notes.push(`${p.target}: ${p.dropped} dropped, e.g. ${JSON.stringify(p.dropSamples.slice(0, 3))}`);
      if (p.alive < p.opened - p.dropped) notes.push(`${p.target}: only ${p.alive} of ${p.opened - p.dropped} held sockets answered the probe`);
      if (!p.perDeviceKiB) notes.push(`${p.target}: no memory figure (workerd processes not found under /proc)`);
    }

    const fig = (name: string, unit: string, f: (p: Phase) => number | null, checks?: Figure["checks"]): Figure => ({
      name,
      unit,
      ours: f(ours),
      echo: f(echo),
      ...(checks ? { checks } : {}),
    });
    return {
      figures: [
        fig("devices connected at once", "count", (p) => p.opened - p.dropped, [{ text: `${n} of ${n}`, pass: ours.opened - ours.dropped === n }]),
        fig("refused", "count", (p) => p.refused, [{ text: "0", pass: ours.refused === 0 }]),
        fig("dropped while idle", "count", (p) => p.dropped, [{ text: "0", pass: ours.dropped === 0 }]),
        fig("alive after hold (probe answered)", "count", (p) => p.alive),
        fig("memory per device, all workerd", "KiB", (p) => p.perDeviceKiB?.total ?? null),
        fig("memory per device, worker workerd", "KiB", (p) => p.perDeviceKiB?.worker ?? null),
        fig("memory per device, dev proxy workerd", "KiB", (p) => p.perDeviceKiB?.proxy ?? null),
        fig("worker workerd CPU while held idle", "ms/s", (p) => p.idleCpuMsPerS),
      ],
      details: {
        devices: n,
        ramp: ctx.options.ramp,
        holdS: ctx.options.holdS,
        order: "OTA checks for ours; then echo on a fresh server; then ours on another fresh server",
        otaFailures,
        ours,
        echo,
      },
      notes,
    };
  },
};
