import { readFileSync } from "node:fs";

// bench/wrangler.toml mirrors ../wrangler.toml plus the echo object. This finds lines of the main
// config (bindings, vars, flags, migrations) that the bench config lacks, so a forgotten binding
// shows up as a warning instead of a confusing benchmark failure. A line-level check, not a TOML
// parser: good enough for a config kept in the same shape.

function lines(path: string): { top: boolean; text: string }[] {
  let top = true;
  return readFileSync(path, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((text) => {
      if (text.startsWith("[")) top = false;
      return { top, text };
    });
}

const classes = (l: string) => [...l.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);

export function configDrift(mainPath: string, benchPath: string): string[] {
  const bench = lines(benchPath);
  const have = new Set(bench.map((l) => l.text));
  const benchClasses = new Set(bench.filter((l) => l.text.startsWith("new_sqlite_classes")).flatMap((l) => classes(l.text)));
  const missing: string[] = [];
  for (const { top, text } of lines(mainPath)) {
    if (top && /^(name|main)\s*=/.test(text)) continue; // the bench Worker's own name and entry
    if (/^directory\s*=/.test(text)) continue; // a path, relative to each file
    if (text.startsWith("new_sqlite_classes")) {
      for (const c of classes(text)) if (!benchClasses.has(c)) missing.push(`new_sqlite_classes: ${c}`);
      continue;
    }
    if (!have.has(text)) missing.push(text);
  }
  return missing;
}
