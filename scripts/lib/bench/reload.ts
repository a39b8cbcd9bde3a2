import { appendFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { sleep } from "./stats.ts";

// A new version of the Worker under the same wrangler dev, the way a deploy looks from a device:
// the bundle changes, wrangler dev notices, replaces the runtime (closing every socket) and holds
// new requests until the new version serves them; storage stays, the port stays open, and the
// version metadata (CF_VERSION_METADATA) gets a new id. Returns once the new version answers, with
// the time from the change to that answer.

export async function reloadWorker(snapshotDir: string, baseUrl: string, timeoutMs = 60_000): Promise<{ downMs: number }> {
  // A socket of our own tells when the old version is gone (the watcher debounces the change).
  const probe = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/__bench/echo/reload-probe`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    probe.once("open", () => resolve());
    probe.once("error", reject);
  });
  const gone = new Promise<void>((resolve) => probe.once("close", () => resolve()));
  const t0 = performance.now();
  appendFileSync(join(snapshotDir, "worker.js"), `\n// reloaded by the bench at ${new Date().toISOString()}\n`);
  const deadline = t0 + timeoutMs;
  await Promise.race([gone, sleep(timeoutMs)]);
  for (;;) {
    try {
      const res = await fetch(new URL("/health", baseUrl));
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (performance.now() > deadline) throw new Error("the reloaded Worker did not answer /health");
    await sleep(100);
  }
  return { downMs: performance.now() - t0 };
}
