import type { BenchContext, Figure, Scenario, ScenarioResult } from "./types.ts";

// Runs scenarios, adds ratios, and renders the report as JSON and as a table.

export interface ScenarioReport extends ScenarioResult {
  name: string;
  title: string;
  durationS: number;
  error?: string;
}

export interface BenchReport {
  meta: Record<string, unknown>;
  scenarios: ScenarioReport[];
  /** Every check, flattened: "<scenario> / <figure>: <text>" → pass. */
  checks: { figure: string; text: string; pass: boolean }[];
  notes: string[];
}

function withRatio(f: Figure): Figure {
  const ratio = typeof f.ours === "number" && typeof f.echo === "number" && f.echo !== 0 ? Math.round((f.ours / f.echo) * 100) / 100 : null;
  return { ...f, ratio };
}

export async function runScenarios(scenarios: Scenario[], ctx: BenchContext): Promise<ScenarioReport[]> {
  const log = ctx.log;
  const out: ScenarioReport[] = [];
  for (const [i, s] of scenarios.entries()) {
    if (ctx.stopped()) break;
    const t0 = performance.now();
    // Each scenario on a fresh server: no objects, memory or storage left over from the last one.
    if (i > 0 && !s.ownServer) await ctx.restart();
    log(`== ${s.name}: ${s.title}`);
    try {
      const profiled = await ctx.profile?.(s.name);
      const r = await s.run(ctx);
      if (profiled) for (const line of await profiled()) log(line);
      out.push({ name: s.name, title: s.title, durationS: Math.round((performance.now() - t0) / 100) / 10, ...r, figures: r.figures.map(withRatio) });
    } catch (err) {
      const e = err as Error;
      log(`!! ${s.name} failed: ${e.stack ?? e.message}`);
      out.push({
        name: s.name,
        title: s.title,
        durationS: Math.round((performance.now() - t0) / 100) / 10,
        figures: [],
        details: {},
        notes: [],
        error: e.message,
      });
    }
  }
  return out;
}

export function collectChecks(scenarios: ScenarioReport[]): BenchReport["checks"] {
  return scenarios.flatMap((s) => s.figures.flatMap((f) => (f.checks ?? []).map((c) => ({ figure: `${s.name} / ${f.name}`, text: c.text, pass: c.pass }))));
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "–" : Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1));

export function renderTable(report: BenchReport): string {
  const rows: string[][] = [["scenario", "figure", "unit", "ours", "echo", "ours/echo", "target"]];
  const head = typeof report.meta.summary === "string" ? [report.meta.summary, ""] : [];
  for (const s of report.scenarios) {
    if (s.error) rows.push([s.name, `FAILED: ${s.error.slice(0, 60)}`, "", "", "", "", ""]);
    for (const f of s.figures) {
      const checks = (f.checks ?? []).map((c) => `${c.pass ? "ok" : "MISS"} ${c.text}`).join(", ");
      rows.push([s.name, f.name, f.unit, fmt(f.ours), fmt(f.echo), f.ratio === null || f.ratio === undefined ? "–" : `${f.ratio.toFixed(2)}×`, checks]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  const right = new Set([3, 4, 5]);
  const line = (r: string[]) =>
    r
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [...head, line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
  const notes = [...report.notes, ...report.scenarios.flatMap((s) => s.notes.map((n) => `${s.name}: ${n}`))];
  if (notes.length) out.push("", "notes:", ...notes.map((n) => `  - ${n}`));
  const missed = report.checks.filter((c) => !c.pass);
  out.push("", missed.length ? `targets missed: ${missed.map((c) => `${c.figure} (${c.text})`).join("; ")}` : `all ${report.checks.length} targets met`);
  return out.join("\n");
}
