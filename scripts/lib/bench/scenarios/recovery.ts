import type { DeviceClient, Json } from "../../device-client.ts";
import { deferred, openDevices, round2, within } from "../devices.ts";
import { redial, type Comeback } from "../redial.ts";
import { sleep, summarize, tally } from "../stats.ts";
import type { Target } from "../targets.ts";
import type { BenchContext, Figure, Scenario } from "../types.ts";

// Fleet recovery after a server restart (issue 15, docs/deploy.md): `devices` devices connected,
// plus a tenth as many asleep with `queued` peer messages waiting in their offline inboxes (sent
// by connected devices, each receipt saying "enqueued"). Then wrangler dev is stopped and started
// again on the same local state and port (--recovery-by restart: the port is closed meanwhile), or
// the Worker is replaced by a new version under the running server (--recovery-by reload: the port
// stays open and holds requests until the new version serves them, as in a deploy): either way
// every socket drops and every object starts afresh, as when a deploy resets a device's object. Each device redials as the firmware does (redial.ts:
// at once on 1012, else 1 s doubling to 30 s ±25 %, each attempt OTA check + upgrade + hello); the
// sleepers wake at the moment of the restart. Measured: how long until every device has a hello
// again, and whether every queued message reached its device after the restart.
// Bare comparison: the echo object's devices through the same restart and redial (no OTA check,
// no inbox); the floor that wrangler dev's restart and the redial schedule set.

const DEADLINE_MS = 180_000;
/** After the last sleeper is back, how long its queued messages may take to arrive. */
const DRAIN_WAIT_MS = 15_000;

interface Phase {
  target: string;
  devices: number;
  sleepers: number;
  downMs: number;
  back: number;
  /** Restart → hello again, per device, s. */
  backS: ReturnType<typeof summarize>;
  /** Server answering again → hello again, per device, s. */
  afterUpS: ReturnType<typeof summarize>;
  /** The attempt that succeeded: OTA check + upgrade + hello, under everyone else's, ms. */
  attemptMs: ReturnType<typeof summarize>;
  attemptsPerDevice: number | null;
  failedAttempts: Record<string, number>;
  dropCodes: Record<string, number>;
  alive: number;
  queued: number;
  enqueued: number;
  delivered: number;
  duplicates: number;
  redelivered: number;
}

type Held = Map<string, DeviceClient>;

/** Queues `per` messages for each sleeper, sent by connected devices; the server ids of those enqueued. */
async function queueFor(ctx: BenchContext, senders: DeviceClient[], sleepers: string[], per: number): Promise<Map<string, Set<string>>> {
  const expected = new Map<string, Set<string>>(sleepers.map((s) => [s, new Set<string>()]));
  let outstanding = sleepers.length * per;
  const done = deferred();
  for (const [i, to] of sleepers.entries()) {
    const c = senders[i % senders.length]!;
    c.tap((m) => {
      if (m.type !== "peer" || m.event !== "receipt" || !String(m.ref).startsWith(`q:${to}:`)) return false;
      if ((m.enqueued as unknown[] | undefined)?.includes(to)) expected.get(to)!.add(String(m.id));
      if (--outstanding === 0) done.resolve();
      return true;
    });
    for (let k = 0; k < per; k++) c.send({ type: "peer", id: `q:${to}:${k}`, to: [to], category: "chat", payload: { text: `queued ${k} for ${to}` } });
  }
  const ok = await within(
    done.promise.then(() => true),
    Math.max(30_000, sleepers.length * per * 20),
    false,
  );
  if (!ok) ctx.log(`recovery: ${outstanding} receipts missing when queueing`);
  return expected;
}

