import { describe, expect, it } from "vitest";
import type { DeviceClient } from "../../scripts/lib/device-client.ts";
import { backoffMs, FIRST_RETRY_MS, firstWaitMs, MAX_RETRY_MS, redial } from "../../scripts/lib/bench/redial.ts";
import type { Target } from "../../scripts/lib/bench/targets.ts";

// The benchmark's firmware-like redial (recovery scenario): at once after 1012 or on waking, else
// 1 s doubling to 30 s with ±25 % jitter; every attempt an OTA check, the upgrade and the hello.

describe("redial backoff", () => {
  it("doubles from 1 s up to 30 s, ±25 %", () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 0.5))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(backoffMs(0, 0)).toBe(FIRST_RETRY_MS * 0.75);
    expect(backoffMs(9, 1)).toBe(MAX_RETRY_MS * 1.25);
  });

  it("does not wait after 1012 or when waking up", () => {
    expect(firstWaitMs(1012, 0.5)).toBe(0);
    expect(firstWaitMs(null, 0.5)).toBe(0);
    expect(firstWaitMs(1006, 0.5)).toBe(1000);
  });
});

function fakeTarget(failFirst: number) {
  const calls: string[] = [];
  let n = 0;
  const client = {
    deviceId: "d",
    tap: () => () => {},
    send: (m: { type: string }) => calls.push(`send ${m.type}`),
    next: async () => ({ type: "hello" }),
    ws: { terminate: () => {} },
  } as unknown as DeviceClient;
  const target: Target = {
    name: "ours",
    probe: { msg: { type: "ping" }, reply: "pong" },
    async prepare() {
      calls.push("ota");
      if (n++ < failFirst) throw Object.assign(new Error("fetch failed"), { code: "ECONNREFUSED" });
      return 1;
    },
    async open() {
      calls.push("upgrade");
      return { client, helloMs: 1, upgradeMs: 1 };
    },
  };
  return { target, calls };
}

const opts = { timeoutMs: 1000, deadlineMs: 60_000, stopped: () => false };

describe("redial", () => {
  it("comes back after 1012 with an OTA check, the upgrade and the firmware hello", async () => {
    const { target, calls } = fakeTarget(0);
    const r = await redial(target, "d", performance.now(), 1012, opts);
    expect(calls).toEqual(["ota", "upgrade", "send hello"]);
    expect(r).toMatchObject({ attempts: 1, failures: [], closeCode: 1012 });
    expect(r.backAt).not.toBeNull();
  });

  it("backs off after failed attempts and records why they failed", async () => {
    const { target, calls } = fakeTarget(1);
    const r = await redial(target, "d", performance.now(), null, opts);
    expect(calls).toEqual(["ota", "ota", "upgrade", "send hello"]);
    expect(r).toMatchObject({ attempts: 2, failures: ["ECONNREFUSED"] });
  });
});
