import type { Lang } from "../text/lang.ts";
import { failedStep, lint, network, timeouts } from "./advice-more.ts";
import { build, emptyAdvice, modules, oom, picker, plural, tests, type Advice, type Say } from "./advice.ts";
import { INSIGHT_LIMITS, INSIGHT_LISTS, type CodingStats, type InsightList, type InsightLists } from "./messages.ts";
import { normalizeItems } from "./normalize.ts";
import { isQuiet, type Signals } from "./signals.ts";

// The insight without an LLM (none configured, too slow, or its answer unusable): the signals in
// priority order — build errors > out of memory > missing modules > failing tests > timeouts >
// network > lint — so the first risk and the first action are about the one thing that broke.
// A failed step that no signal explains comes last. Lists left empty get the smallest useful
// suggestion (`fillers`), so the badge never shows a blank section.

export interface HeuristicOptions {
  lang?: Lang;
  /** The `summary` after `stop`: opens with a one-line verdict of the session. */
  final?: boolean;
}

function statsLine(stats: CodingStats, p: Say): string {
  const step = stats.lastStep ? p(`; last step: ${stats.lastStep}`, `；最后一步：${stats.lastStep}`) : "";
  return p(
    `${plural(stats.errorCount, "error")}, ${plural(stats.warnCount, "warning")} so far${step}`,
    `目前 ${stats.errorCount} 个错误、${stats.warnCount} 个警告${step}`,
  );
}

function verdict(s: Signals, stats: CodingStats, p: Say): string {
  if (s.build.failed || stats.buildSuccess === false) return p("Session ended with the build red", "本次会话结束时构建仍失败");
  if (stats.testsFailed > 0) return p(`Session ended with ${stats.testsFailed} failing tests`, `本次会话结束时仍有 ${stats.testsFailed} 个测试失败`);
  if (!isQuiet(s)) return p("Session ended with open problems", "本次会话结束时仍有未解决的问题");
  return stats.buildSuccess
    ? p("Session ended green: build ok, no failing tests", "本次会话顺利结束：构建通过，无失败测试")
    : p("Session ended with nothing failing", "本次会话结束，没有失败项");
}

/** The smallest useful item per list, for a list that would otherwise be empty. */
export function fillers(s: Signals, stats: CodingStats, phase: string, opts: HeuristicOptions = {}): Record<InsightList, string> {
  const p = picker(opts.lang ?? "en");
  const quiet = isQuiet(s);
  const green = stats.buildSuccess === true;
  const inPhase = phase ? p(` (phase: ${phase})`, `（阶段：${phase}）`) : "";
  return {
    insights: quiet
      ? green
        ? p(`Build is green, nothing failing${inPhase}`, `构建通过，没有失败项${inPhase}`)
        : p(`Nothing failing yet${inPhase}`, `暂时没有失败项${inPhase}`)
      : statsLine(stats, p),
    // Reached with problems only when none of them blocks (lint warnings, a slow job).
    risks: quiet ? p("No blockers spotted so far", "目前没有发现阻塞问题") : p("Nothing blocks the build yet", "暂时没有阻塞构建的问题"),
    actions: quiet ? p("Nothing failing yet: keep going", "暂无失败：继续推进") : p("Fix the first failure above, then re-run", "先修上面第一个问题，再重跑"),
    nextSteps: opts.final
      ? p("Push once the build and the tests are green", "构建和测试都通过后再推送")
      : green
        ? p("Run the full test suite before you push", "推送前跑一遍完整测试")
        : p("Run the build and the tests before you push", "推送前先跑构建和测试"),
  };
}

function merge(into: Advice, more: Advice): void {
  for (const l of INSIGHT_LISTS) into[l].push(...more[l]);
}

/** The advice lists in priority order, before limits, screening and fillers. */
export function adviceFor(s: Signals, stats: CodingStats, opts: HeuristicOptions = {}): Advice {
  const p = picker(opts.lang ?? "en");
  const out = emptyAdvice();
  const testsFail = s.tests.failed > 0;
  if (s.build.failed) merge(out, build(s, p, testsFail));
  if (s.oom.count > 0) merge(out, oom(s, p, stats.lastStep));
  if (s.modules.length > 0) merge(out, modules(s, p));
  if (testsFail) merge(out, tests(s, p, s.build.failed));
  if (s.timeouts.count > 0) merge(out, timeouts(s, p));
  if (s.network.count > 0) merge(out, network(s, p));
  if (s.lint.warnings + s.lint.errors > 0) merge(out, lint(s, p));
  if (out.insights.length === 0 && s.steps.failed.length > 0) merge(out, failedStep(s, p));
  if (out.insights.length > 0) out.insights.push(statsLine(stats, p));
  if (opts.final) out.insights.unshift(verdict(s, stats, p));
  return out;
}

/** Normalised lists within the §8 limits; empty lists filled. Not yet screened (composeInsight does that). */
export function heuristicInsight(s: Signals, stats: CodingStats, phase: string, opts: HeuristicOptions = {}): InsightLists {
  const advice = adviceFor(s, stats, opts);
  const fill = fillers(s, stats, phase, opts);
  const out = {} as InsightLists;
  for (const l of INSIGHT_LISTS) {
    const items = normalizeItems(advice[l], INSIGHT_LIMITS[l]);
    out[l] = items.length ? items : [fill[l]];
  }
  return out;
}