async function phase(ctx: BenchContext, target: Target, n: number, queued: number): Promise<Phase> {
  const s = target.name === "ours" ? Math.max(1, Math.round(n / 10)) : 0;
  const per = s ? Math.max(1, Math.round(queued / s)) : 0;
  const ids = ctx.ids(`recovery-${target.name[0]}`, n + s);
  const awake = ids.slice(0, n);
  const asleep = ids.slice(n);
  ctx.log(`recovery/${target.name}: connecting ${n + s} devices`);
  const fleet = await openDevices(ctx, target, ids);
  const held: Held = new Map(fleet.clients.map((c) => [c.deviceId, c]));
  const state = new Map<string, Comeback>();
  let settled = false;
  const arrived = new Map<string, string[]>(asleep.map((id) => [id, []]));
  let redelivered = 0;
  try {
    for (const id of asleep) await held.get(id)!.close(1000, "going to sleep");
    const expected = s
      ? await queueFor(
          ctx,
          awake.map((id) => held.get(id)!),
          asleep,
          per,
        )
      : new Map<string, Set<string>>();
    const enqueued = [...expected.values()].reduce((a, e) => a + e.size, 0);
    if (s) ctx.log(`recovery/${target.name}: ${enqueued} of ${s * per} messages queued for ${s} sleeping devices`);

    const tapFor = (id: string) => (m: Json) => {
      if (m.type !== "peer") return false;
      if (m.event === "redelivered") {
        redelivered += Number(m.count) || 0;
        return true;
      }
      if (m.event === "message" && arrived.has(id)) {
        arrived.get(id)!.push(String(m.id));
        return true;
      }
      return false;
    };
    const opts = { timeoutMs: ctx.options.timeoutMs, deadlineMs: DEADLINE_MS, stopped: () => ctx.stopped() || settled };
    // A device stays on it: a socket that drops again (e.g. one made just before the old version
    // went away) is redialled again; `state` holds each device's latest comeback.
    const stayConnected = async (id: string, lostAt: number, code: number | null): Promise<void> => {
      let r = await redial(target, id, lostAt, code, { ...opts, tap: tapFor(id) });
      state.set(id, r);
      while (r.client && !settled) {
        const closed = await r.client.closed;
        if (settled) return;
        const again = await redial(target, id, performance.now(), closed.code, { ...opts, tap: tapFor(id) });
        r = {
          ...again,
          lostAt: r.lostAt,
          closeCode: r.closeCode,
          attempts: r.attempts + again.attempts,
          failures: [...r.failures, `dropped again (${closed.code})`, ...again.failures],
        };
        state.set(id, r);
      }
    };
    for (const id of awake) void held.get(id)!.closed.then(({ code }) => stayConnected(id, performance.now(), code));
    const by = ctx.options.recoveryBy;
    ctx.log(`recovery/${target.name}: ${by === "reload" ? "a new Worker version under the running server" : "restarting the server"}`);
    const t0 = performance.now();
    for (const id of asleep) void stayConnected(id, t0, null);
    const { downMs } = by === "reload" ? await ctx.reload() : await ctx.relaunch();
    const upAt = t0 + downMs;
    // Done when every device has an open socket with a hello, checked twice a second apart.
    const allBack = () => ids.every((id) => state.get(id)?.client?.isOpen === true);
    while (!ctx.stopped() && performance.now() - t0 < DEADLINE_MS) {
      if (allBack()) {
        await sleep(1000);
        if (allBack()) break;
      } else await sleep(100);
    }
    settled = true;
    const results = ids.flatMap((id) => state.get(id) ?? []);
    for (const r of results) if (r.client) held.set(r.id, r.client);
    const mine = results.filter((r) => awake.includes(r.id));
    const back = mine.filter((r) => r.backAt !== null);
    ctx.log(`recovery/${target.name}: ${back.length} of ${n} back after ${round2((Math.max(...back.map((r) => r.backAt!), t0) - t0) / 1000)} s`);

    // Every queued message must arrive once the sleeper is back (PROTOCOL §9: the inbox survives restarts).
    const complete = () => [...expected].every(([id, e]) => [...e].every((m) => arrived.get(id)!.includes(m)));
    const until = performance.now() + DRAIN_WAIT_MS;
    while (s && !complete() && performance.now() < until) await sleep(100);
    let delivered = 0;
    let duplicates = 0;
    for (const [id, e] of expected) {
      const got = arrived.get(id)!;
      delivered += [...e].filter((m) => got.includes(m)).length;
      duplicates += got.length - new Set(got).size;
    }
    const answering = await Promise.allSettled(
      results.filter((r) => r.client?.isOpen).map((r) => r.client!.request(target.probe.msg, target.probe.reply, ctx.options.timeoutMs)),
    );
    return {
      target: target.name,
      devices: n,
      sleepers: s,
      downMs: round2(downMs),
      back: back.length,
      backS: summarize(back.map((r) => (r.backAt! - t0) / 1000)),
      afterUpS: summarize(back.map((r) => Math.max(0, r.backAt! - upAt) / 1000)),
      attemptMs: summarize(back.map((r) => r.backAt! - r.lastAttemptAt!)),
      attemptsPerDevice: mine.length ? round2(mine.reduce((a, r) => a + r.attempts, 0) / mine.length) : null,
      failedAttempts: tally(results.flatMap((r) => r.failures)),
      dropCodes: tally(mine.map((r) => String(r.closeCode))),
      alive: answering.filter((a) => a.status === "fulfilled").length,
      queued: s * per,
      enqueued,
      delivered,
      duplicates,
      redelivered,
    };
  } finally {
    await Promise.all([...held.values()].map((c) => within(c.close(1000, "bench done"), 5000, null)));
  }
}

