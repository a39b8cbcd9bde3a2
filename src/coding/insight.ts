import type { Lang } from "../text/lang.ts";
import { adviceFor, fillers } from "./heuristic.ts";
import { historyLanguage, type HistoryEntry } from "./history.ts";
import { INSIGHT_LIMITS, INSIGHT_LISTS, type CodingInsightOut, type CodingStats, type InsightLists } from "./messages.ts";
import { normalizeInsight, normalizeItems } from "./normalize.ts";
import { rawIndex, screen } from "./screen.ts";
import { extractSignals, signalNames, type Signals } from "./signals.ts";

// The §8 insight/summary message from an LLM answer (or none) and the heuristic. Each list is the
// LLM's screened items when any survive, else the heuristic's screened items, else the filler;
// `source` is "llm" when at least one LLM item survived. Screening (screen.ts) applies to every
// item from every source, so a raw log line or a stack frame never reaches the badge.
//
// The whole flow for the capability:
//   const signals = extractSignals(entries);
//   const { system, user } = buildInsightPrompt(entries, signals, stats, phase);
//   const r = llm ? await completeJson(llm, { system, user, maxTokens: INSIGHT_MAX_TOKENS }) : null;
//   const msg = composeInsight(r?.ok ? r.value : null, { entries, signals, stats, phase, final });
//   log.info("coding.insight", insightLogFields(msg, elapsedMs));   // counts + hash, never the JSON

export interface ComposeContext {
  entries: readonly HistoryEntry[];
  /** Computed from `entries` when absent. */
  signals?: Signals;
  stats: CodingStats;
  phase: string;
  /** true for the `summary` after `stop`. */
  final: boolean;
  /** Derived from `entries` when absent. */
  lang?: Lang;
}

/**
 * `llm` is whatever the model returned: the parsed object, the raw text, or null when there was
 * no LLM, it timed out or it failed. Anything unusable simply yields the heuristic insight.
 */
export function composeInsight(llm: unknown, ctx: ComposeContext): CodingInsightOut {
  const signals = ctx.signals ?? extractSignals(ctx.entries);
  const lang = ctx.lang ?? historyLanguage(ctx.entries);
  const index = rawIndex(ctx.entries);
  const allow = signalNames(signals);
  const fromLlm = llm === null || llm === undefined ? null : normalizeInsight(llm);
  const advice = adviceFor(signals, ctx.stats, { lang, final: ctx.final });
  const fill = fillers(signals, ctx.stats, ctx.phase, { lang, final: ctx.final });

  const lists = {} as InsightLists;
  let llmItems = 0;
  for (const l of INSIGHT_LISTS) {
    const limit = INSIGHT_LIMITS[l];
    const mine = screen(fromLlm?.[l] ?? [], index, allow);
    llmItems += mine.length;
    const items = mine.length ? mine : screen(normalizeItems(advice[l], limit), index, allow);
    lists[l] = items.length ? items.slice(0, limit) : screen([fill[l]], index, allow);
  }
  return {
    type: "coding",
    event: ctx.final ? "summary" : "insight",
    phase: ctx.phase,
    ...lists,
    stats: { ...ctx.stats },
    source: llmItems > 0 ? "llm" : "heuristic",
  };
}

/** FNV-1a (32 bit) as 8 hex digits: identifies an insight in logs without writing it out. */
export function shortHash(json: string | object): string {
  const text = typeof json === "string" ? json : JSON.stringify(json);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** The log record of one insight: counts, final, source, hash, elapsed time — never the JSON (legacy block 8). */
export function insightLogFields(msg: CodingInsightOut, elapsedMs: number): Record<string, string | number | boolean> {
  return {
    final: msg.event === "summary",
    source: msg.source,
    insights: msg.insights.length,
    risks: msg.risks.length,
    actions: msg.actions.length,
    nextSteps: msg.nextSteps.length,
    hash: shortHash(msg),
    elapsedMs: Math.max(0, Math.round(elapsedMs)),
  };
}
