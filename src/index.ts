import { Hono } from "hono";
import { cors } from "hono/cors";
import pkg from "../package.json" with { type: "json" };
import { runtimeConfig } from "./config/runtime.ts";
import { dropLlmClients } from "./llm/client.ts";
import { log } from "./log.ts";
import { bindAnalytics } from "./metrics/analytics.ts";
import { apiRoutes } from "./http/api/index.ts";
import type { AppEnv } from "./http/context.ts";
import { apiError } from "./http/errors.ts";
import { isLoopback } from "./http/local-dev.ts";
import { otaRoutes } from "./http/ota.ts";
import { firmwareFiles } from "./firmware/routes.ts";
import { consoleRoutes } from "./http/console.ts";
import { upgrade } from "./http/socket.ts";
import { visionRoutes } from "./http/vision.ts";

export { DeviceObject } from "./objects/device-object.ts";
export { GroupObject } from "./objects/group-object.ts";

const app = new Hono<AppEnv>({ strict: false });

let reportedInvalid = false;
app.use("*", async (c, next) => {
  bindAnalytics((c.env as { ANALYTICS?: unknown }).ANALYTICS);
  const config = runtimeConfig(c.env, c.env.CONFIG, dropLlmClients);
  await config.refresh(Date.now());
  const { settings, invalid } = config;
  if (invalid.length && !reportedInvalid) {
    reportedInvalid = true;
    log.warn("config.invalid_values", { settings: invalid, message: "these settings fell back to their defaults" });
  }
  c.set("settings", settings);
  c.set("local", isLoopback(new URL(c.req.url)));
  await next();
});

const corsPolicy = cors({
  origin: "*",
  allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
  allowHeaders: ["device-id", "client-id", "content-type", "authorization", "activation-version", "protocol-version"],
  // A browser page on another origin may read how long a 429 asks it to wait (PROTOCOL §1.1).
  exposeHeaders: ["retry-after"],
});
for (const path of ["/supie/ota/*", "/xiaozhi/ota/*", "/supie/ota", "/xiaozhi/ota", "/api/*", "/supie/vision/*"]) app.use(path, corsPolicy);

app.get("/health", (c) => c.json({ status: "ok", version: pkg.version }));
app.route("/supie/ota", otaRoutes(false));
app.route("/xiaozhi/ota", otaRoutes(true));
app.get("/supie/v1", upgrade);
app.get("/xiaozhi/v1", upgrade);
app.route("/api", apiRoutes());
app.route("/supie/vision", visionRoutes());
app.route("/firmware", firmwareFiles());
app.route("/", consoleRoutes());

app.notFound((c) => apiError(c, 404, "NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
app.onError((err, c) => {
  log.error("http.unhandled", { path: new URL(c.req.url).pathname, error: err });
  return apiError(c, 500, "INTERNAL_ERROR", "the server failed to handle this request");
});

export default app satisfies ExportedHandler<Env>;
