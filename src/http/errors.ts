import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppContext } from "./context.ts";

// HTTP errors are always `{"error":{"code","message"}}` (PROTOCOL §11), whatever route raised them.

export function apiError(c: AppContext, status: ContentfulStatusCode, code: string, message: string) {
  return c.json({ error: { code, message } }, status);
}
