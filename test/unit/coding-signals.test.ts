import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { entriesFromMessage, type HistoryEntry } from "../../src/coding/history.ts";
import { isStackLine, lineFacts } from "../../src/coding/patterns.ts";
import { extractSignals, isQuiet } from "../../src/coding/signals.ts";

// Signal extraction from real tool output (fixtures) and single lines of the other formats.

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/coding/${name}`, import.meta.url), "utf8");
const log = (text: string): HistoryEntry[] => entriesFromMessage({ type: "coding", event: "log", level: "info", text }, 1);
const step = (name: string, status: string): HistoryEntry[] => entriesFromMessage({ type: "coding", event: "step", name, status }, 1);
const signalsOf = (name: string) => extractSignals(log(fixture(name)));

describe("test runners", () => {
  it("vitest: count from the summary, names and file from the FAIL lines, test timeout", () => {
    const s = signalsOf("vitest-fail.txt");
    expect(s.tests).toMatchObject({ failed: 2, fromSummary: true, runners: ["vitest"], files: ["src/auth/auth.test.ts"] });
    expect(s.tests.names).toEqual(["auth > rejects expired tokens", "auth > refreshes the session before expiry"]);
    expect(s.timeouts.kinds).toEqual(["test 5000ms"]);
    expect(s.build.failed).toBe(false);
  });

  it("jest: the ● name gets the file of its FAIL line", () => {
    const s = signalsOf("jest-fail.txt");
    expect(s.tests).toMatchObject({
      failed: 1,
      fromSummary: true,
      runners: ["jest"],
      names: ["Cart › applies discount codes"],
      files: ["src/cart/cart.test.js"],
    });
  });

  it("pytest: FAILED lines and the === summary ===", () => {
    const s = signalsOf("pytest-fail.txt");
    expect(s.tests).toMatchObject({
      failed: 2,
      fromSummary: true,
      runners: ["pytest"],
      names: ["test_order_total", "test_refund_window"],
      files: ["tests/test_orders.py"],
    });
  });

  it("go test: leaf subtests, failing package, i/o timeout", () => {
    const s = signalsOf("go-test-fail.txt");
    expect(s.tests).toMatchObject({ failed: 2, fromSummary: false, runners: ["go"], packages: ["github.com/acme/edge/retry"] });
    expect(s.tests.names).toEqual(["TestRetryBackoff/caps_at_max", "TestDialUpstream"]);
    expect(s.timeouts.kinds).toEqual(["connection"]);
  });

  it("cargo test: summaries of the test binaries add up", () => {
    const s = signalsOf("cargo-test-fail.txt");
    expect(s.tests).toMatchObject({ failed: 2, fromSummary: true, runners: ["cargo"], names: ["parser::tests::parses_nested_lists", "roundtrip_unicode"] });
    expect(s.build.failed).toBe(false); // "error: test failed" is not a build error
  });

  it("mocha and jest timeouts", () => {
    expect(extractSignals(log('  1 failing\nError: Timeout of 2000ms exceeded. For async tests and hooks, ensure "done()" is called')).tests.failed).toBe(1);
    expect(extractSignals(log('    thrown: "Exceeded timeout of 5000 ms for a test.')).timeouts.kinds).toEqual(["test 5000ms"]);
  });
});

describe("compilers", () => {
  it("tsc (file(line,col) format) with a missing relative module", () => {
    const s = signalsOf("tsc-build.txt");
    expect(s.build).toMatchObject({ failed: true, count: 3, codes: ["TS2322", "TS2339", "TS2307"], tools: ["tsc"] });
    expect(s.build.files).toEqual(["src/api/client.ts", "src/components/Badge.tsx", "src/index.ts"]);
    expect(s.build.errors[0]).toEqual({ tool: "tsc", file: "src/api/client.ts", line: 42, code: "TS2322" });
    expect(s.modules).toEqual([{ name: "./config/env", ecosystem: "node" }]);
  });

  it("tsc (pretty format) and its Found line", () => {
    const s = signalsOf("tsc-pretty.txt");
    expect(s.build).toMatchObject({ failed: true, count: 2, codes: ["TS2322", "TS2345"], files: ["src/api/client.ts"] });
  });

  it("rustc: codes, locations from the --> line, unresolved import, clippy-style warning", () => {
    const s = signalsOf("rust-build.txt");
    expect(s.build).toMatchObject({ failed: true, count: 2, codes: ["E0432", "E0308"], files: ["src/display.rs", "src/main.rs"] });
    expect(s.modules).toEqual([{ name: "embassy_time::Ticker", ecosystem: "rust" }]);
    expect(s.lint).toMatchObject({ warnings: 1, rules: ["unused_variables"], files: ["display.rs"] });
  });

  it.each([
    ["main.c:3:5: error: expected ';' before 'return'", { tool: "cc", file: "main.c", line: 3 }],
    ["src/drv/i2c.cpp:120:14: fatal error: esp_log.h: No such file or directory", { tool: "cc", file: "src/drv/i2c.cpp", line: 120 }],
    ["./main.go:14:2: undefined: Foo", { tool: "go", file: "./main.go", line: 14 }],
    ["src/main/java/App.java:7: error: cannot find symbol", { tool: "javac", file: "src/main/java/App.java", line: 7 }],
    ['✘ [ERROR] Expected ";" but found "}"', { tool: "esbuild" }],
  ])("%s", (line, error) => {
    const s = extractSignals(log(line));
    expect(s.build.failed).toBe(true);
    expect(s.build.errors[0]).toMatchObject(error);
  });

  it("esbuild takes the location from the indented line after the error", () => {
    const s = extractSignals(log('✘ [ERROR] Could not resolve "lodash-es"\n\n    src/util.ts:1:18:\n      1 │ import { debounce } from "lodash-es";'));
    expect(s.build.errors[0]).toMatchObject({ tool: "esbuild", file: "src/util.ts", line: 1 });
    expect(s.modules).toEqual([{ name: "lodash-es", ecosystem: "node" }]);
  });

  it("a successful build step clears earlier build errors; tsc --watch 'Found 0 errors' too", () => {
    const tsc = log(fixture("tsc-build.txt"));
    expect(extractSignals([...tsc, ...step("build", "ok")]).build.failed).toBe(false);
    expect(extractSignals([...tsc, ...log("[10:01:02 AM] Found 0 errors. Watching for file changes.")]).build.failed).toBe(false);
  });
});

describe("runtime failures", () => {
  it("missing modules, newest first", () => {
    const s = extractSignals(
      log(
        [
          "Error: Cannot find module 'express'",
          "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'zod' imported from /app/src/index.js",
          "Module not found: Error: Can't resolve 'react-dom/client' in '/app/src'",
          '[vite]: Rollup failed to resolve import "@acme/ui" from "src/App.tsx".',
          "go: finding module for package github.com/acme/lib\nmain.go:5:2: no required module provides package github.com/acme/lib; to add it:",
          "E   ModuleNotFoundError: No module named 'numpy.linalg'",
        ].join("\n"),
      ),
    );
    expect(s.modules.map((m) => m.name)).toEqual(["numpy.linalg", "github.com/acme/lib", "@acme/ui", "react-dom/client", "zod", "express"]);
    expect(s.modules[0]!.ecosystem).toBe("python");
  });

  it("out of memory: node heap, Killed/137, OOMKilled, MemoryError, go runtime", () => {
    expect(signalsOf("oom-node.txt").oom.kinds).toEqual(["heap"]);
    expect(signalsOf("oom-killed.txt").oom.kinds).toEqual(["killed", "exit137"]);
    expect(extractSignals(log("      Reason:       OOMKilled\n      Exit Code:    137")).oom.kinds).toEqual(["oomkilled", "exit137"]);
    expect(extractSignals(log("MemoryError: Unable to allocate 7.45 GiB for an array")).oom.kinds).toEqual(["python"]);
    expect(extractSignals(log("fatal error: runtime: out of memory")).oom.kinds).toEqual(["go"]);
  });

  it("timeouts", () => {
    const s = extractSignals(log("Error: connect ETIMEDOUT 10.0.0.5:443\nError: context deadline exceeded\nStep timed out after 30s"));
    expect(s.timeouts.kinds).toEqual(["ETIMEDOUT", "deadline", "generic 30s"]);
  });

  it("network: flaky install then fetch failure, hosts with the unresolved one first", () => {
    const s = signalsOf("network-flaky.txt");
    expect(s.network.codes).toEqual(expect.arrayContaining(["ECONNRESET", "ENOTFOUND", "fetch failed", "npm network"]));
    expect(s.network.hosts).toEqual(["api.staging.acme.dev", "registry.npmjs.org"]);
  });

  it.each([
    ["Error: connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"],
    ["Error: socket hang up", "socket hang up"],
    ["<html><head><title>502 Bad Gateway</title></head>", "HTTP 502"],
    ["curl: (6) Could not resolve host: mirror.example.org", "DNS"],
    ["npm error network request to https://registry.npmjs.org/vite failed", "npm network"],
  ])("%s → %s", (line, code) => {
    expect(extractSignals(log(line)).network.codes).toEqual([code]);
  });
});

describe("lint", () => {
  it("eslint: counts from the summary, rules, files from the path lines", () => {
    const s = signalsOf("eslint-warnings.txt");
    expect(s.lint).toMatchObject({ warnings: 4, errors: 0, tools: ["eslint"], files: ["Badge.tsx", "settings.tsx"] });
    expect(s.lint.rules).toEqual(["@typescript-eslint/no-unused-vars", "react-hooks/exhaustive-deps", "@typescript-eslint/no-explicit-any"]);
    expect(s.build.failed).toBe(false);
    expect(s.tests.failed).toBe(0);
  });

  it("ruff, biome, golangci-lint, clippy", () => {
    const s = extractSignals(
      log(
        [
          "app/main.py:1:8: F401 [*] `os` imported but unused",
          "src/a.ts:3:10 lint/correctness/noUnusedVariables  FIXABLE  ━━━━━━━━━━━━",
          "internal/x/y.go:12:2: ineffectual assignment to err (ineffassign)",
          "warning: this `if` has identical blocks",
          "   = note: `#[warn(clippy::if_same_then_else)]` on by default",
        ].join("\n"),
      ),
    );
    expect(s.lint.warnings).toBe(4);
    expect(s.lint.tools).toEqual(["ruff", "biome", "golangci-lint", "rustc"]);
    expect(s.lint.rules).toEqual(["F401", "lint/correctness/noUnusedVariables", "ineffassign", "clippy::if_same_then_else"]);
    expect(s.build.failed).toBe(false);
  });
});

