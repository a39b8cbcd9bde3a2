// One simulated device on the path the xiaozhi browser test page takes (PROTOCOL §1.1, §2, §3):
// an OTA check with Device-Id and Client-Id headers and the firmware's system info, then the
// WebSocket URL from the reply with the identity in the query (`authorization=Bearer <token>`,
// `device-id`, `client-id`, since a browser cannot set headers on an upgrade), then the test
// page's hello. Binary frames are protocol v1: raw Opus packets both ways.

/** What the test page sends: no transport, no audio_params (the server assumes 16 kHz, 60 ms). */
export const TEST_PAGE_HELLO = Object.freeze({ type: "hello", version: 1, features: { mcp: true } });

export const BOARD = "supie-console";
export const APP_VERSION = "1.0.0";

/** The firmware's system-info body, as the test page fills it. @param {string} mac */
export function otaBody(mac) {
  return {
    version: 2,
    uuid: "",
    application: { name: BOARD, version: APP_VERSION, idf_version: "browser" },
    ota: { label: BOARD },
    board: { type: BOARD, name: BOARD, ssid: "browser", rssi: 0, channel: 0, ip: "127.0.0.1", mac },
    flash_size: 0,
    minimum_free_heap_size: "0",
    mac_address: mac,
    chip_model_name: "browser",
  };
}

/** A locally administered MAC (second hex digit 2): never a real badge's. Same prefix, same group. */
export function randomDeviceId() {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return ["02", "c0", "de", ...[...b].map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/** @typedef {{ websocket: { url: string, token: string }, activation?: { code: string, message: string }, firmware?: unknown }} OtaReply */

/**
 * @typedef {object} LinkEvents
 * @property {(msg: Record<string, any>) => void} [message] every text message received
 * @property {(packet: Uint8Array) => void} [audio] every binary frame received
 * @property {(msg: Record<string, any>) => void} [sent] every text message sent
 * @property {(info: { code: number, reason: string }) => void} [close]
 */

export class DeviceLink {
  /** @param {{ deviceId: string, clientId: string, otaUrl: string }} cfg @param {LinkEvents} on */
  constructor(cfg, on) {
    this.cfg = cfg;
    this.on = on;
    /** @type {WebSocket | undefined} */
    this.ws = undefined;
    /** @type {Record<string, any> | undefined} */
    this.hello = undefined;
  }

  /** @returns {Record<string, string>} */
  headers() {
    return { "content-type": "application/json", "device-id": this.cfg.deviceId, "client-id": this.cfg.clientId };
  }

  /** @returns {Promise<OtaReply>} */
  async ota() {
    const res = await fetch(this.cfg.otaUrl, {
      method: "POST",
      headers: this.headers(),
      body: JSON.stringify(otaBody(this.cfg.deviceId)),
      credentials: "omit",
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`OTA check answered ${res.status}${body?.error ? `: ${body.error.message}` : ""}`);
    return body;
  }

  /** The firmware's activation poll: true once an operator has bound the code. */
  async activated() {
    const url = new URL("activate", this.cfg.otaUrl.endsWith("/") ? this.cfg.otaUrl : `${this.cfg.otaUrl}/`);
    const res = await fetch(url, { method: "POST", headers: this.headers(), body: "{}", credentials: "omit" });
    return res.status === 200;
  }

  /**
   * Opens the socket and completes the hello; resolves with the server's hello.
   * @param {string} wsUrl @param {string} token
   * @returns {Promise<Record<string, any>>}
   */
  connect(wsUrl, token) {
    const url = new URL(wsUrl);
    if (token) url.searchParams.append("authorization", token.startsWith("Bearer ") ? token : `Bearer ${token}`);
    url.searchParams.append("device-id", this.cfg.deviceId);
    url.searchParams.append("client-id", this.cfg.clientId);
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.hello = undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("no hello from the server within 10 s"));
        ws.close();
      }, 10_000);
      ws.onopen = () => this.send({ ...TEST_PAGE_HELLO });
      ws.onmessage = (ev) => {
        if (typeof ev.data !== "string") {
          this.on.audio?.(new Uint8Array(ev.data));
          return;
        }
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          msg = { type: "(unparsable)", raw: ev.data };
        }
        if (msg.type === "hello" && !this.hello) {
          this.hello = msg;
          clearTimeout(timer);
          resolve(msg);
        }
        this.on.message?.(msg);
      };
      ws.onclose = (ev) => {
        clearTimeout(timer);
        if (this.ws === ws) this.ws = undefined;
        // A refused upgrade (401) shows only as a close before the hello: the browser hides the status.
        if (!this.hello) reject(new Error(`the server closed the socket before its hello (${ev.code}); is the token valid?`));
        this.on.close?.({ code: ev.code, reason: ev.reason });
      };
    });
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  get sessionId() {
    return this.hello?.session_id ?? "";
  }

  /** @param {Record<string, unknown>} msg */
  send(msg) {
    if (!this.open) throw new Error("not connected");
    this.ws?.send(JSON.stringify(msg));
    this.on.sent?.(msg);
  }

  /** @param {Uint8Array<ArrayBuffer>} packet */
  sendAudio(packet) {
    if (this.open) this.ws?.send(packet);
  }

  close(code = 1000) {
    this.ws?.close(code, "closed from the console");
  }
}
