import { describe, expect, it } from "vitest";
import type { ChatEvent, ChatLlm, ChatRequest } from "../../src/llm/chat-stream.ts";
import { cancelEarlyReply, requestKey, startEarlyReply, withEarlyReply } from "../../src/voice/early-reply.ts";

/** An LLM whose streams the test feeds by hand; it records each request and its signal. */
function manualLlm() {
  const streams: { req: ChatRequest; push(ev: ChatEvent): void; fail(err: Error): void; end(): void }[] = [];
  const llm: ChatLlm = {
    async *stream(req) {
      const queue: (ChatEvent | Error | null)[] = [];
      let wake: (() => void) | null = null;
      const put = (x: ChatEvent | Error | null) => {
        queue.push(x);
        wake?.();
      };
      streams.push({ req, push: put, fail: put, end: () => put(null) });
      for (;;) {
        if (req.signal.aborted) throw req.signal.reason;
        const x = queue.shift();
        if (x === undefined) {
          await new Promise<void>((r) => {
            wake = r;
            req.signal.addEventListener("abort", () => r(), { once: true });
          });
          continue;
        }
        if (x === null) return;
        if (x instanceof Error) throw x;
        yield x;
      }
    },
  };
  return { llm, streams };
}

const request = (text: string, signal = new AbortController().signal): ChatRequest => ({
  messages: [{ role: "user", content: text }],
  maxTokens: 100,
  signal,
  firstChunkTimeoutMs: 1000,
});

async function all(gen: AsyncGenerator<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const ev of gen) out.push(ev);
  return out;
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("early reply", () => {
  it("starts the request at once and hands over what arrived before and after it is taken, in order", async () => {
    const { llm, streams } = manualLlm();
    const early = startEarlyReply(llm, (signal) => request("hi", signal), 1000, 0);
    await tick();
    expect(streams).toHaveLength(1);
    streams[0]!.push({ type: "text", text: "Hel" });
    await tick();
    const taken = all(early.take());
    streams[0]!.push({ type: "text", text: "lo." });
    streams[0]!.push({ type: "done", toolCalls: [], finishReason: "stop" });
    streams[0]!.end();
    expect(await taken).toEqual([
      { type: "text", text: "Hel" },
      { type: "text", text: "lo." },
      { type: "done", toolCalls: [], finishReason: "stop" },
    ]);
    await expect(early.take().next()).rejects.toThrow(/once/);
  });

  it("a failure of the request reaches whoever takes it, after the events before it", async () => {
    const { llm, streams } = manualLlm();
    const early = startEarlyReply(llm, (signal) => request("hi", signal), 0, 0);
    await tick();
    streams[0]!.push({ type: "text", text: "A" });
    streams[0]!.fail(new Error("LLM failed: 500"));
    const got: ChatEvent[] = [];
    await expect(
      (async () => {
        for await (const ev of early.take()) got.push(ev);
      })(),
    ).rejects.toThrow("LLM failed: 500");
    expect(got).toEqual([{ type: "text", text: "A" }]);
  });

  it("the same request is answered by it (the turn's signal then cancels it); another request cancels it and asks the LLM", async () => {
    const { llm, streams } = manualLlm();
    const same = startEarlyReply(llm, (signal) => request("hi", signal), 0, 0);
    const turn = new AbortController();
    const decided: boolean[] = [];
    const wrapped = withEarlyReply(llm, same, (_e, adopted) => decided.push(adopted));
    const events = wrapped.stream(request("hi", turn.signal));
    await tick();
    expect(decided).toEqual([true]);
    expect(streams).toHaveLength(1);
    turn.abort(new Error("barge-in"));
    expect(same.controller.signal.aborted).toBe(true);
    await expect(all(events)).rejects.toBeDefined();

    const other = startEarlyReply(llm, (signal) => request("the first half", signal), 0, 0);
    const fresh = withEarlyReply(llm, other, (_e, adopted) => decided.push(adopted));
    fresh.stream(request("the whole sentence")).next();
    await tick();
    expect(decided).toEqual([true, false]);
    expect(other.controller.signal.aborted).toBe(true);
    expect(streams.map((s) => s.req.messages[0]!.content)).toEqual(["hi", "the first half", "the whole sentence"]);
    // Only the first request of a turn can be the early one.
    fresh.stream(request("the first half")).next();
    await tick();
    expect(streams).toHaveLength(4);
  });

  it("the key covers everything the provider sees but the signal and the timeout", () => {
    const base = request("hi");
    expect(requestKey(base)).toBe(requestKey({ ...base, signal: new AbortController().signal, firstChunkTimeoutMs: 5 }));
    expect(requestKey(base)).not.toBe(requestKey({ ...base, model: "other" }));
    expect(requestKey(base)).not.toBe(requestKey({ ...base, toolChoice: "none" }));
    expect(requestKey(base)).not.toBe(requestKey({ ...base, messages: [{ role: "system", content: "x" }, ...base.messages] }));
  });

  it("cancelling aborts its request", async () => {
    const { llm, streams } = manualLlm();
    const early = startEarlyReply(llm, (signal) => request("hi", signal), 0, 0);
    await tick();
    expect(cancelEarlyReply(early)).toBeNull();
    expect(streams[0]!.req.signal.aborted).toBe(true);
    await expect(all(early.take())).rejects.toBeDefined();
  });
});
