import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isValidId, normaliseId, stripBearer } from "../auth/identity.ts";
import { verifyVisionToken } from "../auth/vision-token.ts";
import { tokenSecret } from "../config/local.ts";
import { explainImage, type VisionRequest } from "../llm/vision.ts";
import { log } from "../log.ts";
import type { AppContext, AppEnv } from "./context.ts";

// POST /supie/vision/explain (PROTOCOL §13): the camera tool's upload. The device posts multipart
// with `question` and the photo (`file` from the firmware, chunked; `image` from the browser test
// page, after a CORS preflight) with the vision token `initialize` gave it. One call to the vision
// model; the answer is xinnan-compatible, `{"success":true,"action":"RESPONSE","response":...}`, and
// a failure of the model is a 200 with `success:false` too, because the firmware turns any other
// status into "Failed to upload photo" while it reads a 200's body out to the model. Errors of the
// request itself carry both shapes: `success`/`message` for devices, `error` as §11 has it.
// Images are never stored.

type Mime = VisionRequest["mime"];

/** The format from the magic bytes: what the part claims to be is not trusted. */
export function imageFormat(b: Uint8Array): Mime | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)) return "image/png";
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  return null;
}

type VisionEnv = { Bindings: AppEnv["Bindings"]; Variables: AppEnv["Variables"] & { visionDevice: string } };

function refuse(c: Context<VisionEnv> | AppContext, status: ContentfulStatusCode, code: string, message: string) {
  return c.json({ success: false, message, error: { code, message } }, status);
}

/** Room for the form around the image (boundaries, the question). */
const FORM_SLACK_BYTES = 16 * 1024;

const DEFAULT_QUESTION = "What is in this photo?";

export function visionRoutes() {
  const app = new Hono<VisionEnv>();

  app.get("/explain", (c) => {
    const model = c.get("settings").VISION_MODEL;
    return c.text(
      model ? `Vision endpoint is running (model ${model}); POST a photo with the vision token` : "Vision endpoint is off: VISION_MODEL is not set",
    );
  });

  // Identity first: a request without the right token is refused before its body is read.
  app.post("/explain", async (c, next) => {
    const s = c.get("settings");
    const deviceId = normaliseId(c.req.header("device-id"));
    const token = stripBearer(c.req.header("authorization") ?? "");
    const secret = tokenSecret(s.DEVICE_TOKEN_SECRET, c.get("local"));
    if (!token || !secret) return refuse(c, 401, "UNAUTHORIZED", "missing vision token");
    if (!deviceId || !isValidId(deviceId)) return refuse(c, 401, "UNAUTHORIZED", "missing or invalid Device-Id header");
    const check = await verifyVisionToken(secret, token, deviceId);
    if (!check.ok) return refuse(c, 401, "UNAUTHORIZED", check.reason);
    c.set("visionDevice", deviceId);
    await next();
  });

  app.post("/explain", (c, next) => {
    const max = c.get("settings").VISION_MAX_BYTES;
    return bodyLimit({ maxSize: max + FORM_SLACK_BYTES, onError: (cc) => refuse(cc, 413, "PAYLOAD_TOO_LARGE", `the image exceeds ${max} bytes`) })(c, next);
  });

  app.post("/explain", async (c) => {
    const s = c.get("settings");
    const deviceId = c.get("visionDevice");
    if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("multipart/form-data")) {
      return refuse(c, 400, "INVALID_REQUEST", "the body must be multipart/form-data with `question` and `file` (or `image`)");
    }
    let form: FormData;
    try {
      form = await c.req.raw.formData();
    } catch {
      // bodyLimit answers for oversized bodies; anything else here is a malformed form.
      return refuse(c, 400, "INVALID_REQUEST", "the multipart body could not be read");
    }
    const part = form.get("file") ?? form.get("image");
    if (!part || typeof part === "string") return refuse(c, 400, "INVALID_REQUEST", "missing the image part (`file` or `image`)");
    if (part.size > s.VISION_MAX_BYTES) return refuse(c, 413, "PAYLOAD_TOO_LARGE", `the image exceeds ${s.VISION_MAX_BYTES} bytes`);
    const image = new Uint8Array(await part.arrayBuffer());
    const mime = imageFormat(image);
    if (!mime) return refuse(c, 415, "UNSUPPORTED_MEDIA_TYPE", "the image must be JPEG, PNG or WebP");
    const asked = form.get("question");
    const question = (typeof asked === "string" ? asked.trim().slice(0, 1000) : "") || DEFAULT_QUESTION;
    if (!s.VISION_MODEL) return c.json({ success: false, message: "vision is not configured on this server (VISION_MODEL)" });
    const baseUrl = s.VISION_BASE_URL || s.LLM_BASE_URL;
    if (!baseUrl) return c.json({ success: false, message: "vision is not configured on this server (VISION_BASE_URL or LLM_BASE_URL)" });
    const started = Date.now();
    const result = await explainImage(
      { baseUrl, apiKey: s.VISION_API_KEY || s.LLM_API_KEY, model: s.VISION_MODEL, timeoutMs: s.VISION_TIMEOUT_MS },
      { question, image, mime },
    );
    log.info("vision.explain", {
      deviceId,
      bytes: image.length,
      format: mime,
      ok: result.ok,
      ms: Date.now() - started,
      ...(result.ok ? {} : { reason: result.message }),
    });
    if (!result.ok) return c.json({ success: false, message: result.message });
    return c.json({ success: true, action: "RESPONSE", response: result.text });
  });

  return app;
}
