import { DurableObject } from "cloudflare:workers";
import { aliasOf, settingsFromEnv, type Settings } from "../config/settings.ts";
import { PRESENCE_MIGRATION, Presence } from "../group/presence.ts";
import { log } from "../log.ts";
import type { PeerEnvelope } from "../peer/messages.ts";
import type { BroadcastResult } from "../peer/port.ts";
import { migrate } from "../storage/sql.ts";

// One object per device group: membership and presence, broadcast fan-out with its rate limit,
// and (working mode) the group's task list. Runtime adapter over portable stores.

export interface GroupMember {
  deviceId: string;
  name: string;
  since: number;
}

export class GroupObject extends DurableObject<Env> {
  private readonly settings: Settings;
  private readonly presenceStore: Presence;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.settings = settingsFromEnv(env).settings;
    migrate(ctx.storage.sql, [PRESENCE_MIGRATION]);
    this.presenceStore = new Presence(ctx.storage.sql);
  }

  private configuredMembers(groupKey: string): string[] {
    return Object.entries(this.settings.DEVICE_GROUPS)
      .filter(([, g]) => g === groupKey)
      .map(([id]) => id);
  }

  async presence(groupKey: string, deviceId: string, online: boolean, at: number): Promise<void> {
    this.presenceStore.update(deviceId, online, at);
    log.debug("group.presence", { groupKey, deviceId, online });
  }

  async onlineMembers(_groupKey: string): Promise<GroupMember[]> {
    return this.presenceStore
      .online()
      .map((m) => ({ deviceId: m.deviceId, name: aliasOf(this.settings, m.deviceId), since: m.changedAt }));
  }

  async broadcast(groupKey: string, from: string, envelope: PeerEnvelope): Promise<BroadcastResult> {
    const wait = this.presenceStore.takeBroadcast(from, this.settings.PEER_BROADCAST_INTERVAL_MS, Date.now());
    if (wait > 0) return { retryAfterMs: wait, delivered: [], enqueued: [], queueFull: [] };
    this.presenceStore.ensure(this.configuredMembers(groupKey));
    const targets = this.presenceStore.all().filter((m) => m.deviceId !== from);
    const result: BroadcastResult = { delivered: [], enqueued: [], queueFull: [] };
    const outcomes = await Promise.all(
      targets.map(async (m) => {
        const stub = this.env.DEVICE.get(this.env.DEVICE.idFromName(m.deviceId));
        try {
          return { id: m.deviceId, outcome: await stub.deliverPeer(m.deviceId, envelope) };
        } catch (err) {
          log.warn("group.broadcast_retry", { groupKey, to: m.deviceId, error: err });
          return { id: m.deviceId, outcome: await stub.deliverPeer(m.deviceId, envelope) };
        }
      }),
    );
    for (const { id, outcome } of outcomes) {
      if (outcome === "delivered") result.delivered.push(id);
      else if (outcome === "enqueued") result.enqueued.push(id);
      else result.queueFull.push(id);
    }
    return result;
  }
}
