import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { validator } from "hono/validator";
import type { z } from "zod";
import { isValidId, normaliseId } from "../auth/identity.ts";
import { MEETING_ID } from "../meeting/store.ts";
import { describeIssues } from "../protocol/errors.ts";
import { jsonTooDeep } from "../protocol/json-depth.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { apiError } from "./errors.ts";

// Request checks shared by the HTTP routes, all answering in the one error shape of PROTOCOL §11:
// bodies over the limit (413), bodies that are not JSON, too deep or of the wrong shape (400), and
// path parameters that are not ids (400). Hono has already percent-decoded path parameters once;
// they are never decoded again.

export const MAX_BODY_BYTES = 64 * 1024;

export function limitBody(maxSize = MAX_BODY_BYTES): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize,
    onError: (c) => apiError(c as AppContext, 413, "PAYLOAD_TOO_LARGE", `request body exceeds ${maxSize} bytes`),
  });
}

/**
 * The body as UTF-8 text, whatever its content type. Bytes, not `.text()`: workerd warns on every
 * text read of a non-text content type, and one client's wrong header would fill the dashboard's
 * logs with that warning.
 */
export async function bodyText(c: AppContext): Promise<string> {
  return new TextDecoder().decode(await c.req.arrayBuffer());
}

/** Parses the body as JSON (whatever its content type) and validates it; `c.req.valid("json")`. */
export function jsonBody<S extends z.ZodType>(schema: S): MiddlewareHandler<AppEnv, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }> {
  return async (c, next) => {
    const text = await bodyText(c);
    if (jsonTooDeep(text)) return apiError(c, 400, "SCHEMA_INVALID", "payload too deep");
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return apiError(c, 400, "INVALID_JSON", "body must be JSON");
    }
    const parsed = schema.safeParse(raw, { reportInput: true });
    if (!parsed.success) return apiError(c, 400, "SCHEMA_INVALID", describeIssues(parsed.error.issues));
    c.req.addValidatedData("json", parsed.data as object);
    await next();
  };
}

/** Path parameter `name` must be an id under PROTOCOL §2.1 (a device id or a group key), normalised. */
export function idParam<N extends string>(name: N, what: string) {
  return validator("param", (params: Record<string, string>, c) => {
    const id = normaliseId(params[name]);
    if (!isValidId(id)) return apiError(c as AppContext, 400, "INVALID_REQUEST", `invalid ${what}: 1-64 chars of [a-z0-9:._-]`);
    return { [name]: id } as Record<N, string>;
  });
}

/** Path parameter `id` must be a meeting id of the server's form (`m-<yyyymmdd>-<10 hex>`). */
export const meetingIdParam = validator("param", (params: Record<string, string>, c) => {
  const id = params.id ?? "";
  if (!MEETING_ID.test(id)) return apiError(c as AppContext, 400, "INVALID_REQUEST", "invalid meeting id");
  return { id };
});

export function intQuery(v: string | undefined, def: number, min: number, max: number): number {
  const n = v === undefined ? def : Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : def;
}
