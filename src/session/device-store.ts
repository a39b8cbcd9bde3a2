import type { ModeName } from "../protocol/messages.ts";
import type { Schema, Sql } from "../storage/sql.ts";

// Small per-device facts in the device's own SQLite: its id, mode, last sighting, activation.
// Values are cached after the first read; the object is the only writer.

export const DEVICE_KV_MIGRATION = {
  name: "device-kv-v1",
  up: "CREATE TABLE device_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
};

export interface ModeState {
  mode: ModeName;
  startedAt: number;
}

export interface Activation {
  code: string;
  challenge: string;
  createdAt: number;
  activatedAt: number | null;
}

interface Facts {
  deviceId: string;
  mode: ModeState | null;
  lastSeen: number;
  activation: Activation;
  /** The group key this device has joined (see GroupObject.join). */
  group: string;
}

export class DeviceStore {
  private readonly cache = new Map<keyof Facts, unknown>();

  private readonly sql: Sql;
  private readonly schema: Schema;

  constructor(sql: Sql, schema: Schema) {
    this.sql = sql;
    this.schema = schema;
  }

  get<K extends keyof Facts>(key: K): Facts[K] | undefined {
    if (this.cache.has(key)) return this.cache.get(key) as Facts[K] | undefined;
    if (!this.schema.exists()) return undefined;
    const row = this.sql.exec<{ value: string }>("SELECT value FROM device_kv WHERE key = ?", key).toArray()[0];
    const value = row ? (JSON.parse(row.value) as Facts[K]) : undefined;
    this.cache.set(key, value);
    return value;
  }

  set<K extends keyof Facts>(key: K, value: Facts[K]): void {
    if (this.cache.has(key) && this.cache.get(key) === value) return;
    this.cache.set(key, value);
    this.schema.ensure();
    this.sql.exec(
      "INSERT INTO device_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      key,
      JSON.stringify(value),
    );
  }

  delete(key: keyof Facts): void {
    this.cache.set(key, undefined);
    if (this.schema.exists()) this.sql.exec("DELETE FROM device_kv WHERE key = ?", key);
  }
}
