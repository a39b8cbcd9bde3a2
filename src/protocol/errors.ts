import type { z } from "zod";

// Error replies of PROTOCOL §10 and the wording of schema failures. The message must let a firmware
// author fix the frame without reading our code: it names the missing and the invalid fields.

export const ERROR_CODES = ["INVALID_JSON", "UNKNOWN_TYPE", "MESSAGE_TOO_LARGE", "RATE_LIMITED", "NOT_IN_MODE", "INTERNAL_ERROR", "INVALID_FRAME"] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorReply {
  type: "error";
  code: ErrorCode;
  message: string;
  [extra: string]: unknown;
}

export function errorReply(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): ErrorReply {
  return { type: "error", code, message, ...extra };
}

export interface SchemaErrorReply {
  type: string;
  status: "error";
  code: "SCHEMA_INVALID";
  message: string;
}

export function schemaError(type: string, message: string): SchemaErrorReply {
  return { type, status: "error", code: "SCHEMA_INVALID", message };
}

function path(p: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const seg of p) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function isMissing(issue: z.core.$ZodIssue): boolean {
  return (issue.code === "invalid_type" || issue.code === "invalid_value") && "input" in issue && issue.input === undefined;
}

/**
 * "missing: title,duration" for absent required fields; "invalid: priority (must be integer 0-3)"
 * for the rest; both parts joined with "; " when a frame has both. Issues need `reportInput: true`.
 */
export function describeIssues(issues: ReadonlyArray<z.core.$ZodIssue>): string {
  const missing: string[] = [];
  const invalid: string[] = [];
  const sentences: string[] = [];
  for (const issue of issues) {
    // Nested failures of a union: report the branch that got furthest, which is the first one.
    if (issue.code === "invalid_union" && issue.errors.length > 0 && issue.errors[0]!.length > 0) {
      const inner = describeIssues(issue.errors[0]!.map((i) => ({ ...i, path: [...issue.path, ...i.path] })));
      invalid.push(inner);
      continue;
    }
    const where = path(issue.path) || "message";
    // Custom rules carry a complete sentence written for firmware authors: pass it through.
    if (issue.code === "custom") sentences.push(issue.message);
    else if (isMissing(issue)) missing.push(where);
    else invalid.push(`${where} (${issue.message})`);
  }
  const parts: string[] = [];
  if (missing.length) parts.push(`missing: ${[...new Set(missing)].join(",")}`);
  if (invalid.length) parts.push(`invalid: ${[...new Set(invalid)].join(", ")}`);
  parts.push(...new Set(sentences));
  return parts.join("; ") || "invalid message";
}
