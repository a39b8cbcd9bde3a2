import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { promisify } from "node:util";

// `wrangler dev` watches the sources and reloads the Worker when any file changes, which closes
// every socket (1006). Benchmarks run while other people edit the tree, so the bench runs a
// snapshot instead: the Worker bundled once (`wrangler deploy --dry-run --outdir`) and served from a
// temporary directory with `no_bundle`, which nobody touches during the run.

const ROOT = resolve(import.meta.dirname, "../../..");

export interface Snapshot {
  /** Wrangler config of the snapshot, for startDevServer({ config }). */
  config: string;
  dir: string;
  /** Bundle size in bytes. */
  bytes: number;
  remove(): void;
}

export async function snapshotWorker(configPath: string): Promise<Snapshot> {
  const dir = mkdtempSync(join(tmpdir(), "supie-bench-"));
  try {
    await promisify(execFile)(
      process.execPath,
      [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--config", configPath, "--outdir", dir],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" }, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`bundling ${configPath} failed: ${e.message}\n${(e.stderr ?? "").slice(-2000)}${(e.stdout ?? "").slice(-2000)}`);
  }
  const original = readFileSync(configPath, "utf8");
  // Same bindings, vars and migrations; the entry is the bundle, used as is. Paths the config gives
  // relative to itself (static assets, D1 migrations) are made absolute: the copy lives elsewhere.
  const withMain = original.replace(/^main\s*=.*$/m, 'main = "worker.js"\nno_bundle = true\nfind_additional_modules = true');
  if (withMain === original) throw new Error(`${configPath} has no top-level main = line to replace`);
  const config = withMain.replace(/^(\s*(?:directory|migrations_dir)\s*=\s*)"([^"]+)"/gm, (line, key: string, path: string) =>
    isAbsolute(path) ? line : `${key}${JSON.stringify(resolve(dirname(configPath), path))}`,
  );
  const configOut = join(dir, "wrangler.toml");
  writeFileSync(configOut, `# Snapshot of ${configPath} made by scripts/lib/bench/snapshot.ts; temporary.\n${config}`);
  return {
    config: configOut,
    dir,
    bytes: readFileSync(join(dir, "worker.js")).byteLength,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
