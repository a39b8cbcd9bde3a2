import type { DeviceClient, Json } from "../../device-client.ts";
import type { Fleet } from "../connections.ts";
import { adminGet, deferred, openDevices, pollUntil, round2, within } from "../devices.ts";
import { sleep, summarize } from "../stats.ts";
import { echoTarget, type Target } from "../targets.ts";
import type { BenchContext, Figure, Scenario } from "../types.ts";

// Task snapshot fan-out in working mode (PROTOCOL §7): G devices online in one group (ids sharing
// their first 8 characters); one of them sends {"type":"workflow","event":"update","tasks":[{"title":...}]}
// and every other member receives {"type":"workflow","event":"update","groupKey":...,"tasks":[...]}
// with that task. Measured: send → the LAST of the G−1 others has it (and the median member).
// Bare comparison: the actor's echo object makes one RPC to a bare group object, which stores the
// task and sends the snapshot by RPC to each of the other G−1 bare device objects, each sending it
// to its socket. Both groups live on the same server; the changes alternate between them.
// The devices do not enter working mode: a snapshot goes to every online member either way.

const WARMUP = 2;
const GAP_MS = 100;

type Name = "ours" | "echo";

interface Change {
  /** Send → the last member has the task. null when some member never got it. */
  lastMs: number | null;
  /** Send → the median member has it. */
  medianMs: number | null;
  missing: number;
}

/** The group's members watch for the snapshot that contains the current change's task. */
class Watch {
  private title = "";
  private t0 = 0;
  private arrivals: number[] = [];
  private remaining = new Set<DeviceClient>();
  private done = deferred();
  private readonly members: DeviceClient[];
  readonly actor: DeviceClient;

  constructor(fleet: Fleet) {
    this.actor = fleet.clients[0]!;
    this.members = fleet.clients.slice(1);
    const isSnapshot = (m: Json) => m.type === "workflow" && m.event === "update" && Array.isArray(m.tasks);
    for (const c of this.members) {
      c.tap((m, at) => {
        if (!isSnapshot(m)) return false;
        if (this.remaining.has(c) && (m.tasks as Json[]).some((t) => t.title === this.title)) {
          this.remaining.delete(c);
          this.arrivals.push(at - this.t0);
          if (this.remaining.size === 0) this.done.resolve();
        }
        return true;
      });
    }
    // The actor's own ack and snapshot are not measured.
    this.actor.tap((m) => m.type === "workflow");
  }

  async change(title: string, timeoutMs: number): Promise<Change> {
    this.title = title;
    this.arrivals = [];
    this.remaining = new Set(this.members);
    this.done = deferred();
    this.t0 = performance.now();
    this.actor.send({ type: "workflow", event: "update", tasks: [{ title }] });
    await within(this.done.promise, timeoutMs, null);
    const s = summarize(this.arrivals);
    return { lastMs: this.remaining.size === 0 && s ? s.max : null, medianMs: s?.p50 ?? null, missing: this.remaining.size };
  }
}

async function waitForPresence(ctx: BenchContext, target: Target, groupKey: string, n: number): Promise<boolean> {
  const key = encodeURIComponent(groupKey);
  return pollUntil(
    async () => {
      if (target.name === "ours") return (await adminGet<{ count: number }>(ctx, `/api/groups/${key}/devices`)).count >= n;
      const res = await fetch(new URL(`/__bench/group/${key}`, ctx.server.url));
      return res.ok && ((await res.json()) as { members: number }).members >= n;
    },
    15_000,
    200,
  );
}

export const fanoutScenario: Scenario = {
  name: "fanout",
  title: "task snapshot fan-out to one group",
  async run(ctx) {
    const { group: g, changes, timeoutMs } = ctx.options;
    const notes: string[] = [];
    // The bare devices join their bare group on connect, as ours join theirs after the first hello;
    // the changes start once each group lists all G devices online.
    const targets: Record<Name, Target> = { ours: ctx.ours, echo: echoTarget(() => ctx.server.url, { presence: true }) };
    const fleets: Partial<Record<Name, Fleet>> = {};
    const results: Record<Name, Change[]> = { ours: [], echo: [] };
    const warm: Record<Name, Change[]> = { ours: [], echo: [] };
    try {
      for (const name of ["ours", "echo"] as const) {
        const ids = ctx.ids(`fan-${name[0]}`, g);
        ctx.log(`fanout/${name}: connecting ${g} devices of group ${ids[0]!.slice(0, 8)}`);
        const fleet = await openDevices(ctx, targets[name], ids);
        fleets[name] = fleet;
        if (!(await waitForPresence(ctx, targets[name], ids[0]!.slice(0, 8), g)))
          throw new Error(`${name}: the group did not see all ${g} devices online within 15 s`);
      }
      const watches = { ours: new Watch(fleets.ours!), echo: new Watch(fleets.echo!) };
      for (const name of ["ours", "echo"] as const) {
        for (let i = 0; i < WARMUP; i++) {
          warm[name].push(await watches[name].change(`warm-up task ${name} ${i}`, timeoutMs));
          await sleep(GAP_MS);
        }
      }
      ctx.log(`fanout: ${changes} changes per target, alternating`);
      for (let c = 0; c < changes && !ctx.stopped(); c++) {
        for (const name of c % 2 ? (["echo", "ours"] as const) : (["ours", "echo"] as const)) {
          results[name].push(await watches[name].change(`bench task ${name} ${c}`, timeoutMs));
          await sleep(GAP_MS);
        }
      }
    } finally {
      for (const f of Object.values(fleets)) {
        const drops = f.drops.length;
        if (drops) notes.push(`${f.target.name}: ${drops} sockets dropped while held`);
        await f.closeAll();
      }
    }

    const last = {
      ours: summarize(results.ours.flatMap((r) => (r.lastMs === null ? [] : [r.lastMs]))),
      echo: summarize(results.echo.flatMap((r) => (r.lastMs === null ? [] : [r.lastMs]))),
    };
    const med = {
      ours: summarize(results.ours.flatMap((r) => (r.medianMs === null ? [] : [r.medianMs]))),
      echo: summarize(results.echo.flatMap((r) => (r.medianMs === null ? [] : [r.medianMs]))),
    };
    const missing = { ours: results.ours.reduce((s, r) => s + r.missing, 0), echo: results.echo.reduce((s, r) => s + r.missing, 0) };
    for (const name of ["ours", "echo"] as const) {
      if (missing[name]) notes.push(`${name}: ${missing[name]} snapshots never arrived within ${timeoutMs} ms`);
    }
    const w = warm.ours[0];
    if (w?.lastMs && last.ours && w.lastMs > 3 * last.ours.p50) notes.push(`ours: the group's first change took ${round2(w.lastMs)} ms (warm-up, not counted)`);
    const figures: Figure[] = [
      { name: `send → last of ${g - 1} members has it, p50 (${changes} changes)`, unit: "ms", ours: last.ours?.p50 ?? null, echo: last.echo?.p50 ?? null },
      { name: "send → last member, p99", unit: "ms", ours: last.ours?.p99 ?? null, echo: last.echo?.p99 ?? null },
      { name: "send → median member, p50", unit: "ms", ours: med.ours?.p50 ?? null, echo: med.echo?.p50 ?? null },
      { name: "snapshots missing", unit: "count", ours: missing.ours, echo: missing.echo, checks: [{ text: "0", pass: missing.ours === 0 }] },
    ];
    return {
      figures,
      details: { group: g, changes, warmup: warm, gapMs: GAP_MS, lastMs: last, medianMs: med, changesMs: results },
      notes,
    };
  },
};
