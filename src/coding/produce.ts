import { completeJson, type Llm, type LlmSettings } from "../llm/client.ts";
import { log } from "../log.ts";
import type { Session } from "../session/capability.ts";
import type { Lang } from "../text/lang.ts";
import { composeInsight, insightLogFields } from "./insight.ts";
import { buildInsightPrompt, INSIGHT_MAX_TOKENS } from "./prompt.ts";
import type { Trigger } from "./schedule.ts";
import { extractSignals } from "./signals.ts";
import { codingStore } from "./store.ts";

// One insight or summary, from the stored history to the badge: signals, the LLM (when configured)
// with max_tokens 512 and a time limit, the heuristic for whatever the LLM did not usefully fill,
// the screening of every item (composeInsight), one log line. Runs detached from the frame that
// triggered it (see schedule.ts), so it never throws.

export interface InsightDeps {
  /** The LLM for these settings (the shared client cache in production). */
  llm(settings: LlmSettings): Llm;
  /** Overrides the time limit below (tests). */
  timeoutMs?: number;
}

/**
 * A badge is glanced at during a build: an insight that comes later than this is worth less than
 * the heuristic one now. LLM_TIMEOUT_MS applies when it is shorter.
 */
export const INSIGHT_TIMEOUT_MS = 8000;

export async function produceInsight(session: Session, deps: InsightDeps, trigger: Trigger, signal: AbortSignal): Promise<void> {
  const started = session.now();
  const fields = { deviceId: session.deviceId, trigger };
  try {
    if (session.mode !== "coding" || signal.aborted) return;
    // Nobody to show it to: no LLM call. The next hello asks for a fresh one (see capability.ts).
    if (!session.current()) {
      log.debug("coding.insight_skipped", { ...fields, reason: "offline" });
      return;
    }
    const store = codingStore(session);
    const run = store.run();
    const entries = store.entries();
    const signals = extractSignals(entries);
    const stats = run.stats.stats;
    let lang: Lang | undefined;
    let answer: Record<string, unknown> | null = null;
    let llm: { status: string; message?: string } = { status: "off" };
    if (session.settings.LLM_BASE_URL) {
      const prompt = buildInsightPrompt(entries, signals, stats, run.phase);
      lang = prompt.lang;
      const r = await completeJson(deps.llm(session.settings), {
        system: prompt.system,
        user: prompt.user,
        maxTokens: INSIGHT_MAX_TOKENS,
        temperature: 0.2,
        timeoutMs: deps.timeoutMs ?? Math.min(session.settings.LLM_TIMEOUT_MS, INSIGHT_TIMEOUT_MS),
        signal,
      });
      // Superseded (a newer trigger, stop, clear, mode end): its answer would be stale.
      if (signal.aborted) return;
      answer = r.ok ? r.value : null;
      llm = r.ok ? { status: "ok" } : { status: r.code, message: r.message };
    }
    const msg = composeInsight(answer, { entries, signals, stats, phase: run.phase, final: trigger === "summary", ...(lang ? { lang } : {}) });
    const delivered = session.push(msg);
    if (delivered) store.remember(msg, run.epoch, run.seq);
    log.info("coding.insight", {
      ...fields,
      ...insightLogFields(msg, session.now() - started),
      llm: llm.status,
      ...(llm.message ? { llmMessage: llm.message } : {}),
      lines: entries.length,
      delivered,
    });
  } catch (err) {
    log.error("coding.insight_failed", { ...fields, error: err });
  }
}
