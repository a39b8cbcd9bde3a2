import type { Lang } from "../text/lang.ts";
import type { Runner } from "./patterns.ts";
import { baseName, type MissingModule, type Signals } from "./signals.ts";

// Advice per signal, in English and Chinese: what broke (insight), why it matters (risk), the next
// thing to do (action) and how to check it (next step). Every string is built from signal fields
// (counts, file names, codes, module names), never from a raw log line.

export interface Advice {
  insights: string[];
  risks: string[];
  actions: string[];
  nextSteps: string[];
}

export function emptyAdvice(): Advice {
  return { insights: [], risks: [], actions: [], nextSteps: [] };
}

export type Say = (en: string, zh: string) => string;
export const picker =
  (lang: Lang): Say =>
  (en, zh) =>
    lang === "zh" ? zh : en;

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

const TOOL: Record<string, string> = {
  tsc: "TypeScript",
  rustc: "Rust",
  cc: "C/C++",
  go: "Go",
  javac: "Java",
  esbuild: "esbuild",
  cargo: "cargo",
  vite: "Vite",
  webpack: "webpack",
  next: "Next.js",
  gradle: "Gradle",
  maven: "Maven",
  make: "make",
  docker: "Docker",
};
export const toolName = (t: string | undefined): string => (t ? (TOOL[t] ?? t) : "build");

// What the common codes mean, so the badge says more than a number.
const CODE_HINT: Record<string, [string, string]> = {
  TS2322: ["type mismatch", "类型不匹配"],
  TS2345: ["wrong argument type", "参数类型不对"],
  TS2339: ["unknown property", "属性不存在"],
  TS2304: ["unknown name", "找不到名称"],
  TS2307: ["missing module", "找不到模块"],
  TS2532: ["possibly undefined", "可能为 undefined"],
  TS18048: ["possibly undefined", "可能为 undefined"],
  TS7006: ["implicit any", "隐式 any"],
  TS2554: ["wrong argument count", "参数个数不对"],
  E0308: ["mismatched types", "类型不匹配"],
  E0432: ["unresolved import", "导入无法解析"],
  E0433: ["unresolved path", "路径无法解析"],
  E0425: ["unknown name", "找不到名称"],
  E0599: ["no such method", "方法不存在"],
  E0382: ["use after move", "值已被移动"],
};
const MODULE_CODES = new Set(["TS2307", "E0432", "E0433"]);

export function build(s: Signals, p: Say, testsAlsoFail: boolean): Advice {
  const a = emptyAdvice();
  const b = s.build;
  const first = b.errors[0];
  const tool = toolName(first?.tool ?? b.tools[0]);
  const files = b.files.length;
  const hint = first?.code ? CODE_HINT[first.code] : undefined;
  const code = first?.code ? (hint ? p(`${first.code}, ${hint[0]}`, `${first.code}（${hint[1]}）`) : first.code) : "";
  a.insights.push(
    b.count > 0
      ? p(
          `Build is red: ${plural(b.count, `${tool} error`)}${files ? ` in ${plural(files, "file")}` : ""}`,
          `构建失败：${tool} 报错 ${b.count} 处${files ? `，涉及 ${files} 个文件` : ""}`,
        )
      : p(`Build failed (${b.tools.map(toolName).join(", ")})`, `构建失败（${b.tools.map(toolName).join("、")}）`),
  );
  a.risks.push(
    first?.file
      ? p(
          `Build is red: ${tool} error ${first.code ?? ""} in ${first.file}`.replace("  ", " "),
          `构建失败：${first.file} 有 ${tool} 错误 ${first.code ?? ""}`.trim(),
        )
      : p("Build is broken: tests and deploy cannot run until it is fixed", "构建失败：修好之前测试和部署都跑不了"),
  );
  const where = first?.file ? `${first.file}${first.line ? p(` (line ${first.line})`, ` 第 ${first.line} 行`) : p("", " 中")}` : "";
  const tail = testsAlsoFail ? p("; the test failures may follow from it", "，测试失败可能也是它引起的") : "";
  if (first?.code && MODULE_CODES.has(first.code) && s.modules[0]) a.actions.push(moduleAction(s.modules[0], p));
  else if (where && first?.tool === "tsc" && first.code)
    a.actions.push(p(`Fix the ${first.code}${hint ? ` ${hint[0]}` : ""} in ${where} first${tail}`, `先修 ${where}的 ${code}${tail}`));
  else if (where) a.actions.push(p(`Fix the ${tool} error in ${where} first${code ? ` (${code})` : ""}${tail}`, `先修 ${where}的 ${tool} 错误 ${code}${tail}`));
  else a.actions.push(p(`Open the build output and fix the first ${tool} error${tail}`, `打开构建输出，先修第一个 ${tool} 错误${tail}`));
  if (b.count > 1) {
    const others = b.codes
      .filter((c) => c !== first?.code)
      .slice(0, 3)
      .join(p(", ", "、"));
    const rest = b.count === 2 ? p("the other error", "另一个错误") : p(`the other ${b.count - 1} errors`, `其余 ${b.count - 1} 个错误`);
    a.actions.push(p(`Then ${rest}${others ? ` (${others})` : ""}`, `然后处理${rest}${others ? `（${others}）` : ""}`));
  }
  const cmd = { tsc: "tsc --noEmit", rustc: "cargo build", cargo: "cargo build", go: "go build ./...", cc: "make", make: "make" }[
    first?.tool ?? b.tools[0] ?? ""
  ];
  a.nextSteps.push(cmd ? p(`Re-run ${cmd} after the fix`, `修完后重新运行 ${cmd}`) : p("Re-run the build after the fix", "修完后重新构建"));
  return a;
}

