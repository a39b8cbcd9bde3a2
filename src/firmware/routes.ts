import { Hono } from "hono";
import type { AppEnv } from "../http/context.ts";
import { apiError } from "../http/errors.ts";
import { limitBody } from "../http/validate.ts";
import { firmwareKey } from "./offer.ts";

// Firmware images in R2 (PROTOCOL §1.1): uploaded by an operator, downloaded by devices without a
// token (the firmware's updater sends none). Board and version are path segments of a fixed form,
// so a key can never leave the firmware/ prefix.

const SEGMENT = /^[A-Za-z0-9][\w.-]{0,63}$/;

function valid(board: string, version: string): boolean {
  return SEGMENT.test(board) && SEGMENT.test(version) && !board.includes("..") && !version.includes("..");
}

/** `PUT /api/firmware/:board/:version` (behind the admin token, mounted under /api). */
export function firmwareUploads() {
  const app = new Hono<AppEnv>();
  app.put(
    "/:board/:version",
    async (c, next) => limitBody(c.get("settings").FIRMWARE_MAX_BYTES)(c, next),
    async (c) => {
      const { board, version } = c.req.param();
      if (!valid(board, version)) return apiError(c, 400, "INVALID_REQUEST", "board and version must be 1-64 chars of [A-Za-z0-9._-]");
      const key = firmwareKey(board, version);
      if (await c.env.ARCHIVE.head(key)) return apiError(c, 409, "CONFLICT", `firmware ${version} for ${board} exists; upload a new version`);
      const image = await c.req.arrayBuffer();
      if (image.byteLength === 0) return apiError(c, 400, "INVALID_REQUEST", "the body must be the firmware image");
      await c.env.ARCHIVE.put(key, image, { httpMetadata: { contentType: "application/octet-stream" } });
      return c.json({ board, version, bytes: image.byteLength, url: `/firmware/${board}/${version}.bin` }, 201);
    },
  );
  return app;
}

/** `GET /firmware/:board/:file` with `<version>.bin`. */
export function firmwareFiles() {
  const app = new Hono<AppEnv>();
  app.get("/:board/:file", async (c) => {
    const { board, file } = c.req.param();
    const version = file.endsWith(".bin") ? file.slice(0, -4) : "";
    if (!valid(board, version)) return apiError(c, 404, "NOT_FOUND", "no such firmware image");
    const obj = await c.env.ARCHIVE.get(firmwareKey(board, version));
    if (!obj) return apiError(c, 404, "NOT_FOUND", "no such firmware image");
    return new Response(obj.body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(obj.size),
        etag: obj.httpEtag,
        "cache-control": "public, max-age=86400, immutable",
      },
    });
  });
  return app;
}
