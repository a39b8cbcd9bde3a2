import type { ChatEvent, ChatLlm, ChatRequest } from "../llm/chat-stream.ts";

// The reply's first LLM round started in the pause too (LLM_EARLY_START). When the recogniser
// started in the pause (early-asr.ts) has answered and the speaker is still silent, the request
// the turn would make with that text is known, so it goes out then and its stream is kept in
// memory; nothing of it reaches the device before the turn ends. The turn takes it over only for
// exactly the same request (same messages, history, tools, model: `requestKey`), so an answer is
// never spoken for anything but what the turn would have asked; any other outcome (speech that
// comes back, abort, close, another mode taking the text, a changed request) cancels it. Its cost:
// a speaker who pauses that long and then goes on wastes one LLM request's input tokens.

export interface EarlyReply {
  readonly key: string;
  readonly startedAt: number;
  /** The time its system prompt states: the turn's prompt states the same, or the requests differ. */
  readonly askedAt: number;
  readonly controller: AbortController;
  /** The stream's events from its start, whoever takes them; once only. */
  take(): AsyncGenerator<ChatEvent>;
}

/** What makes two first-round requests the same one (everything but the signal and timeout). */
export function requestKey(req: ChatRequest): string {
  return JSON.stringify([req.messages, req.model ?? null, req.maxTokens ?? null, req.temperature ?? null, req.tools ?? null, req.toolChoice ?? null]);
}

/** Starts the request `build` makes with the early reply's own signal now, and buffers its events. */
export function startEarlyReply(llm: ChatLlm, build: (signal: AbortSignal) => ChatRequest, now: number, askedAt: number): EarlyReply {
  const controller = new AbortController();
  const req = build(controller.signal);
  const events: ChatEvent[] = [];
  let failure: { err: unknown } | null = null;
  let finished = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const pump = (async () => {
    try {
      for await (const ev of llm.stream(req)) {
        events.push(ev);
        notify();
      }
    } catch (err) {
      failure = { err };
    } finally {
      finished = true;
      notify();
    }
  })();
  // Nobody may await a cancelled speculation: its end must not surface as unhandled.
  pump.catch(() => {});
  let taken = false;
  return {
    key: requestKey(req),
    startedAt: now,
    askedAt,
    controller,
    async *take() {
      if (taken) throw new Error("an early reply is taken once");
      taken = true;
      for (let i = 0; ; ) {
        if (i < events.length) {
          yield events[i++]!;
          continue;
        }
        if (failure) throw failure.err;
        if (finished) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}

/**
 * `llm`, whose first request is answered by `early` when it is the same request (the turn's
 * signal then governs it); otherwise `early` is cancelled and the request made as usual.
 */
export function withEarlyReply(llm: ChatLlm, early: EarlyReply | null, decided: (early: EarlyReply, adopted: boolean) => void): ChatLlm {
  let pending = early;
  return {
    stream(req) {
      const e = pending;
      pending = null;
      if (e && !e.controller.signal.aborted && e.key === requestKey(req)) {
        const cancel = () => cancelEarlyReply(e);
        if (req.signal.aborted) cancel();
        else req.signal.addEventListener("abort", cancel, { once: true });
        decided(e, true);
        return e.take();
      }
      if (e) decided(e, false);
      cancelEarlyReply(e);
      return llm.stream(req);
    },
  };
}

export function cancelEarlyReply(early: EarlyReply | null): null {
  early?.controller.abort(new DOMException("the early reply was not used", "AbortError"));
  return null;
}