export function oom(s: Signals, p: Say, lastStep: string): Advice {
  const a = emptyAdvice();
  const k = s.oom.kinds;
  const during = lastStep ? p(` during ${lastStep}`, `（步骤：${lastStep}）`) : "";
  if (k.includes("heap")) a.insights.push(p(`Out of memory: Node ran out of heap${during}`, `内存不足：Node 堆内存耗尽${during}`));
  else if (k.includes("python")) a.insights.push(p(`Out of memory: Python raised MemoryError${during}`, `内存不足：Python 抛出 MemoryError${during}`));
  else if (k.includes("killed") || k.includes("exit137") || k.includes("oomkilled"))
    a.insights.push(p(`Out of memory: the job was killed (exit 137)${during}`, `内存不足：任务被系统杀掉（退出码 137）${during}`));
  else a.insights.push(p(`Out of memory${during}`, `内存不足${during}`));
  a.risks.push(p("The job dies before it finishes: its results are missing", "任务没跑完就被终止，后面的结果都缺失"));
  if (k.includes("heap"))
    a.actions.push(
      p("Raise the memory limit (NODE_OPTIONS=--max-old-space-size=4096) or split the job", "调高内存上限（NODE_OPTIONS=--max-old-space-size=4096）或拆分任务"),
    );
  else if (k.includes("python")) a.actions.push(p("Process the data in chunks or give the job more memory", "分批处理数据，或给任务更多内存"));
  else
    a.actions.push(
      p("Give the job more memory (bigger runner or container limit) or run fewer workers at once", "给任务更多内存（更大的 runner 或容器上限），或减少并行数"),
    );
  a.nextSteps.push(p("Re-run the job and watch its peak memory", "重新运行并观察内存峰值"));
  return a;
}

const RELATIVE = /^(?:\.{1,2}\/|\/|~\/|@\/)/;

export function moduleAction(m: MissingModule, p: Say): string {
  const n = m.name;
  if (RELATIVE.test(n)) return p(`Check the import path ${n}: the file may have moved or been renamed`, `检查导入路径 ${n}：文件可能被移动或改名`);
  switch (m.ecosystem) {
    case "python": {
      const pkg = n.split(".")[0] ?? n;
      return p(`Install ${pkg} (pip install ${pkg}) and add it to the requirements`, `安装 ${pkg}（pip install ${pkg}）并加入依赖清单`);
    }
    case "rust":
      return p(`Check the path ${n}: the item may have moved, or a crate feature is off`, `检查路径 ${n}：可能已移动，或缺少 crate feature`);
    case "go":
      return p(`Add the module: go get ${n}`, `添加模块：go get ${n}`);
    case "java":
      return p(`Add the dependency that provides ${n}`, `添加提供 ${n} 的依赖`);
    case "c":
      return p(`Install the headers for ${n} or fix the include path`, `安装 ${n} 的头文件或修正 include 路径`);
    default:
      return p(`Install ${n} (npm install ${n}) or fix the import name`, `安装 ${n}（npm install ${n}）或修正导入名`);
  }
}

