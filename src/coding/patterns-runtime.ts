import type { Ecosystem, LineFact, OomKind } from "./facts.ts";

// Runtime failures that any tool can hit: a missing module, running out of memory, a timeout, the
// network. Each function returns the single most specific fact of a line, or null.

type ModuleFact = Extract<LineFact, { kind: "module" }>;
type OomFact = Extract<LineFact, { kind: "oom" }>;
type TimeoutFact = Extract<LineFact, { kind: "timeout" }>;
type NetworkFact = Extract<LineFact, { kind: "network" }>;

// Group 1 is the module name. Order matters only where two patterns can match the same line.
const MODULE: [RegExp, Ecosystem][] = [
  [/Cannot find (?:module|package) '([^']+)'/, "node"], // node CJS/ESM (ERR_MODULE_NOT_FOUND), tsc TS2307
  [/Cannot find module "([^"]+)"/, "node"],
  [/ModuleNotFoundError: No module named '([^']+)'/, "python"],
  [/ImportError: No module named '?([\w.]+)'?/, "python"],
  [/ImportError: cannot import name '?\w+'? from '([^']+)'/, "python"],
  [/Module not found: (?:Error: )?Can't resolve '([^']+)'/, "node"], // webpack
  [/Could not resolve "([^"]+)"/, "node"], // esbuild
  [/(?:Rollup failed to resolve|Failed to resolve) import "([^"]+)"/, "node"], // vite
  [/npm (?:ERR!|error) 404 +'([^']+)' is not in (?:the npm registry|this registry)/, "node"],
  [/error\[E0432\]: unresolved import `([^`]+)`/, "rust"],
  [/error\[E0433\]: failed to resolve: (?:use of (?:undeclared|unresolved) (?:crate or )?module|could not find `[^`]+` in) `([^`]+)`/, "rust"],
  [/no required module provides package ([^\s;]+)/, "go"],
  [/cannot find package "([^"]+)"/, "go"],
  [/package ([\w./-]+) is not in (?:GOROOT|std)/, "go"],
  [/error: package ([\w.]+) does not exist/, "java"],
  [/fatal error: '([^']+)' file not found/, "c"], // clang
  [/fatal error: ([\w./-]+\.h(?:pp)?): No such file or directory/, "c"], // gcc
];

export function moduleFact(text: string): ModuleFact | null {
  for (const [re, ecosystem] of MODULE) {
    const m = re.exec(text);
    // "zod@^4.1.0" (npm 404) → "zod": the name is what gets installed or imported.
    const name = m?.[1]?.replace(/(?<=.)@[\d^~<>=.x*-]+$/, "").trim();
    if (name) return { kind: "module", module: name, ecosystem };
  }
  return null;
}

const OOM: [RegExp, OomKind][] = [
  [/JavaScript heap out of memory|Reached heap limit|Ineffective mark-compacts near heap limit/, "heap"],
  [/\bOOMKilled\b/, "oomkilled"],
  [/fatal error: runtime: out of memory/, "go"],
  [/\bMemoryError\b/, "python"],
  [/\bexit(?:ed)?(?: with)? (?:code|status):? 137\b|\bExit Code:\s*137\b|\bcode 137\b|signal:? "?SIGKILL"?|\bsignal 9\b/i, "exit137"],
  [/(?:^|\s)Killed(?:\s|$)|Out of memory: Killed process/, "killed"],
  [/std::bad_alloc|memory allocation of \d+ bytes failed|Cannot allocate memory|\bout of memory\b/i, "native"],
];

export function oomFact(text: string): OomFact | null {
  for (const [re, what] of OOM) if (re.test(text)) return { kind: "oom", what };
  return null;
}

// Group 1, when present, is a duration worth quoting ("5000ms", "10m0s").
const TIMEOUT: [RegExp, string][] = [
  [/Test timed out in (\d+ ?ms)/, "test"], // vitest
  [/Exceeded timeout of (\d+ ?ms) for a (?:test|hook)/, "test"], // jest
  [/Timeout of (\d+ ?ms) exceeded/, "test"], // mocha
  [/panic: test timed out after (\S+)/, "test"], // go test -timeout
  [/\bETIMEDOUT\b|\bESOCKETTIMEDOUT\b|\bERR_SOCKET_TIMEOUT\b/, "ETIMEDOUT"],
  [/context deadline exceeded/, "deadline"],
  [/i\/o timeout|TLS handshake timeout|Connection timed out|operation timed out/i, "connection"],
  [/has exceeded the maximum execution time of (\d+ minutes?)/, "job"],
  [/\btimed out after (\d+(?:\.\d+)? ?(?:ms|s|sec|seconds?|m|min|minutes?))\b/i, "generic"],
  [/\btimed out\b|\btimeout exceeded\b/i, "generic"],
];

export function timeoutFact(text: string): TimeoutFact | null {
  for (const [re, kind] of TIMEOUT) {
    const m = re.exec(text);
    if (m) return { kind: "timeout", what: m[1] ? `${kind} ${m[1].replace(/\s+/g, "")}` : kind };
  }
  return null;
}

// Group 1, when present, is the host; `code` names the failure the way the tools do.
const NETWORK: [RegExp, string][] = [
  [/getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([\w.-]+)/, "ENOTFOUND"],
  [/\bENOTFOUND\b|\bEAI_AGAIN\b|Temporary failure in name resolution|no such host/, "ENOTFOUND"],
  [/Could not resolve host:? '?([\w.-]+)/, "DNS"],
  [/\bECONNREFUSED\b|Connection refused/i, "ECONNREFUSED"],
  [/\bECONNRESET\b|Connection reset by peer/i, "ECONNRESET"],
  [/\bEHOSTUNREACH\b|\bENETUNREACH\b|Network is unreachable/i, "UNREACHABLE"],
  [/socket hang up/i, "socket hang up"],
  [/\bfetch failed\b/, "fetch failed"],
  [/\b(50[234]) (?:Bad Gateway|Service Unavailable|Gateway Time-?out)\b/i, "HTTP"],
  [/^\s*npm (?:ERR!|error) network\b/, "npm network"],
  [/\bERR_PNPM_META_FETCH_FAIL\b|\bERR_SOCKET\w*\b|\bEPROTO\b|\bCERT_HAS_EXPIRED\b|unable to get local issuer certificate/, "TLS/socket"],
];

const REQUEST_HOST = /(?:request to |connect to |https?:\/\/)([a-z0-9.-]+\.[a-z]{2,})/i;

export function networkFact(text: string): NetworkFact | null {
  for (const [re, code] of NETWORK) {
    const m = re.exec(text);
    if (!m) continue;
    const fact: NetworkFact = { kind: "network", code: code === "HTTP" && m[1] ? `HTTP ${m[1]}` : code };
    const host = code === "ENOTFOUND" || code === "DNS" ? m[1] : REQUEST_HOST.exec(text)?.[1];
    if (host) fact.host = host.toLowerCase();
    return fact;
  }
  return null;
}
