import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { newConnState, restoreConnState } from "../../src/session/conn.ts";
import { HEARTBEAT_MS, REPLACED_CLOSE_MS, STALE_RECHECK_MS, TIMEOUT_GRACE_MS, planSocket } from "../../src/session/lifecycle.ts";

const limits = { idleTimeoutS: 600, idleWarningS: 15 };
const base = () => ({ ...newConnState({ id: "c", deviceId: "d", clientId: "d", sessionId: "s", headerVersion: null, assignedId: false, now: 0 }), helloAt: 0 });

describe("socket plan (PROTOCOL §3)", () => {
  it("warns IDLE_WARNING_S before the limit and times out after the grace", () => {
    const s = base();
    expect(planSocket(s, 0, null, limits, 1000)).toEqual({ actions: [], next: 585_000 });
    expect(planSocket(s, 0, null, limits, 585_000).actions).toEqual([{ kind: "warn", seconds: 15 }]);
    s.warnedAt = 585_000;
    expect(planSocket(s, 0, null, limits, 590_000)).toEqual({ actions: [], next: 600_000 + TIMEOUT_GRACE_MS });
    expect(planSocket(s, 0, null, limits, 610_000).actions).toEqual([{ kind: "timeout" }]);
  });

  it("forgets the warning once the device is heard again", () => {
    const s = { ...base(), warnedAt: 585_000 };
    expect(planSocket(s, 586_000, null, limits, 586_000)).toEqual({ actions: [], next: 586_000 + 585_000 });
  });

  it("triples the limit in meeting, working and coding mode and beats every minute there", () => {
    const s = base();
    const p = planSocket(s, 0, "meeting", limits, 1000);
    expect(p.next).toBe(HEARTBEAT_MS);
    expect(planSocket(s, 0, "working", limits, HEARTBEAT_MS).actions).toEqual([{ kind: "heartbeat" }]);
    expect(planSocket(s, 0, "working", limits, 1_785_000).actions).toContainEqual({ kind: "warn", seconds: 15 });
    expect(planSocket(s, 0, "coding", limits, HEARTBEAT_MS).actions).toEqual([{ kind: "heartbeat" }]);
    expect(planSocket(s, 0, null, limits, HEARTBEAT_MS).actions).toEqual([]);
  });

  it("beats while a turn waits on a provider, outside long modes too", () => {
    const s = base();
    expect(planSocket(s, 0, null, limits, HEARTBEAT_MS, true).actions).toEqual([{ kind: "heartbeat" }]);
    expect(planSocket(s, 0, null, limits, 1000, true).next).toBe(HEARTBEAT_MS);
  });

  it("closes a replaced socket 1.5 s after the handover", () => {
    const s = { ...base(), replacedAt: 10_000 };
    expect(planSocket(s, 0, null, limits, 10_500)).toEqual({ actions: [], next: 10_000 + REPLACED_CLOSE_MS });
    expect(planSocket(s, 0, null, limits, 11_500).actions).toEqual([{ kind: "close-replaced" }]);
  });
});

describe("sockets from another deployed version (docs/deploy.md)", () => {
  const now = 10_000;
  it("closes a quiet stale socket with a restart at once", () => {
    const s = { ...base(), build: "version-a" };
    expect(planSocket(s, now, null, limits, now, false, "version-b")).toEqual({ actions: [{ kind: "restart" }], next: null });
    // Sockets from before version markers existed count as another version.
    expect(planSocket({ ...s, build: "" }, now, null, limits, now, false, "version-b").actions).toEqual([{ kind: "restart" }]);
  });

  it("waits while the device is listening or a turn runs, looking again every few seconds", () => {
    const listening = { ...base(), build: "version-a", listen: "listening" as const };
    expect(planSocket(listening, now, null, limits, now, false, "version-b")).toEqual({ actions: [], next: now + STALE_RECHECK_MS });
    const s = { ...base(), build: "version-a" };
    expect(planSocket(s, now, null, limits, now, true, "version-b")).toEqual({ actions: [], next: now + STALE_RECHECK_MS });
  });

  it("leaves sockets of the same version, and everything when the version is unknown", () => {
    const s = { ...base(), build: "version-b" };
    expect(planSocket(s, now, null, limits, now, false, "version-b").actions).toEqual([]);
    expect(planSocket({ ...s, build: "version-a" }, now, null, limits, now, false, "").actions).toEqual([]);
  });

  it("lets a replaced socket close as replaced", () => {
    const s = { ...base(), build: "version-a", replacedAt: 0 };
    expect(planSocket(s, now, null, limits, now, false, "version-b").actions).toEqual([{ kind: "close-replaced" }]);
  });

  it("reads back an older version's attachment with defaults for the fields it lacks", () => {
    const { build: _b, features: _f, ext: _e, ...older } = { ...base(), listen: "listening" as const };
    const s = restoreConnState(older);
    expect(s).toMatchObject({ id: "c", deviceId: "d", sessionId: "s", listen: "listening", build: "", features: [], ext: {} });
    expect(restoreConnState(null)).toMatchObject({ id: "", build: "", listen: "idle" });
  });
});

describe("no timers pin objects awake", () => {
  it("src uses alarms, not setTimeout/setInterval, outside audio pacing, provider and tool-call deadlines", () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        // Exempt: audio pacing (voice), provider deadlines (llm) and device tool-call deadlines (mcp).
        else if (p.endsWith(".ts") && !p.includes(join("src", "voice")) && !p.includes(join("src", "llm")) && !p.includes(join("src", "mcp"))) {
          const text = readFileSync(p, "utf8");
          if (/\bset(Timeout|Interval)\s*\(/.test(text)) offenders.push(p);
        }
      }
    };
    walk(join(import.meta.dirname, "../../src"));
    expect(offenders).toEqual([]);
  });
});
