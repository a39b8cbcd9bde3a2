import type { Settings } from "../config/settings.ts";
import { type ChatLlm, type ChatMessage, type ChatRequest, type ChatTool, ProviderError, type ToolCall } from "../llm/chat-stream.ts";
import { log } from "../log.ts";
import { checkArgs } from "../tools/args.ts";
import { ToolNames } from "../tools/names.ts";
import type { ToolResult, TurnTool } from "../tools/tool.ts";
import type { Clock } from "./clock.ts";
import type { TurnMetrics } from "./metrics.ts";
import type { SentenceSplitter } from "./sentences.ts";

// The LLM rounds of one chat turn (PROTOCOL §13). Each round streams as in §5.1: its text is split
// into sentences and spoken at once, into the turn's one reply. A round that ends with tool calls
// has them run in the order given (device calls one at a time, each waited for) and their results
// fed to the next round; after CHAT_MAX_TOOL_ROUNDS rounds with tools, one last round with
// tool_choice "none" must answer. Only names offered this turn are called, arguments are checked
// against the tool's schema before anything is sent, and every failure is a result the model can
// read ({"error":...}), so the turn always ends with something said.

/** Calls run per round; the rest are answered with an error without running. */
export const MAX_CALLS_PER_ROUND = 8;

export interface RoundsPort {
  deviceId: string;
  settings: Settings;
  llm: ChatLlm;
  /** The device profile's model over LLM_MODEL (PROTOCOL §11). */
  model?: string;
  signal: AbortSignal;
  clock: Clock;
  metrics: TurnMetrics;
  splitter: SentenceSplitter;
  /** A whole sentence to speak (the turn's reply). */
  say(sentence: string): void;
}

export interface RoundsOutcome {
  /** end_conversation was called: say this, then close after `tts stop`. */
  end: { goodbye: string } | null;
}

function toolSpecs(names: ToolNames): ChatTool[] {
  return names.entries().map(([name, tool]) => ({
    type: "function",
    function: { name, description: tool.description.slice(0, 1024), parameters: tool.parameters as unknown as Record<string, unknown> },
  }));
}

/** Streams one round: text is spoken as it comes; returns the round's text and its tool calls. */
async function streamRound(port: RoundsPort, req: ChatRequest, t0: number): Promise<{ text: string; calls: ToolCall[] }> {
  const { metrics, splitter } = port;
  const took = () => port.clock.now() - t0;
  let text = "";
  let calls: ToolCall[] = [];
  for await (const ev of port.llm.stream(req)) {
    if (ev.type === "done") {
      calls = ev.toolCalls;
      continue;
    }
    text += ev.text;
    metrics.llmFirstTokenMs ??= took();
    for (const sentence of splitter.push(ev.text)) {
      metrics.llmFirstSentenceMs ??= took();
      port.say(sentence);
    }
  }
  // What was said before the tool calls is spoken now, not after they return.
  for (const sentence of splitter.flush()) {
    metrics.llmFirstSentenceMs ??= took();
    port.say(sentence);
  }
  return { text, calls };
}

function resultText(r: ToolResult, maxChars: number): string {
  if (!r.ok) return JSON.stringify({ error: r.message });
  return r.text.length > maxChars ? `${r.text.slice(0, maxChars)}…[cut]` : r.text;
}