export const recoveryScenario: Scenario = {
  name: "recovery",
  title: "fleet recovery after a server restart or a new version, queued messages kept",
  async run(ctx) {
    const n = ctx.options.devices;
    const ours = await phase(ctx, ctx.ours, n, ctx.options.queued);
    // The echo devices on a fresh server of their own: nothing of ours' objects left in memory.
    await ctx.restart();
    const echo = ctx.stopped() ? null : await phase(ctx, ctx.echo, n, 0);
    const f = (name: string, unit: string, o: number | null | undefined, e: number | null | undefined, checks?: Figure["checks"]): Figure => ({
      name,
      unit,
      ours: o ?? null,
      echo: e ?? null,
      ...(checks ? { checks } : {}),
    });
    const lost = ours.enqueued - ours.delivered;
    const figures: Figure[] = [
      f(`devices back with a hello (of ${n})`, "count", ours.back, echo?.back, [{ text: `${n} of ${n}`, pass: ours.back === n }]),
      f(
        `server down (${ctx.options.recoveryBy === "reload" ? "new bundle → new version answers" : "stop → new server answers"})`,
        "s",
        round2(ours.downMs / 1000),
        echo ? round2(echo.downMs / 1000) : null,
      ),
      f("restart → device back, p50", "s", ours.backS?.p50, echo?.backS?.p50),
      f("restart → device back, p99", "s", ours.backS?.p99, echo?.backS?.p99),
      f("restart → last device back", "s", ours.backS?.max, echo?.backS?.max),
      f("server answering → last device back", "s", ours.afterUpS?.max, echo?.afterUpS?.max),
      f("the attempt that got back (OTA + upgrade + hello), p50", "ms", ours.attemptMs?.p50, echo?.attemptMs?.p50),
      f("the attempt that got back, p99", "ms", ours.attemptMs?.p99, echo?.attemptMs?.p99),
      f("attempts per device", "count", ours.attemptsPerDevice, echo?.attemptsPerDevice),
      f("devices answering a ping after (sleepers included)", "count", ours.alive, echo?.alive),
      f(`peer messages queued before the restart (${ours.sleepers} sleeping devices)`, "count", ours.enqueued, null),
      f("of which delivered after it", "count", ours.delivered, null),
      f("queued messages lost", "count", lost, null, [{ text: "0", pass: lost === 0 && ours.enqueued === ours.queued }]),
      // At least once (src/peer/inbox.ts): a drain whose socket dies before it is confirmed goes out again, same ids.
      f("queued messages delivered again (same id)", "count", ours.duplicates, null),
    ];
    const notes = [
      `close codes seen by the devices when the server stopped: ours ${JSON.stringify(ours.dropCodes)}${echo ? `, echo ${JSON.stringify(echo.dropCodes)}` : ""}`,
      `failed attempts while redialling: ours ${JSON.stringify(ours.failedAttempts)}${echo ? `, echo ${JSON.stringify(echo.failedAttempts)}` : ""}`,
    ];
    if (ours.enqueued !== ours.queued) notes.push(`only ${ours.enqueued} of ${ours.queued} messages were enqueued before the restart`);
    return { figures, details: { ours, echo }, notes };
  },
};
