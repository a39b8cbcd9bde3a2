import type { DeviceClient, Json } from "../../device-client.ts";
import { Fleet } from "../connections.ts";
import { adminGet, adminRequest, apiHeadroom, deferred, pollUntil, round2, within } from "../devices.ts";
import { paced, sleep, summarize, tally, type Summary } from "../stats.ts";
import { echoTarget, failureKind, type Target } from "../targets.ts";
import type { BenchContext, Figure, Scenario } from "../types.ts";

// The fleet at scale (issue 13), on one server:
// 1. registry: 10,000 devices arrive by OTA check (from many client addresses, CF-Connecting-IP),
//    then GET /api/devices?limit=50 (first pages and later ones by cursor) and GET /api/stats,
//    one request at a time; GET /health of the same Worker is the floor (no D1, no object).
// 2. connect storm: 2,000 new devices of ONE group connect at 200/s (OTA first, not timed): every
//    hello's latency, and how long after the last hello the registry lists all 2,000 online.
//    Bare: 2,000 echo sockets at 200/s, each joining a bare group object by RPC on connect.
// 3. task fan-out: with those 2,000 online, one sends a task change; time until the LAST of the
//    other 1,999 has the snapshot with it. Bare: one RPC to the bare group, which sends the
//    snapshot by RPC to every other bare device object (as the fanout scenario).
// Sizes are the issue's; FLEET_STORM_RATE (env) changes the storm's rate, e.g. to one this machine
// sustains, and FLEET_STORM_ONLY=1 skips the registry part (1.; also for a build without FLEET). The echo half runs on a fresh server, so ours' leftovers (registry writes, closes) do
// not load it.

const KNOWN = 10_000;
const KNOWN_GROUPS = 10;
const OTA_CONCURRENCY = 32;
const QUERIES = 300;
/** Rounds of the queries before the timed ones (isolate, statement caches): few, the API's budget is 600 a minute. */
const WARMUP_QUERIES = 30;
const STORM = 2_000;
const STORM_RATE = Number(process.env.FLEET_STORM_RATE) > 0 ? Number(process.env.FLEET_STORM_RATE) : 200;
/** The storm's OTA checks go at this rate beforehand, and the server gets quiet before the storm. */
const PREP_RATE = 100;
const STORM_ONLY = process.env.FLEET_STORM_ONLY === "1";
const CHANGES = 10;
const GAP_MS = 200;

type Name = "ours" | "echo";

/**
 * One GET of the operator API, timed; throws on a non-2xx answer. The API's rate limit (600 a
 * minute for the bench's one token) makes the queries wait for budget: before `t0`, so untimed.
 */
async function timedGet(ctx: BenchContext, path: string): Promise<{ ms: number; body: Json }> {
  await apiHeadroom(ctx);
  const t0 = performance.now();
  const res = await adminRequest(ctx, path);
  const body = (await res.json()) as Json;
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
  return { ms, body };
}

