import { D1Store } from "./store.ts";

// Pending activation codes (PROTOCOL §11): the device's object owns its code and claims it here so
// codes stay unique among pending ones and an operator can bind a device by its code alone.

export interface PendingCode {
  deviceId: string;
  code: string;
  expiresAt: number;
}

export class ActivationCodes extends D1Store {
  /** True when the code is now this device's; false when another device holds it unexpired. */
  claim(deviceId: string, code: string, expiresAt: number, now: number): Promise<boolean> {
    return this.q(async (db) => {
      const [, , claimed] = await db.batch([
        // Expired codes of every device are free again; this device's earlier code is replaced.
        db.prepare("DELETE FROM activations WHERE expires_at <= ?").bind(now),
        db.prepare("DELETE FROM activations WHERE device_id = ? AND code <> ?").bind(deviceId, code),
        db
          .prepare(
            `INSERT INTO activations (code, device_id, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(code) DO UPDATE SET expires_at = excluded.expires_at WHERE activations.device_id = excluded.device_id`,
          )
          .bind(code, deviceId, expiresAt),
      ]);
      return (claimed?.meta.changes ?? 0) > 0;
    });
  }

  release(deviceId: string): Promise<void> {
    return this.q(async (db) => {
      await db.prepare("DELETE FROM activations WHERE device_id = ?").bind(deviceId).run();
    });
  }

  /** The device showing this code, while it is pending. */
  holder(code: string, now: number): Promise<string | null> {
    return this.q(async (db) => {
      const row = await db.prepare("SELECT device_id FROM activations WHERE code = ? AND expires_at > ?").bind(code, now).first<{ device_id: string }>();
      return row?.device_id ?? null;
    });
  }

  /** Pending codes, the ones expiring first first. */
  pending(now: number, limit: number): Promise<PendingCode[]> {
    return this.q(async (db) => {
      const { results } = await db
        .prepare("SELECT device_id, code, expires_at FROM activations WHERE expires_at > ? ORDER BY expires_at, device_id LIMIT ?")
        .bind(now, limit)
        .all<{ device_id: string; code: string; expires_at: number }>();
      return results.map((r) => ({ deviceId: r.device_id, code: r.code, expiresAt: r.expires_at }));
    });
  }
}
