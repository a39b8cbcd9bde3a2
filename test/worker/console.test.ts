import { describe, expect, it } from "vitest";
import { ADMIN, fetchWorker } from "./helpers.ts";

// The console (PROTOCOL §12) is served as static assets through the Worker, which adds a strict
// Content-Security-Policy; the API and device paths keep working beside it.

describe("console", () => {
  it("redirects / to /console", async () => {
    const res = await fetchWorker("/", { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get("location")!, "https://edge.example.com").pathname).toBe("/console");
  });

  it("serves the page at /console and /console/ with a strict CSP", async () => {
    for (const path of ["/console", "/console/"]) {
      const res = await fetchWorker(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/html");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("connect-src 'self' wss://edge.example.com");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const html = await res.text();
      expect(html).toContain("Admin token");
      // No inline script or style anywhere in the page.
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
      expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    }
  });

  it("serves its modules as JavaScript and its codec as wasm", async () => {
    const js = await fetchWorker("/console/app.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    const wasm = await fetchWorker("/console/vendor/opus.wasm");
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get("content-type")).toBe("application/wasm");
    expect(new Uint8Array(await wasm.arrayBuffer()).subarray(0, 4)).toEqual(new Uint8Array([0, 0x61, 0x73, 0x6d]));
  });

  it("answers a missing console file with the API's 404 shape", async () => {
    const res = await fetchWorker("/console/nope.js");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });

  it("answers hostile paths without a 500 and never serves a file outside public/console", async () => {
    const paths = [
      "/console/%ZZ",
      "/console/%00",
      "/console/..%2f..%2fwrangler.toml",
      "/console/%2e%2e/%2e%2e/package.json",
      "/console/lib/../../../src/index.ts",
      `/console/${"a".repeat(5000)}.js`,
      "/console/app.js?x=%ZZ",
    ];
    for (const path of paths) {
      const res = await fetchWorker(path);
      expect(res.status, path).toBeLessThan(500);
      const body = await res.text();
      expect(body, path).not.toMatch(/compatibility_date|"devDependencies"|export default app/);
    }
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await fetchWorker("/console", { method, body: method === "DELETE" ? undefined : "x" });
      expect(res.status, method).toBe(404);
    }
  });

  it("leaves the API, health and device paths to the Worker", async () => {
    expect((await fetchWorker("/health")).status).toBe(200);
    expect((await fetchWorker("/api/config", { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect((await fetchWorker("/supie/v1/")).status).toBe(426);
  });
});