export function modules(s: Signals, p: Say): Advice {
  const a = emptyAdvice();
  const first = s.modules[0]!;
  const names = s.modules.slice(0, 3).map((m) => m.name);
  a.insights.push(p(`Missing module${names.length > 1 ? "s" : ""}: ${names.join(", ")}`, `缺少模块：${names.join("、")}`));
  a.risks.push(p(`Imports fail: ${first.name} cannot be found, so the code cannot load`, `导入失败：找不到 ${first.name}，代码无法加载`));
  a.actions.push(moduleAction(first, p));
  const installs = first.ecosystem === "node" || first.ecosystem === "python" || first.ecosystem === "go";
  a.nextSteps.push(
    installs && !RELATIVE.test(first.name)
      ? p(`Re-run once ${first.name} is installed; commit the lockfile if it changed`, `装好 ${first.name} 后重新运行；锁文件有变化就一起提交`)
      : p(`Re-run the build once ${first.name} resolves`, `${first.name} 能解析后重新构建`),
  );
  return a;
}

const RUNNER: Record<Runner, string> = { vitest: "vitest", jest: "Jest", mocha: "mocha", pytest: "pytest", go: "Go", cargo: "cargo" };

/** "auth > rejects expired tokens" → "rejects expired tokens": the badge shows the test, not its path. */
export function shortTestName(name: string): string {
  const parts = name.split(/\s+[>›]\s+|::/).filter(Boolean);
  const last = (parts[parts.length - 1] ?? name).trim();
  return last.length > 48 ? `${last.slice(0, 47)}…` : last;
}

function rerun(runner: Runner | undefined, file: string | undefined, name: string | undefined): string | undefined {
  switch (runner) {
    case "vitest":
      return `npx vitest run ${file ?? ""}`.trim();
    case "jest":
      return `npx jest ${file ?? ""}`.trim();
    case "pytest":
      return `pytest ${file ?? ""} -x`.replace("  ", " ");
    case "go":
      return name ? `go test -run ${name.split("/")[0]} ./...` : "go test ./...";
    case "cargo":
      return name ? `cargo test ${shortTestName(name)}` : "cargo test";
    case "mocha":
      return "npx mocha";
    default:
      return undefined;
  }
}

export function tests(s: Signals, p: Say, buildFailed: boolean): Advice {
  const a = emptyAdvice();
  const t = s.tests;
  const runner = t.runners[0];
  const label = runner ? `${RUNNER[runner]} ` : "";
  const files = [...new Set(t.files.map(baseName))];
  const pkg = t.packages[0]?.split("/").pop();
  const where = files.length === 1 ? files[0] : files.length > 1 ? p(`${files.length} files`, `${files.length} 个文件`) : pkg;
  const n = t.failed;
  a.insights.push(
    p(`${n} ${label}test${n === 1 ? "" : "s"} failing${where ? ` in ${where}` : ""}`, `${where ? `${where} 中` : ""}有 ${n} 个 ${label}测试失败`),
  );
  const first = t.names[0] ? shortTestName(t.names[0]) : undefined;
  a.risks.push(
    first
      ? p(`Tests are red: "${first}"${n > 1 ? ` and ${n - 1} more` : ""} failing`, `测试未通过："${first}"${n > 1 ? ` 等 ${n} 个` : ""}失败`)
      : p(`Tests are red: ${n} failing`, `测试未通过：${n} 个失败`),
  );
  if (!buildFailed) {
    const inFile = files[0] ? p(` in ${files[0]}`, `（${files[0]}）`) : "";
    a.actions.push(
      first
        ? files[0]
          ? p(`Fix "${first}" in ${files[0]} first, then re-run only that file`, `先修 ${files[0]} 里的 "${first}"，然后只重跑这个文件`)
          : p(`Fix "${first}" first, then re-run just that test`, `先修 "${first}"，然后只重跑这个测试`)
        : p(`Open the first failing test${inFile} and fix it`, `打开第一个失败的测试${inFile}并修复`),
    );
  }
  const cmd = rerun(runner, t.files[0], t.names[0]);
  if (cmd) a.nextSteps.push(p(`Re-run: ${cmd}`, `重跑：${cmd}`));
  a.nextSteps.push(p("Then run the whole suite before you push", "再跑一遍完整测试后再推送"));
  return a;
}
