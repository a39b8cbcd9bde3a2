import type { ModeName } from "../protocol/messages.ts";
import type { Sql, Tables } from "../storage/sql.ts";

// Small per-device facts in the device's own SQLite (its mode, last sighting, and whatever small
// values capabilities keep under their own keys). Values are cached after the first read; the
// object is the only writer.

export const DEVICE_KV_MIGRATION = {
  name: "device-kv-v1",
  up: "CREATE TABLE device_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
};

/** A typed key of the device's small-facts store. */
export interface Fact<T> {
  readonly key: string;
  /** Phantom: carries the value type. */
  readonly _type?: T;
}

export function fact<T>(key: string): Fact<T> {
  return { key };
}

export interface ModeState {
  mode: ModeName;
  startedAt: number;
}

export const MODE = fact<ModeState | null>("mode");
export const LAST_SEEN = fact<number>("lastSeen");

export class DeviceStore {
  private readonly cache = new Map<string, unknown>();

  private readonly sql: Sql;
  private readonly schema: Tables;

  constructor(sql: Sql, tables: Tables) {
    this.sql = sql;
    this.schema = tables;
  }

  get<T>(f: Fact<T>): T | undefined {
    if (this.cache.has(f.key)) return this.cache.get(f.key) as T | undefined;
    if (!this.schema.exists()) return undefined;
    const row = this.sql.exec<{ value: string }>("SELECT value FROM device_kv WHERE key = ?", f.key).toArray()[0];
    const value = row ? (JSON.parse(row.value) as T) : undefined;
    this.cache.set(f.key, value);
    return value;
  }

  set<T>(f: Fact<T>, value: T): void {
    if (this.cache.has(f.key) && this.cache.get(f.key) === value) return;
    this.cache.set(f.key, value);
    this.schema.ensure();
    this.sql.exec("INSERT INTO device_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", f.key, JSON.stringify(value));
  }

  delete<T>(f: Fact<T>): void {
    this.cache.set(f.key, undefined);
    if (this.schema.exists()) this.sql.exec("DELETE FROM device_kv WHERE key = ?", f.key);
  }
}
