import { env } from "cloudflare:workers";

declare module "vitest" {
  // Provided by test/setup/worker-services.ts (Node reads the files; workerd cannot).
  export interface ProvidedContext {
    speechZh: string;
    speechEn: string;
  }
}

// Steering the Node-side test services (see test/setup/worker-services.ts) from inside workerd.

const llmBase = () => env.LLM_BASE_URL.replace(/\/v1\/?$/, "");
const hooksBase = () => new URL(env.MEETING_WEBHOOK_URL).origin;

async function post(url: string, body: unknown = {}): Promise<any> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return res.json();
}

export const llm = {
  answer: (answer: string) => post(`${llmBase()}/__control/answer`, { answer }),
  mode: (mode: string | null, opts: { times?: number; delayMs?: number } = {}) => post(`${llmBase()}/__control/mode`, { mode, ...opts }),
  reset: () => post(`${llmBase()}/__control/reset`),
  calls: async (): Promise<number> => (await post(`${llmBase()}/__control/calls`)).calls,
};

/** The fake's voice endpoints: recognition answers, speech timing, latency, what it received. */
export const voice = {
  asr: (answer: string | string[] | null) => post(`${llmBase()}/__control/asr`, { answer }),
  tts: (opts: { wavSampleRate?: number; pcmAsWav?: boolean; msPerCjk?: number; msPerLatin?: number; minMs?: number; chunkMs?: number }) =>
    post(`${llmBase()}/__control/tts`, opts),
  latency: (opts: { asr?: number; llm?: number; tts?: number; llmChunk?: number; ttsChunk?: number }) => post(`${llmBase()}/__control/latency`, opts),
  fail: (kind: "asr" | "llm" | "tts", opts: { times?: number; status?: number } = {}) =>
    post(`${llmBase()}/__control/mode`, { mode: "http500", kind, ...opts }),
  records: (): Promise<{ chats: any[]; transcriptions: any[]; speeches: any[] }> => post(`${llmBase()}/__control/records`),
  /** The WAV the server sent to ASR last. */
  lastAudio: async (): Promise<Uint8Array> => Uint8Array.from(atob((await post(`${llmBase()}/__control/last-audio`)).base64 ?? ""), (c) => c.charCodeAt(0)),
};

export interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
  status: number;
}

export const hooks = {
  received: async (): Promise<Received[]> => (await fetch(`${hooksBase()}/__control/webhooks`)).json(),
  fail: (n: number, status: number) => post(`${hooksBase()}/__control/fail`, { n, status }),
  reset: () => post(`${hooksBase()}/__control/reset`),
};
