// The typed facts one log line can carry (see patterns.ts, which finds them).

export type Runner = "vitest" | "jest" | "mocha" | "pytest" | "go" | "cargo";
export type OomKind = "heap" | "killed" | "exit137" | "oomkilled" | "python" | "go" | "native";
/** Where a missing module comes from: decides the advice (npm install, pip install, cargo add…). */
export type Ecosystem = "node" | "python" | "rust" | "go" | "java" | "c";

export type LineFact =
  | { kind: "testFail"; runner: Runner; name?: string; file?: string }
  | { kind: "testSummary"; runner: Runner; failed: number; passed: number }
  | { kind: "testPackageFail"; runner: "go"; pkg: string }
  | { kind: "compile"; tool: string; file?: string; line?: number; code?: string }
  | { kind: "compileSummary"; errors: number }
  | { kind: "buildFail"; tool: string }
  | { kind: "location"; file: string; line: number }
  | { kind: "module"; module: string; ecosystem: Ecosystem }
  | { kind: "oom"; what: OomKind }
  | { kind: "timeout"; what: string }
  | { kind: "network"; code: string; host?: string }
  | { kind: "lint"; tool: string; severity: "warning" | "error"; rule?: string; file?: string }
  | { kind: "lintRule"; rule: string }
  | { kind: "lintFile"; file: string }
  | { kind: "lintSummary"; errors: number; warnings: number }
  | { kind: "cargoBuild" };
