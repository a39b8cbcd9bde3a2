import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The console's static files (public/console, PROTOCOL §12): the rules its CSP and token handling
// rely on, checked in the sources so a path the browser tests do not walk cannot break them.

const ROOT = resolve(import.meta.dirname, "../..");
const CONSOLE = join(ROOT, "public/console");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

const scripts = files(CONSOLE).filter((f) => f.endsWith(".js"));

describe("console assets", () => {
  it("ships the same libopus wasm the Worker uses", () => {
    const vendored = readFileSync(join(CONSOLE, "vendor/opus.wasm"));
    const upstream = readFileSync(join(ROOT, "node_modules/@evan/opus/wasm/opus.wasm"));
    expect(vendored.equals(upstream), "public/console/vendor/opus.wasm differs from @evan/opus: copy it again").toBe(true);
  });

  it("never turns strings into markup or code", () => {
    for (const f of scripts) {
      const src = readFileSync(f, "utf8");
      for (const banned of [/\.innerHTML\b/, /\.outerHTML\b/, /insertAdjacentHTML/, /document\.write/, /\beval\(/, /new Function\(/, /setTimeout\(\s*["'`]/]) {
        expect(banned.test(src), `${relative(ROOT, f)} uses ${banned}`).toBe(false);
      }
    }
  });

  it("keeps the admin token out of localStorage, cookies and URLs", () => {
    for (const f of scripts) {
      const src = readFileSync(f, "utf8");
      expect(/\blocalStorage\s*[.[]|document\.cookie/.test(src), `${relative(ROOT, f)} touches localStorage or cookies`).toBe(false);
    }
    // Only the API module holds the token, and it sends it only in the Authorization header.
    const holders = scripts.filter((f) => /\btoken\b/.test(readFileSync(f, "utf8")) && /sessionStorage/.test(readFileSync(f, "utf8")));
    expect(holders.map((f) => relative(CONSOLE, f))).toEqual(["lib/api.js"]);
  });

  it("has no inline script, style or event handler in its page", () => {
    const html = readFileSync(join(CONSOLE, "index.html"), "utf8");
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).toContain("Admin token");
  });
});
