import { DurableObject } from "cloudflare:workers";
import app from "../src/index.ts";

// Benchmark build of the Worker: our app, unchanged, plus a bare echo Durable Object in the same
// workerd. `/__bench/echo/<id>` upgrades go straight to BenchEchoObject with no auth and no logic:
// that is the floor our device path is compared against (scripts/bench.ts). Everything else is
// our app's fetch. Never deployed: bench/wrangler.toml is only used by `npm run bench`.

export { DeviceObject, GroupObject } from "../src/index.ts";

interface BenchEnv extends Env {
  BENCH_ECHO: DurableObjectNamespace<BenchEchoObject>;
}

const ECHO_PREFIX = "/__bench/echo/";

export class BenchEchoObject extends DurableObject<BenchEnv> {
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("WebSocket only", { status: 426 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    if (typeof message === "string" && message.startsWith("{")) {
      let type: unknown;
      try {
        type = (JSON.parse(message) as { type?: unknown }).type;
      } catch {
        /* not JSON: echoed below */
      }
      if (type === "hello") {
        ws.send(
          JSON.stringify({
            type: "hello",
            version: 1,
            transport: "websocket",
            session_id: crypto.randomUUID(),
            audio_params: { format: "opus", sample_rate: 24000, channels: 1, frame_duration: 60 },
          }),
        );
        return;
      }
    }
    ws.send(message);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
    } catch {
      /* already closed */
    }
  }
}

export default {
  fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith(ECHO_PREFIX)) {
      const id = pathname.slice(ECHO_PREFIX.length) || "echo";
      return env.BENCH_ECHO.get(env.BENCH_ECHO.idFromName(id)).fetch(request);
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
