import type { DeviceClient } from "../device-client.ts";
import { paced, sleep, tally } from "./stats.ts";
import { failureKind, type Target } from "./targets.ts";

// Opening and closing many sockets for one target, with failures tallied and unexpected closes
// ("drops") counted. Shared by the scenarios.

export class Fleet {
  readonly target: Target;
  readonly clients: DeviceClient[] = [];
  readonly helloMs: number[] = [];
  readonly upgradeMs: number[] = [];
  readonly failures: string[] = [];
  /** Sockets the server closed while we held them. */
  readonly drops: { id: string; code: number; reason: string }[] = [];
  achievedRate = 0;
  private closing = false;

  constructor(target: Target) {
    this.target = target;
  }

  /** Opens one socket per id at `rate` per second; keeps the open ones. */
  async open(ids: string[], rate: number, timeoutMs: number, stopped: () => boolean): Promise<void> {
    const run = await paced(ids.length, rate, (i) => this.target.open(ids[i]!, timeoutMs), stopped);
    this.achievedRate = run.achievedRate;
    for (const r of run.results) {
      if (r.status === "rejected") {
        this.failures.push(failureKind(r.reason));
        continue;
      }
      const { client, helloMs, upgradeMs } = r.value;
      this.helloMs.push(helloMs);
      this.upgradeMs.push(upgradeMs);
      this.clients.push(client);
      void client.closed.then(({ code, reason }) => {
        if (!this.closing) this.drops.push({ id: client.deviceId, code, reason });
      });
    }
  }

  get openCount(): number {
    return this.clients.filter((c) => c.isOpen).length;
  }

  failureTally(): Record<string, number> {
    return tally(this.failures);
  }

  /** Sends the target's probe on every open socket; resolves to how many answered in time. */
  async probe(timeoutMs = 10_000): Promise<number> {
    const { msg, reply } = this.target.probe;
    const res = await Promise.allSettled(this.clients.filter((c) => c.isOpen).map((c) => c.request(msg, reply, timeoutMs)));
    return res.filter((r) => r.status === "fulfilled").length;
  }

  /** Closes every socket (1000) and waits for the closes, at most `timeoutMs`. Returns how many did not finish. */
  async closeAll(timeoutMs = 15_000): Promise<number> {
    this.closing = true;
    let pending = this.clients.length;
    const all = Promise.all(this.clients.map((c) => c.close(1000, "bench done").then(() => void pending--)));
    await Promise.race([all, sleep(timeoutMs)]);
    if (pending) for (const c of this.clients) c.ws.terminate();
    return pending;
  }
}
