import type { ServerResponse } from "node:http";
import type { ActiveMode } from "./types.ts";

// Response helpers shared by the routes (and exported for routes added by tests).

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type = "server_error",
  code: string | null = null,
  param: string | null = null,
): void {
  sendJson(res, status, { error: { message, type, param, code } });
}

/** A 400 in OpenAI's shape. */
export function badRequest(res: ServerResponse, message: string, param: string | null = null, code: string | null = null): void {
  sendError(res, 400, message, "invalid_request_error", code, param);
}

/** Applies a content mode to an answer text. */
export function shapeAnswer(text: string, mode: ActiveMode | null): string {
  switch (mode?.mode) {
    case "non_json":
      return "Sure! The meeting went well, everyone agreed on the plan, and there is nothing more to add.";
    case "truncated_json": {
      const cut = Math.max(1, Math.floor(text.length / 2));
      return text.slice(0, cut);
    }
    case "fenced":
      return `Here is the JSON you asked for:\n\`\`\`json\n${text}\n\`\`\`\nLet me know if you need anything else.`;
    default:
      return text;
  }
}

export const approxTokens = (s: string) => Math.max(1, Math.ceil(s.length / 4));

let idCounter = 0;
export const nextId = (prefix: string) => `${prefix}-fake${Date.now().toString(36)}${(++idCounter).toString(36)}`;

/** Splits by code points, so an emoji is never cut in half across deltas. */
export function splitText(text: string, size: number): string[] {
  const points = Array.from(text);
  const n = Math.max(1, Math.floor(size));
  const out: string[] = [];
  for (let i = 0; i < points.length; i += n) out.push(points.slice(i, i + n).join(""));
  return out;
}

/**
 * Resolves once `res` accepted the write (or the client went away); yields a macrotask so writes
 * leave as separate chunks rather than one coalesced buffer.
 */
export function writeChunk(res: ServerResponse, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = () => {
      res.off("close", done);
      setImmediate(resolve);
    };
    res.once("close", done);
    res.write(data, done);
  });
}

/** Describes a multipart form for the request record (files by name, type and size, not content). */
export function describeForm(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of form.entries()) {
    out[key] = typeof value === "string" ? value : { filename: value.name, type: value.type, bytes: value.size };
  }
  return out;
}

/** Parses a multipart body with the platform's own parser (undici), as a real server would. */
export async function parseMultipart(raw: Buffer, contentType: string): Promise<FormData | null> {
  try {
    return await new Request("http://fake/", { method: "POST", headers: { "content-type": contentType }, body: new Uint8Array(raw) }).formData();
  } catch {
    return null;
  }
}
