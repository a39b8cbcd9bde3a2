import { log } from "../../log.ts";
import { binaryVersion } from "../../protocol/binary.ts";
import type { HelloIn, HelloOut } from "../../protocol/messages.ts";
import { afterHelloHooks } from "../hooks.ts";
import type { HandlerCtx } from "../route.ts";

export async function handleHello(msg: HelloIn, ctx: HandlerCtx): Promise<void> {
  const s = ctx.conn.state;
  const first = s.helloAt === null;
  if (first) {
    s.binary = s.headerVersion ?? binaryVersion(msg.version) ?? 1;
    const fd = msg.audio_params?.frame_duration;
    s.frameDuration = fd !== undefined && fd >= 20 && fd <= 120 ? fd : 60;
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
  // The idle alarm, the log line (it reads the mode) and the hooks touch storage: they wait until
  // the reply has gone out.
  ctx.session.rt.later(() => afterHello(msg, ctx));
}

async function afterHello(msg: HelloIn, ctx: HandlerCtx): Promise<void> {
  const s = ctx.conn.state;
  ctx.session.reschedule();
  // One line per connection: the upgrade itself is not logged separately.
  log.info("device.hello", {
    deviceId: s.deviceId,
    conn: s.id,
    auth: s.auth,
    sockets: ctx.session.rt.sockets().length,
    binary: s.binary,
    features: msg.features ? Object.keys(msg.features) : [],
    mode: ctx.session.mode,
  });
  for (const hook of afterHelloHooks) {
    try {
      await hook(ctx);
    } catch (err) {
      log.error("session.after_hello_failed", { deviceId: s.deviceId, error: err });
    }
  }
}