async function runCall(port: RoundsPort, names: ToolNames, call: ToolCall, index: number): Promise<ToolResult> {
  const tool = names.resolve(call.name);
  const t0 = port.clock.now();
  let result: ToolResult;
  if (index >= MAX_CALLS_PER_ROUND) result = { ok: false, code: "TOO_MANY_CALLS", message: `at most ${MAX_CALLS_PER_ROUND} tool calls run per round` };
  else if (!tool) result = { ok: false, code: "UNKNOWN_TOOL", message: `no tool named "${call.name.slice(0, 64)}" is offered` };
  else {
    const args = checkArgs(tool.parameters, call.arguments);
    try {
      result = args.ok ? await tool.run(args.args, port.signal) : { ok: false, code: "BAD_ARGUMENTS", message: `bad arguments: ${args.message}` };
    } catch (err) {
      // Barge-in or the socket closing during the wait: the call is still one of the turn's.
      if (port.signal.aborted) {
        record(port, tool.name, tool.kind, port.clock.now() - t0, { ok: false, code: "ABORTED", message: "aborted" });
        throw err;
      }
      // A tool that broke (an RPC to another object failing) is a failed call, not a failed turn.
      log.warn("voice.tool_failed", { deviceId: port.deviceId, name: tool.name, error: err });
      result = { ok: false, code: "FAILED", message: "the tool failed; try again later" };
    }
  }
  record(port, tool?.name ?? call.name.slice(0, 64), tool?.kind ?? null, port.clock.now() - t0, result);
  return result;
}

/** The call in the turn's metrics and its `voice.tool` line. */
function record(port: RoundsPort, name: string, kind: string | null, ms: number, result: ToolResult): void {
  const m = port.metrics;
  m.toolCalls++;
  m.toolMs += ms;
  if (!result.ok) m.toolErrors++;
  log.info("voice.tool", { deviceId: port.deviceId, name, kind, ms, ok: result.ok, code: result.ok ? null : result.code });
}

type RequestPort = Pick<RoundsPort, "settings" | "model" | "signal">;

/** The request of one round: the last one (after CHAT_MAX_TOOL_ROUNDS) may not call tools. */
function roundRequest(port: RequestPort, messages: ChatMessage[], specs: ChatTool[] | null, last: boolean): ChatRequest {
  const s = port.settings;
  return {
    messages,
    maxTokens: s.CHAT_MAX_TOKENS,
    ...(port.model ? { model: port.model } : {}),
    signal: port.signal,
    firstChunkTimeoutMs: s.LLM_TIMEOUT_MS,
    ...(specs ? { tools: specs, toolChoice: last ? ("none" as const) : ("auto" as const) } : {}),
  };
}

/** The first request `runRounds` makes for these messages and tools (the early reply's). */
export function firstRoundRequest(port: RequestPort, messages: ChatMessage[], tools: readonly TurnTool[]): ChatRequest {
  const names = new ToolNames(tools);
  return roundRequest(port, messages, names.size > 0 ? toolSpecs(names) : null, port.settings.CHAT_MAX_TOOL_ROUNDS <= 0);
}

/** Runs the rounds into `messages` (extended with the tool traffic of this turn only). */
export async function runRounds(port: RoundsPort, messages: ChatMessage[], tools: readonly TurnTool[]): Promise<RoundsOutcome> {
  const s = port.settings;
  const names = new ToolNames(tools);
  let specs: ChatTool[] | null = names.size > 0 ? toolSpecs(names) : null;
  let refused = false;
  const t0 = port.clock.now();
  for (let round = 0; ; ) {
    const last = round >= s.CHAT_MAX_TOOL_ROUNDS;
    const req = roundRequest(port, messages, specs, last);
    let out: { text: string; calls: ToolCall[] };
    try {
      out = await streamRound(port, req, t0);
    } catch (err) {
      // A provider without function calling answers 400 to `tools`: once more without them.
      if (specs && !refused && !port.signal.aborted && err instanceof ProviderError && err.status === 400) {
        log.warn("voice.tools_refused", { deviceId: port.deviceId, message: err.message });
        refused = true;
        specs = null;
        continue;
      }
      throw err;
    }
    if (!specs || last || out.calls.length === 0) return { end: null };
    round++;
    port.metrics.toolRounds++;
    messages.push({
      role: "assistant",
      content: out.text || null,
      tool_calls: out.calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
    });
    for (const [i, call] of out.calls.entries()) {
      const result = await runCall(port, names, call, i);
      if (port.signal.aborted) return { end: null };
      if (result.ok && result.end) return { end: result.end };
      messages.push({ role: "tool", tool_call_id: call.id, content: resultText(result, s.MCP_RESULT_MAX_CHARS) });
    }
  }
}
