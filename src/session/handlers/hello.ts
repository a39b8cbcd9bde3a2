import { log } from "../../log.ts";
import { recordConnect } from "../../metrics/analytics.ts";
import { binaryVersion } from "../../protocol/binary.ts";
import type { HelloIn, HelloOut } from "../../protocol/messages.ts";
import type { HostCtx } from "../host.ts";

export async function handleHello(msg: HelloIn, ctx: HostCtx): Promise<void> {
  const s = ctx.conn.state;
  const first = s.helloAt === null;
  if (first) {
    s.binary = s.headerVersion ?? binaryVersion(msg.version) ?? 1;
    const fd = msg.audio_params?.frame_duration;
    s.frameDuration = fd !== undefined && fd >= 20 && fd <= 120 ? fd : 60;
    s.features = msg.features
      ? Object.keys(msg.features)
          .filter((k) => msg.features?.[k] === true)
          .slice(0, 8)
      : [];
    s.helloAt = ctx.now;
    ctx.conn.save();
  }
  ctx.reply({
    type: "hello",
    version: s.binary,
    transport: "websocket",
    session_id: s.sessionId,
    device_id: s.deviceId,
    audio_params: {
      format: "opus",
      sample_rate: ctx.session.settings.DOWNLINK_SAMPLE_RATE,
      channels: 1,
      frame_duration: s.frameDuration,
    },
  } satisfies HelloOut);
  if (!first) return;
  // The idle alarm, the log line (it reads the mode) and the capabilities' work touch storage:
  // they wait until the reply has gone out.
  ctx.session.later(() => afterHello(ctx));
}

async function afterHello(ctx: HostCtx): Promise<void> {
  const { session } = ctx;
  const s = ctx.conn.state;
  session.reschedule();
  // One line per connection: the upgrade itself is not logged separately.
  const sockets = session.live().length;
  const mode = session.mode;
  log.info("device.hello", {
    deviceId: session.deviceId,
    conn: s.id,
    auth: s.auth,
    sockets,
    binary: s.binary,
    features: s.features,
    mode,
  });
  recordConnect({ deviceId: session.deviceId, auth: s.auth, mode, helloMs: (s.helloAt ?? s.connectedAt) - s.connectedAt, sockets });
  // In list order: queued peer messages come first (PROTOCOL §3), then mode snapshots.
  for (const cap of session.registry.capabilities) {
    if (!cap.afterHello) continue;
    try {
      await cap.afterHello(ctx);
    } catch (err) {
      log.error("session.after_hello_failed", { deviceId: session.deviceId, capability: cap.name, error: err });
    }
  }
}
