import { Hono } from "hono";
import type { AppContext, AppEnv } from "./context.ts";
import { apiError } from "./errors.ts";

// The operator console (PROTOCOL §12): static files in public/console, served through the ASSETS
// binding so that this Worker, not the asset router, sets the headers. The page runs under a strict
// Content-Security-Policy: scripts and styles only from this origin, no inline code, no eval (wasm
// compilation excepted, for the libopus fallback), and connections only back to this server and
// the WebSocket URL that the OTA check hands out.

const INDEX = "/console/index.html";

/** Where the console may connect: the API (same origin) and the device WebSocket the OTA reply names. */
export function connectSources(requestUrl: URL, publicWsUrl: string): string[] {
  const wsScheme = requestUrl.protocol === "https:" ? "wss:" : "ws:";
  const sources = ["'self'", `${wsScheme}//${requestUrl.host}`];
  if (publicWsUrl) {
    try {
      const u = new URL(publicWsUrl);
      sources.push(`${u.protocol}//${u.host}`);
    } catch {
      // A malformed PUBLIC_WS_URL fails the OTA path loudly elsewhere; the console just cannot use it.
    }
  }
  return [...new Set(sources)];
}

export function consoleHeaders(requestUrl: URL, publicWsUrl: string): Record<string, string> {
  const csp = [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connectSources(requestUrl, publicWsUrl).join(" ")}`,
    "media-src 'self' blob:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    // Device data (aliases, peer messages, transcripts) is shown on this page: no string may ever
    // become markup or script. The console builds its DOM with nodes and text only.
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; ");
  return {
    "content-security-policy": csp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "microphone=(self), camera=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
    // Revalidated on every load (the asset ETag makes that cheap), so a deploy shows at once.
    "cache-control": "no-cache",
  };
}

async function serve(c: AppContext, path: string): Promise<Response> {
  const assets = c.env.ASSETS;
  if (!assets) return apiError(c, 404, "NOT_FOUND", "this build has no console assets");
  const url = new URL(c.req.url);
  url.pathname = path;
  const res = await assets.fetch(new Request(url, { method: c.req.method, headers: c.req.raw.headers }));
  if (res.status === 404) return apiError(c, 404, "NOT_FOUND", `no console file ${path}`);
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(consoleHeaders(new URL(c.req.url), c.get("settings").PUBLIC_WS_URL))) out.headers.set(k, v);
  return out;
}

export function consoleRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/", (c) => c.redirect("/console", 302));
  // /console itself is the page (no redirect to a trailing slash): its links are absolute.
  app.get("/console", (c) => serve(c, INDEX));
  app.get("/console/", (c) => serve(c, INDEX));
  app.get("/console/*", (c) => serve(c, new URL(c.req.url).pathname));
  return app;
}