describe("steps and quiet", () => {
  it("failed steps by their last outcome, newest first", () => {
    const s = extractSignals([...step("install", "ok"), ...step("deploy", "fail"), ...step("lint", "fail"), ...step("lint", "ok")]);
    expect(s.steps).toEqual({ failed: ["deploy"], passed: ["lint", "install"], last: "lint" });
    expect(isQuiet(s)).toBe(false);
  });

  it("a clean history is quiet", () => {
    const s = extractSignals([...step("build", "ok"), ...log("✓ built in 2.31s\n      Tests  12 passed (12)")]);
    expect(isQuiet(s)).toBe(true);
  });
});

describe("lines", () => {
  it.each([
    "    at Object.toBe (src/cart/cart.test.js:20:26)",
    "    at async Promise.all (index 0)",
    '  File "/srv/app/x.py", line 3, in <module>',
    "Traceback (most recent call last):",
    " 1: 0xb8cf03 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]",
    "     42|     expect(res.status).toBe(200);",
    "    > 20 |     expect(cart.total()).toBe(90);",
    "goroutine 1 [running]:",
  ])("stack or code frame: %s", (line) => {
    expect(isStackLine(line)).toBe(true);
    expect(lineFacts(line)).toEqual([]);
  });

  it("no facts from ordinary lines", () => {
    for (const line of [
      "> web@1.4.0 test",
      "added 812 packages, and audited 813 packages in 24s",
      "Test Files  1 failed | 2 passed (3)",
      "found 0 vulnerabilities",
    ]) {
      expect(lineFacts(line)).toEqual([]);
    }
  });
});
