// Layer rules that fail the build (`npm run lint:deps`, part of `npm test`). The layers, each
// importing only from layers below it (docs/architecture.md):
//   index.ts → http/ → objects/ → capabilities.ts → capability folders
//   → session/ (the host) → auth/ llm/ config/ group/ text/ → protocol/ storage/ log.ts
// Type-only imports count: a cycle of types is still a cycle of design.

const CAPABILITIES = "^src/(activation|peer|meeting|workflow|coding|voice|fleet|profile|mcp|tools)/";
const RUNTIME_ADAPTERS = "^src/(objects/|index\\.ts$)";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      severity: "error",
      comment: "Import cycles make layers meaningless and module start-up order fragile.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "runtime-only-in-adapters",
      severity: "error",
      comment: "Only src/objects/ and src/index.ts touch the Workers runtime; the rest also runs on Node and Deno.",
      from: { path: "^src/", pathNot: RUNTIME_ADAPTERS },
      to: { path: "^cloudflare:" },
    },
    {
      name: "no-node-builtins-in-src",
      severity: "error",
      comment: "Portable code uses web-standard APIs only (no fs, no Buffer, no node:*).",
      from: { path: "^src/", pathNot: RUNTIME_ADAPTERS },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "session-imports-no-capability",
      severity: "error",
      comment:
        "The session core is a host: capabilities plug into it through src/capabilities.ts, never the other way. An allowlist of the layers below it, so a new capability folder is covered without being named here.",
      from: { path: "^src/session/" },
      to: { path: "^src/", pathNot: ["^src/(session|auth|llm|config|group|text|metrics|protocol|storage)/", "^src/log\\.ts$"] },
    },
    {
      name: "capabilities-below-adapters",
      severity: "error",
      comment: "Capabilities know the session API and ports, never the runtime adapters, the HTTP layer or the list that hosts them.",
      from: { path: CAPABILITIES },
      to: { path: ["^src/(objects|http)/", "^src/index\\.ts$", "^src/capabilities\\.ts$"] },
    },
    {
      name: "foundations-import-no-upper-layer",
      severity: "error",
      comment: "auth, llm, config, group, text, metrics, protocol, storage and log sit below sessions and capabilities.",
      from: { path: "^src/(auth|llm|config|group|text|metrics|protocol|storage)/|^src/log\\.ts$" },
      to: { path: [CAPABILITIES, "^src/(session|objects|http)/", "^src/(index|capabilities)\\.ts$"] },
    },
    {
      name: "protocol-storage-log-at-the-bottom",
      severity: "error",
      from: { path: "^src/(protocol|storage)/|^src/log\\.ts$" },
      to: { path: "^src/", pathNot: "^src/(protocol|storage)/|^src/log\\.ts$" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve is a typo or a missing dependency.",
      from: {},
      to: { couldNotResolve: true, pathNot: "^cloudflare:" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"], extensions: [".ts", ".js", ".json", ".wasm"] },
    builtInModules: { add: ["cloudflare:workers", "cloudflare:test"] },
  },
};
