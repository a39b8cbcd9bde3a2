import { emptyAdvice, type Advice, type Say } from "./advice.ts";
import type { Signals } from "./signals.ts";

// Advice for the lower-priority signals: timeouts, network, lint, and a failed step that no other
// signal explains. Same rule as advice.ts: built from signal fields only.

export function timeouts(s: Signals, p: Say): Advice {
  const a = emptyAdvice();
  const kinds = s.timeouts.kinds;
  const test = kinds.find((k) => k.startsWith("test"));
  const net = kinds.filter((k) => /^(?:ETIMEDOUT|deadline|connection)/.test(k));
  if (test) {
    const limit = test.split(" ")[1];
    a.insights.push(p(`A test hits the ${limit ?? ""} timeout`.replace("  ", " "), `有测试超时${limit ? `（${limit}）` : ""}`));
    a.risks.push(p("A hanging test: an await or a timer never completes", "测试卡住：某个 await 或定时器一直没完成"));
    a.actions.push(
      p(
        "Look for a missing await or fake timers in the slow test; raise its timeout only if it is really slow",
        "检查慢测试里是否漏了 await 或用了假定时器；确实慢才调大超时",
      ),
    );
  }
  if (net.length) {
    a.insights.push(p(`Calls time out (${net.join(", ")})`, `调用超时（${net.join("、")}）`));
    a.risks.push(p("A service is slow or unreachable from here", "某个服务响应慢或无法访问"));
    a.actions.push(p("Check that the service is up and reachable; add a retry with backoff", "确认服务在线且可访问；加上带退避的重试"));
  }
  if (kinds.some((k) => k.startsWith("job"))) {
    a.insights.push(p("The job hit the CI time limit", "任务超出 CI 时间上限"));
    a.actions.push(p("Cache dependencies or split the job to finish in time", "缓存依赖或拆分任务以按时完成"));
  }
  if (a.insights.length === 0) {
    a.insights.push(p("Something timed out", "有操作超时"));
    a.actions.push(p("Find what waits the longest and give it a retry or a longer limit", "找出等待最久的操作，加重试或放宽时限"));
  }
  a.nextSteps.push(p("Re-run once to tell a flaky timeout from a real hang", "重跑一次，区分偶发超时和真正卡死"));
  return a;
}

export function network(s: Signals, p: Say): Advice {
  const a = emptyAdvice();
  const codes = s.network.codes;
  const host = s.network.hosts[0];
  // "npm network" and "fetch failed" only say that something failed; show the specific codes first.
  const generic = new Set(["npm network", "fetch failed"]);
  const shown = [...codes.filter((c) => !generic.has(c)), ...codes.filter((c) => generic.has(c))].slice(0, 3);
  a.insights.push(p(`Network errors: ${shown.join(", ")}${host ? ` (${host})` : ""}`, `网络错误：${shown.join("、")}${host ? `（${host}）` : ""}`));
  a.risks.push(p("Flaky network: installs and fetches can fail at random", "网络不稳定：安装和请求可能随机失败"));
  if (codes.includes("ENOTFOUND") || codes.includes("DNS"))
    a.actions.push(
      host ? p(`Check the host name and DNS for ${host}`, `检查 ${host} 的域名和 DNS`) : p("Check the host name and DNS settings", "检查域名和 DNS 设置"),
    );
  if (codes.includes("ECONNREFUSED")) a.actions.push(p("Start the service first or check its port", "先启动服务，或检查端口"));
  if (codes.some((c) => c !== "ENOTFOUND" && c !== "DNS" && c !== "ECONNREFUSED"))
    a.actions.push(p("Retry; if it keeps failing, check the registry or proxy settings", "重试；一直失败就检查镜像源或代理设置"));
  a.nextSteps.push(p("Re-run the step; cache dependencies to rely less on the network", "重跑该步骤；缓存依赖以减少对网络的依赖"));
  return a;
}

function shortRule(rule: string): string {
  return rule.split("/").pop() ?? rule;
}

export function lint(s: Signals, p: Say): Advice {
  const a = emptyAdvice();
  const l = s.lint;
  const rules = [...new Set(l.rules.map(shortRule))].slice(0, 2);
  const what = [
    l.warnings ? p(`${l.warnings} warning${l.warnings === 1 ? "" : "s"}`, `${l.warnings} 个警告`) : "",
    l.errors ? p(`${l.errors} error${l.errors === 1 ? "" : "s"}`, `${l.errors} 个错误`) : "",
  ]
    .filter(Boolean)
    .join(p(", ", "，"));
  a.insights.push(p(`Lint: ${what}${rules.length ? ` (${rules.join(", ")})` : ""}`, `代码检查：${what}${rules.length ? `（${rules.join("、")}）` : ""}`));
  if (l.errors > 0)
    a.risks.push(p(`${l.errors} lint error${l.errors === 1 ? "" : "s"} will fail the lint check`, `${l.errors} 个代码检查错误会让 lint 检查失败`));
  const tool = l.tools[0];
  const fix = { eslint: "eslint --fix", ruff: "ruff check --fix", rustc: "cargo clippy --fix", biome: "biome check --write" }[tool ?? ""];
  const files = l.files.slice(0, 2).join(", ");
  const rule = rules[0];
  a.actions.push(
    rule
      ? p(
          `Clean up ${rule}${files ? ` in ${files}` : ""}${fix ? `; ${fix} handles some` : ""}`,
          `清理 ${rule}${files ? `（${files}）` : ""}${fix ? `；${fix} 能自动修一部分` : ""}`,
        )
      : p(`Clean up the lint warnings${files ? ` in ${files}` : ""}`, `清理代码检查警告${files ? `（${files}）` : ""}`),
  );
  a.nextSteps.push(
    fix ? p(`Run ${fix}, then review what is left`, `运行 ${fix}，再检查剩下的`) : p("Re-run the linter after the cleanup", "清理后重新运行代码检查"),
  );
  return a;
}

export function failedStep(s: Signals, p: Say): Advice {
  const a = emptyAdvice();
  const name = s.steps.failed[0];
  if (!name) return a;
  a.insights.push(p(`Step ${name} failed`, `步骤 ${name} 失败`));
  a.risks.push(p(`${name} is failing: the steps after it are blocked`, `${name} 失败，后续步骤被阻塞`));
  a.actions.push(p(`Open the ${name} output and fix the first error in it`, `打开 ${name} 的输出，先修第一个错误`));
  a.nextSteps.push(p(`Re-run ${name} after the fix`, `修完后重跑 ${name}`));
  return a;
}
