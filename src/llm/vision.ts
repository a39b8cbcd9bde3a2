import { openAiClient, providerError } from "./chat-stream.ts";

// One question about one image, asked of an OpenAI-compatible vision model through the openai SDK
// (PROTOCOL §13, the camera tool's upload). Portable; never throws: a failure is a reason the
// device can read out, without the key.

export interface VisionConfig {
  baseUrl: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export interface VisionRequest {
  question: string;
  image: Uint8Array;
  mime: "image/jpeg" | "image/png" | "image/webp";
}

export type VisionResult = { ok: true; text: string } | { ok: false; message: string };

const SYSTEM =
  "You are the eyes of a small voice assistant. Answer the user's question about the photo in one to three short sentences, " +
  "in the language of the question, plainly, as it will be read aloud.";

function base64(bytes: Uint8Array): string {
  let bin = "";
  // Chunks keep String.fromCharCode's argument list short for a 2 MiB image.
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export async function explainImage(config: VisionConfig, req: VisionRequest): Promise<VisionResult> {
  const signal = AbortSignal.timeout(config.timeoutMs);
  try {
    const client = openAiClient(config);
    const res = await client.chat.completions.create(
      {
        model: config.model,
        max_tokens: 400,
        messages: [
          { role: "system", content: SYSTEM },
          {
            role: "user",
            content: [
              { type: "text", text: req.question },
              { type: "image_url", image_url: { url: `data:${req.mime};base64,${base64(req.image)}` } },
            ],
          },
        ],
      },
      { signal },
    );
    const text = res.choices?.[0]?.message?.content?.trim();
    return text ? { ok: true, text } : { ok: false, message: "the vision model gave no answer" };
  } catch (err) {
    if (signal.aborted) return { ok: false, message: `the vision model did not answer within ${Math.round(config.timeoutMs / 1000)} s` };
    const e = providerError("vision", err, config.apiKey);
    return { ok: false, message: `vision ${e.message}` };
  }
}
