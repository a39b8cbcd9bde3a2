import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

// Process inspection on Linux (/proc): the workerd processes wrangler dev spawned, their resident
// memory and CPU time, and file descriptor limits. Everything returns null/empty where /proc is not available.

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out = new Set<number>();
  for (const t of tasks) {
    for (const c of (read(`/proc/${pid}/task/${t}/children`) ?? "").split(/\s+/)) if (c) out.add(Number(c));
  }
  return [...out];
}

export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of childrenOf(queue.shift()!)) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** VmRSS in KiB, or null when the process is gone. */
export function rssKiB(pid: number): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(read(`/proc/${pid}/status`) ?? "");
  return m ? Number(m[1]) : null;
}

export function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Soft and hard "Max open files" of a process (default: this one). */
export function fdLimit(pid: number | "self" = "self"): { soft: number; hard: number } | null {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(read(`/proc/${pid}/limits`) ?? "");
  if (!m) return null;
  const n = (s: string) => (s === "unlimited" ? Infinity : Number(s));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

export interface WorkerdProcess {
  pid: number;
  /** "proxy": wrangler dev's front proxy (listens on the public port); "worker": runs the Worker. */
  role: "proxy" | "worker";
  rssKiB: number;
}

/** The workerd processes among the descendants of `rootPid` (the wrangler child). */
export function workerdProcesses(rootPid: number, publicPort: number): WorkerdProcess[] {
  const out: WorkerdProcess[] = [];
  for (const pid of descendants(rootPid)) {
    if (read(`/proc/${pid}/comm`)?.trim() !== "workerd") continue;
    const cmd = (read(`/proc/${pid}/cmdline`) ?? "").split("\0");
    const rss = rssKiB(pid);
    if (rss === null) continue;
    const proxy = cmd.some((a) => a.startsWith("--socket-addr=entry=") && a.endsWith(`:${publicPort}`));
    out.push({ pid, role: proxy ? "proxy" : "worker", rssKiB: rss });
  }
  return out;
}

export interface MemorySample {
  totalKiB: number;
  workerKiB: number;
  proxyKiB: number;
  processes: WorkerdProcess[];
}

export function sampleMemory(rootPid: number, publicPort: number): MemorySample | null {
  const ps = workerdProcesses(rootPid, publicPort);
  if (!ps.length) return null;
  const sum = (role?: string) => ps.filter((p) => !role || p.role === role).reduce((a, p) => a + p.rssKiB, 0);
  return { totalKiB: sum(), workerKiB: sum("worker"), proxyKiB: sum("proxy"), processes: ps };
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU time of a process in ms, or null when it is gone. */
export function cpuMs(pid: number): number | null {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return null;
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond();
}

/**
 * Time the threads of a process spent runnable but waiting for a CPU (/proc/<pid>/task/<tid>/schedstat,
 * second field), in ms: how much other load on the machine delayed it. Null when unavailable.
 */
export function runQueueWaitMs(pid: number): number | null {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let ns = 0;
  for (const t of tasks) ns += Number((read(`/proc/${pid}/task/${t}/schedstat`) ?? "").split(" ")[1] ?? 0) || 0;
  return ns / 1e6;
}

export interface CpuSample {
  workerMs: number;
  proxyMs: number;
}

export function sampleCpu(rootPid: number, publicPort: number): CpuSample | null {
  const ps = workerdProcesses(rootPid, publicPort);
  if (!ps.length) return null;
  const sum = (role: string) => ps.filter((p) => p.role === role).reduce((a, p) => a + (cpuMs(p.pid) ?? 0), 0);
  return { workerMs: sum("worker"), proxyMs: sum("proxy") };
}

/** Machine-wide CPU counters from /proc/stat, to tell how busy (and how stolen) the CPUs were. */
export interface MachineCpu {
  busy: number;
  steal: number;
  total: number;
}

export function machineCpu(): MachineCpu | null {
  const line = read("/proc/stat")?.split("\n")[0];
  if (!line?.startsWith("cpu ")) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Busy and stolen share of all CPUs between two samples, in percent. */
export function machineCpuShare(a: MachineCpu | null, b: MachineCpu | null): { busyPct: number; stealPct: number } | null {
  if (!a || !b || b.total <= a.total) return null;
  const t = b.total - a.total;
  return { busyPct: Math.round(((b.busy - a.busy) / t) * 1000) / 10, stealPct: Math.round(((b.steal - a.steal) / t) * 1000) / 10 };
}

/** /proc/pressure/cpu "some avg60": percent of the last minute some task waited for a CPU. */
export function cpuPressure(): number | null {
  const m = /^some avg10=[\d.]+ avg60=([\d.]+)/m.exec(read("/proc/pressure/cpu") ?? "");
  return m ? Number(m[1]) : null;
}
