import { log, setLogLevel, setLogMaxLength } from "../log.ts";
import { SECRET_SETTINGS, SETTING_NAMES, parseSettings, type SettingName, type Settings } from "./settings.ts";

// Runtime settings (PUT /api/config): overrides of plain settings kept in one KV document with a
// version. Every isolate (the Worker's and each object's) re-reads it at most once a minute, so
// reads at scale hit KV's edge cache, not one object, and sessions use new values within 60 s.
// Secrets are never stored here: they stay wrangler secrets.

export const CONFIG_KEY = "runtime-config";
export const REFRESH_MS = 60_000;

export interface ConfigDoc {
  version: number;
  updatedAt: number;
  values: Partial<Record<SettingName, string>>;
}

/** The slice of KVNamespace used here. */
export interface ConfigKv {
  get(key: string, type: "json"): Promise<unknown>;
  put(key: string, value: string): Promise<void>;
}

const EMPTY: ConfigDoc = { version: 0, updatedAt: 0, values: {} };

export const RUNTIME_SETTINGS: readonly SettingName[] = SETTING_NAMES.filter((n) => !SECRET_SETTINGS.has(n));

function asDoc(v: unknown): ConfigDoc {
  const d = v as Partial<ConfigDoc> | null;
  if (!d || typeof d.version !== "number" || typeof d.values !== "object" || d.values === null) return EMPTY;
  const values: Partial<Record<SettingName, string>> = {};
  for (const [k, val] of Object.entries(d.values)) {
    if ((RUNTIME_SETTINGS as readonly string[]).includes(k) && typeof val === "string") values[k as SettingName] = val;
  }
  return { version: d.version, updatedAt: typeof d.updatedAt === "number" ? d.updatedAt : 0, values };
}

/** Settings from the environment with the runtime overrides applied; cached per environment object. */
export class RuntimeConfig {
  private doc: ConfigDoc = EMPTY;
  private fetchedAt = -Infinity;
  private cached: { settings: Settings; invalid: SettingName[] } | null = null;
  private readonly env: Record<string, unknown>;
  private readonly kv: ConfigKv | undefined;
  private readonly onChange: () => void;

  constructor(env: Record<string, unknown>, kv: ConfigKv | undefined, onChange: () => void = () => {}) {
    this.env = env;
    this.kv = kv;
    this.onChange = onChange;
  }

  /** Whether the document has been read at least once in this isolate. */
  get loaded(): boolean {
    return this.fetchedAt > -Infinity || !this.kv;
  }

  get version(): number {
    return this.doc.version;
  }

  get overrides(): ConfigDoc {
    return this.doc;
  }

  get settings(): Settings {
    return this.resolved().settings;
  }

  get invalid(): SettingName[] {
    return this.resolved().invalid;
  }

  private resolved() {
    if (!this.cached) {
      this.cached = parseSettings({ ...this.env, ...this.doc.values });
      // Logs are written everywhere, objects included: the limit follows the settings in force.
      setLogMaxLength(this.cached.settings.LOG_MAX_MESSAGE_LENGTH);
      setLogLevel(this.cached.settings.LOG_LEVEL);
    }
    return this.cached;
  }

  private adopt(doc: ConfigDoc): void {
    if (doc.version === this.doc.version) return;
    const first = this.doc === EMPTY;
    this.doc = doc;
    this.cached = null;
    if (!first || doc.version > 0) {
      log.info("config.applied", { version: doc.version, names: Object.keys(doc.values) });
      this.onChange();
    }
  }

  /** Whether a refresh would read KV now (cheap to ask on every event). */
  due(now: number): boolean {
    return this.kv !== undefined && now - this.fetchedAt >= REFRESH_MS;
  }

  /** Re-reads the document when the last read is older than REFRESH_MS (or when forced). */
  async refresh(now: number, force = false): Promise<void> {
    if (!this.kv || (!force && now - this.fetchedAt < REFRESH_MS)) return;
    this.fetchedAt = now;
    try {
      this.adopt(asDoc(await this.kv.get(CONFIG_KEY, "json")));
    } catch (err) {
      // KV unavailable: keep serving with the settings we have.
      log.warn("config.refresh_failed", { error: err });
    }
  }

  /** Validates and stores new overrides (null removes one); returns the new document or the errors. */
  async update(changes: Record<string, unknown>, now: number): Promise<{ ok: true; doc: ConfigDoc } | { ok: false; message: string }> {
    if (!this.kv) return { ok: false, message: "the CONFIG KV binding is missing" };
    const errors: string[] = [];
    await this.refresh(now, true);
    const values = { ...this.doc.values };
    for (const [name, value] of Object.entries(changes)) {
      if (SECRET_SETTINGS.has(name as SettingName)) errors.push(`${name} is a secret: set it with wrangler secret put`);
      else if (!(RUNTIME_SETTINGS as readonly string[]).includes(name)) errors.push(`${name} is not a setting`);
      else if (value === null) delete values[name as SettingName];
      else if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
        errors.push(`${name} must be a string, number, boolean or null`);
      else values[name as SettingName] = String(value);
    }
    if (errors.length === 0) {
      const { invalid } = parseSettings({ ...this.env, ...values });
      for (const name of invalid) if (name in values) errors.push(`invalid: ${name} (${JSON.stringify(values[name])})`);
    }
    if (errors.length) return { ok: false, message: errors.join("; ") };
    const doc: ConfigDoc = { version: this.doc.version + 1, updatedAt: now, values };
    await this.kv.put(CONFIG_KEY, JSON.stringify(doc));
    this.adopt(doc);
    return { ok: true, doc };
  }
}

const perEnv = new WeakMap<object, RuntimeConfig>();

/** One RuntimeConfig per environment object (per isolate and binding set). */
export function runtimeConfig(env: object, kv: ConfigKv | undefined, onChange?: () => void): RuntimeConfig {
  let c = perEnv.get(env);
  if (!c) {
    c = new RuntimeConfig(env as Record<string, unknown>, kv, onChange);
    perEnv.set(env, c);
  }
  return c;
}