/** OTA checks for `ids`, `concurrency` at a time, each from its own client address. */
async function otaAll(ctx: BenchContext, ids: string[], concurrency: number): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const check = (i: number) =>
    fetch(new URL("/supie/ota/", ctx.server.url), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "device-id": ids[i]!,
        "user-agent": "bread-compact-wifi/1.6.0",
        "cf-connecting-ip": `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
      },
      body: JSON.stringify({ application: { version: "1.6.0" }, board: { type: "bread-compact-wifi" } }),
    }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.ok ? null : String(res.status);
      },
      (err: unknown) => failureKind(err),
    );
  const worker = async () => {
    while (next < ids.length && !ctx.stopped()) {
      const i = next++;
      // A check the dev proxy drops under load is tried again, as a device would.
      let failure = await check(i);
      for (let attempt = 0; failure !== null && attempt < 2; attempt++) failure = await check(i);
      if (failure !== null) failures.push(failure);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

async function measureQueries(ctx: BenchContext, rounds: number) {
  const list: number[] = [];
  const deep: number[] = [];
  const stats: number[] = [];
  const health: number[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < rounds && !ctx.stopped(); i++) {
    list.push((await timedGet(ctx, "/api/devices?limit=50")).ms);
    // Later pages by cursor: a walk through the fleet, restarting at the end.
    const page = await timedGet(ctx, `/api/devices?limit=50${cursor ? `&cursor=${cursor}` : ""}`);
    deep.push(page.ms);
    cursor = (page.body.nextCursor as string | null) ?? null;
    stats.push((await timedGet(ctx, "/api/stats")).ms);
    const t0 = performance.now();
    await (await fetch(new URL("/health", ctx.server.url))).arrayBuffer();
    health.push(performance.now() - t0);
  }
  return { list: summarize(list), deep: summarize(deep), stats: summarize(stats), health: summarize(health) };
}

/** The group's members watch for the snapshot that contains the current change's task. */
class Watch {
  private title = "";
  private t0 = 0;
  private arrivals: number[] = [];
  private remaining = new Set<DeviceClient>();
  private done = deferred();
  private readonly members: DeviceClient[];
  private readonly actor: DeviceClient;

  constructor(clients: DeviceClient[]) {
    this.actor = clients[0]!;
    this.members = clients.slice(1);
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
    this.actor.tap((m) => m.type === "workflow");
  }

  async change(title: string, timeoutMs: number): Promise<{ lastMs: number | null; medianMs: number | null; missing: number }> {
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

interface StormResult {
  hello: Summary | null;
  failures: Record<string, number>;
  achievedRate: number;
  /** Last hello → the group lists every device online (registry for ours, bare group for echo). */
  caughtUpMs: number | null;
  fanout: { last: Summary | null; median: Summary | null; missing: number };
  cpuPerConnectMs: number | null;
}

async function storm(ctx: BenchContext, name: Name, target: Target, notes: string[]): Promise<StormResult> {
  const ids = ctx.ids(`storm-${name[0]}`, STORM);
  const key = ids[0]!.slice(0, 8);
  if (name === "ours") {
    ctx.log(`fleet/storm: OTA checks for ${STORM} devices of group ${key}`);
    // A check the dev proxy drops under load ("Network connection lost") is tried again, as a device would.
    const prepare = async (id: string) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await target.prepare(id);
        } catch (err) {
          if (attempt >= 2) throw err;
          await sleep(500);
        }
      }
    };
    const prep = await paced(STORM, PREP_RATE, (i) => prepare(ids[i]!), ctx.stopped);
    const failed = prep.results.filter((r) => r.status === "rejected").length;
    if (failed) throw new Error(`${failed} OTA checks failed before the storm`);
    // Their registry writes done, so the storm starts on a quiet server.
    if (!STORM_ONLY) await pollUntil(async () => (((await adminGet<Json>(ctx, "/api/stats")).devices as Json).known as number) >= KNOWN + STORM, 60_000, 200);
  }
  await sleep(2000);
  // Room in the API's minute budget for the polls that time the registry catching up (every 50 ms).
  if (name === "ours") await apiHeadroom(ctx, 400);
  ctx.log(`fleet/storm ${name}: ${STORM} connects into one group at ${STORM_RATE}/s`);
  const fleet = new Fleet(target);
  const c0 = ctx.cpu();
  await fleet.open(ids, STORM_RATE, ctx.options.timeoutMs, ctx.stopped);
  const c1 = ctx.cpu();
  const lastHello = performance.now();
  const online = async () => {
    if (name === "ours") return (await adminGet<{ count: number }>(ctx, `/api/groups/${encodeURIComponent(key)}/devices`)).count;
    const res = await fetch(new URL(`/__bench/group/${encodeURIComponent(key)}`, ctx.server.url));
    return res.ok ? ((await res.json()) as { members: number }).members : 0;
  };
  const caught = await pollUntil(async () => (await online()) >= fleet.clients.length, 30_000, 50);
  const caughtUpMs = caught ? performance.now() - lastHello : null;
  if (!caught) notes.push(`${name}: the group did not list all ${fleet.clients.length} devices online within 30 s of the last hello`);

  const results: Array<{ lastMs: number | null; medianMs: number | null; missing: number }> = [];
  const open = fleet.clients.filter((c) => c.isOpen);
  if (open.length >= STORM * 0.9) {
    if (open.length < STORM) notes.push(`${name}: fan-out over the ${open.length} devices that connected`);
    await sleep(2000);
    const watch = new Watch(open);
    await watch.change(`warm-up ${name}`, ctx.options.timeoutMs);
    await sleep(GAP_MS);
    ctx.log(`fleet/fan-out ${name}: ${CHANGES} task changes to ${open.length - 1} online members`);
    for (let c = 0; c < CHANGES && !ctx.stopped(); c++) {
      results.push(await watch.change(`fleet task ${name} ${c}`, ctx.options.timeoutMs));
      await sleep(GAP_MS);
    }
  } else notes.push(`${name}: ${STORM - open.length} devices did not connect; no fan-out measured`);
  const drops = fleet.drops.length;
  if (drops) notes.push(`${name}: ${drops} sockets dropped while held`);
  await fleet.closeAll();
  return {
    hello: summarize(fleet.helloMs),
    failures: fleet.failureTally(),
    achievedRate: fleet.achievedRate,
    caughtUpMs: caughtUpMs === null ? null : round2(caughtUpMs),
    fanout: {
      last: summarize(results.flatMap((r) => (r.lastMs === null ? [] : [r.lastMs]))),
      median: summarize(results.flatMap((r) => (r.medianMs === null ? [] : [r.medianMs]))),
      missing: results.reduce((s, r) => s + r.missing, 0),
    },
    cpuPerConnectMs: c0 && c1 && fleet.helloMs.length ? round2((c1.workerMs - c0.workerMs) / fleet.helloMs.length) : null,
  };
}

/** 1.: the registry fills by OTA checks, then the list and stats are timed with it. */
async function registryPhase(ctx: BenchContext, notes: string[]) {
  const known = Array.from({ length: KNOWN_GROUPS }, (_, g) => ctx.ids(`fleet-${g}`, KNOWN / KNOWN_GROUPS)).flat();
  ctx.log(`fleet: ${KNOWN} devices arrive by OTA check, ${OTA_CONCURRENCY} at a time`);
  const t0 = performance.now();
  const otaFailures = await otaAll(ctx, known, OTA_CONCURRENCY);
  const seedS = round2((performance.now() - t0) / 1000);
  if (otaFailures.length) notes.push(`failed OTA checks while seeding: ${JSON.stringify(tally(otaFailures))}`);
  const registered = await pollUntil(async () => ((await adminGet<Json>(ctx, "/api/stats")).devices as Json).known === KNOWN, 30_000, 200);
  if (!registered) notes.push(`the registry did not list ${KNOWN} devices within 30 s of the last OTA check`);
  ctx.log(`fleet: ${QUERIES} × GET /api/devices?limit=50 (first page and by cursor), /api/stats, /health (paced: 600 API requests a minute)`);
  await measureQueries(ctx, WARMUP_QUERIES); // warm-up pass (isolate, statement caches)
  return { q: await measureQueries(ctx, QUERIES), seedS, otaFailures: tally(otaFailures) };
}

export const fleetScenario: Scenario = {
  name: "fleet",
  title: "fleet registry, connect storm and fan-out at fleet scale",
  async run(ctx) {
    const notes: string[] = [];
    const registry = STORM_ONLY ? null : await registryPhase(ctx, notes);
    const ours = await storm(ctx, "ours", ctx.ours, notes);
    await ctx.restart();
    const echo = await storm(
      ctx,
      "echo",
      echoTarget(() => ctx.server.url, { presence: true }),
      notes,
    );
    const q = registry?.q ?? { list: null, deep: null, stats: null, health: null };

    const failed = Object.values(ours.failures).reduce((a, b) => a + b, 0);
    const figures: Figure[] = [
      {
        name: `GET /api/devices?limit=50 p99, ${KNOWN} known (echo: GET /health)`,
        unit: "ms",
        ours: q.list?.p99 ?? null,
        echo: q.health?.p99 ?? null,
      },
      { name: "GET /api/devices?limit=50 p50", unit: "ms", ours: q.list?.p50 ?? null, echo: q.health?.p50 ?? null },
      { name: "GET /api/devices by cursor (deeper pages) p99", unit: "ms", ours: q.deep?.p99 ?? null, echo: q.health?.p99 ?? null },
      { name: `GET /api/stats p99, ${KNOWN} known (echo: GET /health)`, unit: "ms", ours: q.stats?.p99 ?? null, echo: q.health?.p99 ?? null },
      { name: "GET /api/stats p50", unit: "ms", ours: q.stats?.p50 ?? null, echo: q.health?.p50 ?? null },
      {
        name: `storm: ${STORM} hellos into one group at ${STORM_RATE}/s, p99`,
        unit: "ms",
        ours: ours.hello?.p99 ?? null,
        echo: echo.hello?.p99 ?? null,
        checks: [{ text: "< 50 ms", pass: ours.hello !== null && ours.hello.p99 < 50 }],
      },
      { name: "storm: hello p50", unit: "ms", ours: ours.hello?.p50 ?? null, echo: echo.hello?.p50 ?? null },
      { name: "storm: hello max", unit: "ms", ours: ours.hello?.max ?? null, echo: echo.hello?.max ?? null },
      {
        name: "storm: failed connects",
        unit: "count",
        ours: failed,
        echo: Object.values(echo.failures).reduce((a, b) => a + b, 0),
        checks: [{ text: "0", pass: failed === 0 }],
      },
      { name: "storm: last hello → group lists all online", unit: "ms", ours: ours.caughtUpMs, echo: echo.caughtUpMs },
      { name: "storm: worker workerd CPU per connect", unit: "ms", ours: ours.cpuPerConnectMs, echo: echo.cpuPerConnectMs },
      {
        name: `fan-out: task change → last of ${STORM - 1} online members, p99 (${CHANGES} changes)`,
        unit: "ms",
        ours: ours.fanout.last?.p99 ?? null,
        echo: echo.fanout.last?.p99 ?? null,
      },
      { name: "fan-out: → last member p50", unit: "ms", ours: ours.fanout.last?.p50 ?? null, echo: echo.fanout.last?.p50 ?? null },
      { name: "fan-out: → median member p50", unit: "ms", ours: ours.fanout.median?.p50 ?? null, echo: echo.fanout.median?.p50 ?? null },
      {
        name: "fan-out: snapshots missing",
        unit: "count",
        ours: ours.fanout.missing,
        echo: echo.fanout.missing,
        checks: [{ text: "0", pass: ours.fanout.missing === 0 }],
      },
    ];
    if (ours.achievedRate < STORM_RATE * 0.9) notes.push(`the client fell behind the storm's schedule: ${ours.achievedRate}/s`);
    return {
      figures,
      details: {
        known: KNOWN,
        seedS: registry?.seedS,
        otaFailures: registry?.otaFailures,
        queries: q,
        storm: { ours, echo },
        rate: STORM_RATE,
        changes: CHANGES,
      },
      notes,
    };
  },
};
