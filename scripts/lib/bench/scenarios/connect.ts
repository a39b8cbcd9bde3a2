import { Fleet } from "../connections.ts";
import { paced, summarize, tally } from "../stats.ts";
import { failureKind } from "../targets.ts";
import type { Scenario } from "../types.ts";

// (a) connect+hello latency at a paced rate. Ours: OTA first (timed on its own, paced at the same
// rate), then socket creation → hello reply. Echo: socket creation → hello reply. The two targets
// alternate in one-second blocks so a noisy neighbour on the machine hits both alike. Sockets stay
// open until the end, as devices stay connected.

const WARMUP = 10;

export const connectScenario: Scenario = {
  name: "connect",
  title: "connect+hello latency",
  async run(ctx) {
    const { connects: n, rate, timeoutMs } = ctx.options;
    const targets = [ctx.ours, ctx.echo];
    const ids = { ours: ctx.ids("lat-o", n), echo: ctx.ids("lat-e", n) };
    const notes: string[] = [];

    ctx.log(`connect: warm-up (${WARMUP} sockets each)`);
    for (const t of targets) {
      const warm = new Fleet(t);
      const wids = ctx.ids(`warm-${t.name[0]}`, WARMUP);
      await Promise.allSettled(wids.map((id) => t.prepare(id)));
      await warm.open(wids, rate, timeoutMs, ctx.stopped);
      await warm.closeAll();
    }

    ctx.log(`connect: OTA checks for ${n} devices at ${rate}/s`);
    const cpuOta0 = ctx.cpu();
    const ota = await paced(n, rate, (i) => ctx.ours.prepare(ids.ours[i]!), ctx.stopped);
    const cpuOta1 = ctx.cpu();
    const otaMs = ota.results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const otaFailures = tally(ota.results.flatMap((r) => (r.status === "rejected" ? [failureKind(r.reason)] : [])));

    ctx.log(`connect: ${n} connects per target at ${rate}/s, alternating in blocks of ${Math.round(rate)}`);
    const fleets = { ours: new Fleet(ctx.ours), echo: new Fleet(ctx.echo) };
    const block = Math.max(1, Math.round(rate));
    const rates: Record<string, number[]> = { ours: [], echo: [] };
    // workerd CPU time spent while each target's blocks ran (nothing else runs meanwhile).
    const cpu = { ours: { workerMs: 0, proxyMs: 0 }, echo: { workerMs: 0, proxyMs: 0 } };
    for (let start = 0, b = 0; start < n && !ctx.stopped(); start += block, b++) {
      for (const t of b % 2 ? [ctx.echo, ctx.ours] : [ctx.ours, ctx.echo]) {
        const f = fleets[t.name];
        const c0 = ctx.cpu();
        await f.open(ids[t.name].slice(start, start + block), rate, timeoutMs, ctx.stopped);
        const c1 = ctx.cpu();
        if (c0 && c1) {
          cpu[t.name].workerMs += c1.workerMs - c0.workerMs;
          cpu[t.name].proxyMs += c1.proxyMs - c0.proxyMs;
        }
        rates[t.name]!.push(f.achievedRate);
      }
    }
    const perConnect = (t: "ours" | "echo", k: "workerMs" | "proxyMs") =>
      ctx.cpu() && fleets[t].helloMs.length ? Math.round((cpu[t][k] / fleets[t].helloMs.length) * 100) / 100 : null;
    const otaCpuMs = cpuOta0 && cpuOta1 && otaMs.length ? Math.round(((cpuOta1.workerMs - cpuOta0.workerMs) / otaMs.length) * 100) / 100 : null;
    const dropped = { ours: fleets.ours.drops.length, echo: fleets.echo.drops.length };
    const unclosed = (await fleets.ours.closeAll()) + (await fleets.echo.closeAll());
    if (unclosed) notes.push(`${unclosed} sockets did not finish their closing handshake within 15 s`);

    const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : null);
    // The same devices again: what a fleet mostly does (badges reconnect for every conversation).
    // The first pass paid for creating each device's state; this one measures known devices.
    ctx.log(`connect: the same ${n} devices reconnecting, at ${rate}/s`);
    const again = { ours: new Fleet(ctx.ours), echo: new Fleet(ctx.echo) };
    for (let start = 0, b = 0; start < n && !ctx.stopped(); start += block, b++) {
      for (const t of b % 2 ? [ctx.echo, ctx.ours] : [ctx.ours, ctx.echo]) {
        await again[t.name].open(ids[t.name].slice(start, start + block), rate, timeoutMs, ctx.stopped);
      }
    }
    await again.ours.closeAll();
    await again.echo.closeAll();
    const known = { ours: summarize(again.ours.helloMs), echo: summarize(again.echo.helloMs) };
    const kp50 = ratio(known.ours?.p50, known.echo?.p50);
    const kp99 = ratio(known.ours?.p99, known.echo?.p99);

    const s = { ours: summarize(fleets.ours.helloMs), echo: summarize(fleets.echo.helloMs) };
    const otaS = summarize(otaMs);
    const up = { ours: summarize(fleets.ours.upgradeMs), echo: summarize(fleets.echo.upgradeMs) };
    const failed = { ours: fleets.ours.failures.length, echo: fleets.echo.failures.length };
    if (failed.ours || failed.echo)
      notes.push(`failed connects: ours ${JSON.stringify(fleets.ours.failureTally())}, echo ${JSON.stringify(fleets.echo.failureTally())}`);
    if (Object.keys(otaFailures).length) notes.push(`failed OTA checks: ${JSON.stringify(otaFailures)}`);
    const minRate = Math.min(...rates.ours!, ...rates.echo!);
    if (minRate < rate * 0.9) notes.push(`the client fell behind the schedule: slowest block ran at ${minRate}/s`);

    const p50r = ratio(s.ours?.p50, s.echo?.p50);
    const p99r = ratio(s.ours?.p99, s.echo?.p99);
    return {
      figures: [
        {
          name: "connect+hello p50",
          unit: "ms",
          ours: s.ours?.p50 ?? null,
          echo: s.echo?.p50 ?? null,
          checks: p50r === null ? [] : [{ text: "≤ 1.5× echo", pass: p50r <= 1.5 }],
        },
        {
          name: "connect+hello p99",
          unit: "ms",
          ours: s.ours?.p99 ?? null,
          echo: s.echo?.p99 ?? null,
          checks: [{ text: "< 50 ms", pass: s.ours !== null && s.ours.p99 < 50 }, ...(p99r === null ? [] : [{ text: "≤ 1.5× echo", pass: p99r <= 1.5 }])],
        },
        { name: "connect+hello max", unit: "ms", ours: s.ours?.max ?? null, echo: s.echo?.max ?? null },
        {
          name: "known device reconnect+hello p50",
          unit: "ms",
          ours: known.ours?.p50 ?? null,
          echo: known.echo?.p50 ?? null,
          checks: kp50 === null ? [] : [{ text: "≤ 1.5× echo", pass: kp50 <= 1.5 }],
        },
        {
          name: "known device reconnect+hello p99",
          unit: "ms",
          ours: known.ours?.p99 ?? null,
          echo: known.echo?.p99 ?? null,
          checks: [
            { text: "< 50 ms", pass: known.ours !== null && known.ours.p99 < 50 },
            ...(kp99 === null ? [] : [{ text: "≤ 1.5× echo", pass: kp99 <= 1.5 }]),
          ],
        },
        { name: "of which upgrade (101) p50", unit: "ms", ours: up.ours?.p50 ?? null, echo: up.echo?.p50 ?? null },
        { name: "failed connects", unit: "count", ours: failed.ours, echo: failed.echo, checks: [{ text: "0", pass: failed.ours === 0 }] },
        { name: "dropped while open", unit: "count", ours: dropped.ours, echo: dropped.echo, checks: [{ text: "0", pass: dropped.ours === 0 }] },
        { name: "worker workerd CPU per connect", unit: "ms", ours: perConnect("ours", "workerMs"), echo: perConnect("echo", "workerMs") },
        { name: "dev proxy workerd CPU per connect", unit: "ms", ours: perConnect("ours", "proxyMs"), echo: perConnect("echo", "proxyMs") },
        { name: "OTA check p50 (not in connect)", unit: "ms", ours: otaS?.p50 ?? null, echo: null },
        { name: "OTA check p99 (not in connect)", unit: "ms", ours: otaS?.p99 ?? null, echo: null },
        { name: "worker workerd CPU per OTA check", unit: "ms", ours: otaCpuMs, echo: null },
      ],
      details: {
        connectsPerTarget: n,
        rate,
        achievedRate: { ours: Math.min(...rates.ours!), echo: Math.min(...rates.echo!) },
        helloMs: s,
        knownDeviceHelloMs: known,
        // The part of connect+hello until the upgrade was answered (auth, Worker, object accept).
        upgradeMs: up,
        cpuMs: cpu,
        otaMs: otaS,
        failures: { ours: fleets.ours.failureTally(), echo: fleets.echo.failureTally(), ota: otaFailures },
        drops: { ours: fleets.ours.drops.slice(0, 10), echo: fleets.echo.drops.slice(0, 10) },
      },
      notes,
    };
  },
};
