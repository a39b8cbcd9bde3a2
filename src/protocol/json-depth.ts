// PROTOCOL §10: JSON nested deeper than 32 levels is refused (`payload too deep`). Checked on the
// raw text before anything walks the parsed value: schema validation, structured clone for RPC
// and JSON.stringify all recurse, and a few kilobytes of brackets would overflow their stacks.

export const MAX_JSON_DEPTH = 32;

/** True when `text` (JSON or not) opens more than `max` arrays/objects at once, strings excluded. */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}
