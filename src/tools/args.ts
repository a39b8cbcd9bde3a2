import type { PropertySchema, ToolSchema } from "./tool.ts";

// Arguments the LLM wrote, checked against the tool's schema before anything is sent (PROTOCOL §13).
// The firmware refuses a JSON type that does not match (the string "50" for an integer) and
// out-of-range integers; models often quote numbers, so numeric strings are coerced here and the
// rest is refused with a message the model can act on in its next round.

export type ArgsCheck = { ok: true; args: Record<string, unknown> } | { ok: false; message: string };

const INTEGER = /^\s*-?\d+\s*$/;
const NUMBER = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

function range(p: PropertySchema): string {
  const lo = typeof p.minimum === "number" ? p.minimum : null;
  const hi = typeof p.maximum === "number" ? p.maximum : null;
  if (lo !== null && hi !== null) return ` between ${lo} and ${hi}`;
  if (lo !== null) return ` of at least ${lo}`;
  if (hi !== null) return ` of at most ${hi}`;
  return "";
}

type One = { ok: true; value: unknown } | { ok: false; message: string };

function checkOne(name: string, p: PropertySchema, value: unknown): One {
  const type = p.type;
  let v = value;
  if (type === "integer" || type === "number") {
    if (typeof v === "string" && (type === "integer" ? INTEGER : NUMBER).test(v)) v = Number(v);
    const isInt = typeof v === "number" && Number.isInteger(v);
    if (typeof v !== "number" || !Number.isFinite(v) || (type === "integer" && !isInt))
      return { ok: false, message: `${name} must be ${type === "integer" ? "an integer" : "a number"}${range(p)}` };
    if ((typeof p.minimum === "number" && v < p.minimum) || (typeof p.maximum === "number" && v > p.maximum)) {
      return { ok: false, message: `${name} must be ${type === "integer" ? "an integer" : "a number"}${range(p)}` };
    }
  } else if (type === "boolean") {
    if (v === "true" || v === "false") v = v === "true";
    if (typeof v !== "boolean") return { ok: false, message: `${name} must be true or false` };
  } else if (type === "string") {
    if (typeof v === "number") v = String(v);
    if (typeof v !== "string") return { ok: false, message: `${name} must be a string` };
  }
  if (Array.isArray(p.enum) && p.enum.length > 0 && !p.enum.includes(v)) {
    return { ok: false, message: `${name} must be one of ${p.enum.map((e) => JSON.stringify(e)).join(", ")}` };
  }
  return { ok: true, value: v };
}

/** Parses and checks `raw` (the model's JSON text); unknown properties are dropped, never sent. */
export function checkArgs(schema: ToolSchema, raw: string): ArgsCheck {
  let parsed: unknown;
  try {
    parsed = raw.trim() === "" ? {} : JSON.parse(raw);
  } catch {
    return { ok: false, message: "arguments are not valid JSON" };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return { ok: false, message: "arguments must be a JSON object" };
  const input = parsed as Record<string, unknown>;
  const props = schema.properties;
  const given = (k: string) => Object.hasOwn(input, k) && input[k] !== undefined && input[k] !== null;
  const missing = (schema.required ?? []).filter((k) => !given(k));
  if (missing.length) return { ok: false, message: `missing: ${missing.join(", ")}` };
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(props)) {
    // Names come from the device: one called `__proto__` would set the prototype, not a key.
    if (name === "__proto__" || !given(name)) continue;
    const one = checkOne(name, p, input[name]);
    if (!one.ok) return one;
    out[name] = one.value;
  }
  return { ok: true, args: out };
}
