import { DeviceLink, randomDeviceId } from "../device/link.js";
import { mcpDevice } from "../device/mcp.js";
import { field, h, notice } from "../lib/dom.js";
import { chatSection } from "./chat.js";
import { meetingSection } from "./meeting.js";
import { modeSection } from "./mode.js";
import { peerSection } from "./peer.js";
import { talkSection } from "./talk.js";
import { tasksSection } from "./tasks.js";
import { trafficSection } from "./traffic.js";

// One playground device: its identity, the connect sequence (OTA, activation when the server asks
// for it, WebSocket), and the sections that each take the messages they understand.

const ACTIVATION_POLL_MS = 3000;
let panels = 0;

/**
 * @param {{ onRemove: (el: HTMLElement) => void, peers: (self: string) => string[] }} host
 */
export function devicePanel(host) {
  const n = ++panels;
  const deviceIdInput = h("input", { type: "text", name: "device-id", value: randomDeviceId(), autocomplete: "off", spellcheck: "false" });
  const clientIdInput = h("input", { type: "text", name: "client-id", value: crypto.randomUUID(), autocomplete: "off", spellcheck: "false" });
  const otaInput = h("input", { type: "url", name: "ota-url", value: `${location.origin}/xiaozhi/ota/`, autocomplete: "off" });
  const connectButton = h("button", { type: "submit", class: "primary" }, "Connect");
  const disconnectButton = h("button", { type: "button", disabled: true }, "Disconnect");
  const status = h("p", { class: "notice", role: "status", "aria-label": "Connection status" }, "Not connected");
  const activation = h("p", { class: "activation", role: "status", "aria-label": "Activation", hidden: true });
  const inputs = [deviceIdInput, clientIdInput, otaInput];

  const value = (/** @type {Element} */ el) => /** @type {HTMLInputElement} */ (el).value.trim();
  const deviceId = () => value(deviceIdInput).toLowerCase();

  /** @type {DeviceLink | undefined} */
  let link;
  /** Cancels an activation wait or a connect in progress. */
  let cancelled = false;
  const mcp = mcpDevice();

  const dev = {
    /** @param {Record<string, unknown>} m */
    send: (m) => {
      try {
        link?.send(m);
      } catch (err) {
        notice(status, `Not sent: ${err instanceof Error ? err.message : err}`, "error");
      }
    },
    /** @param {Uint8Array<ArrayBuffer>} p */
    sendAudio: (p) => link?.sendAudio(p),
    connected: () => Boolean(link?.open),
    sessionId: () => link?.sessionId ?? "",
    deviceId,
    peers: () => host.peers(deviceId()),
    frameOut: (/** @type {number} */ bytes) => traffic.frameOut(bytes),
  };

  const traffic = trafficSection();
  const chat = chatSection(dev);
  const talk = talkSection(dev);
  const modes = modeSection(dev);
  const meeting = meetingSection(dev);
  const tasks = tasksSection(dev);
  const peer = peerSection(dev, `peers-${n}`);
  const sections = [chat, talk, modes, meeting, tasks, peer];

  /** @param {Record<string, any>} m */
  function received(m) {
    traffic.received(m);
    if (m.type === "mcp") {
      const payload = mcp.answer(m.payload);
      if (payload) dev.send({ session_id: dev.sessionId(), type: "mcp", payload });
      return;
    }
    for (const s of sections) s.onMessage?.(m);
  }

  function setConnected(/** @type {boolean} */ on) {
    for (const i of inputs) /** @type {HTMLInputElement} */ (i).disabled = on;
    /** @type {HTMLButtonElement} */ (connectButton).disabled = on;
    /** @type {HTMLButtonElement} */ (disconnectButton).disabled = !on;
    el.classList.toggle("online", on && dev.connected());
  }

  async function connect() {
    cancelled = false;
    talk.prime();
    setConnected(true);
    const cfg = { deviceId: deviceId(), clientId: value(clientIdInput), otaUrl: value(otaInput) };
    el.setAttribute("aria-label", `Playground device ${cfg.deviceId}`);
    link = new DeviceLink(cfg, {
      message: received,
      sent: (m) => traffic.sent(m),
      audio: (p) => {
        traffic.frameIn(p.byteLength);
        talk.onAudio(p);
      },
      close: ({ code, reason }) => {
        notice(status, `Disconnected (${code}${reason ? ` ${reason}` : ""})`, code === 1000 ? "info" : "warn");
        traffic.note(`closed ${code}`, reason);
        for (const s of sections) s.onClosed?.();
        setConnected(false);
      },
    });
    try {
      notice(status, "OTA check…");
      traffic.note(`POST ${new URL(cfg.otaUrl).pathname}`, `Device-Id: ${cfg.deviceId}`);
      let ota = await link.ota();
      traffic.note("OTA reply", JSON.stringify({ ...ota, websocket: { ...ota.websocket, token: ota.websocket?.token ? "(hidden)" : "" } }));
      while (ota.activation && !cancelled) {
        activation.hidden = false;
        activation.replaceChildren(
          "Activation code ",
          h("strong", { class: "code" }, ota.activation.code),
          ": bind it in the Devices tab (Pending activations). Waiting…",
        );
        notice(status, "Waiting for activation", "warn");
        while (!cancelled && !(await link.activated())) await new Promise((r) => setTimeout(r, ACTIVATION_POLL_MS));
        if (cancelled) break;
        traffic.note("activated", "the operator bound the code; checking OTA again");
        ota = await link.ota();
      }
      activation.hidden = true;
      if (cancelled) throw new Error("cancelled");
      notice(status, `Connecting to ${ota.websocket.url}…`);
      const hello = await link.connect(ota.websocket.url, ota.websocket.token);
      if (cancelled) {
        link.close();
        throw new Error("cancelled");
      }
      notice(status, `Connected · session ${hello.session_id} · replies at ${hello.audio_params?.sample_rate ?? "?"} Hz`, "ok");
      el.classList.add("online");
      for (const s of sections) void s.onHello?.(hello);
    } catch (err) {
      activation.hidden = true;
      notice(status, `Not connected: ${err instanceof Error ? err.message : err}`, "error");
      link?.close();
      link = undefined;
      setConnected(false);
    }
  }

  const identity = h(
    "form",
    {
      class: "identity row",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        void connect();
      },
    },
    field("Device ID", deviceIdInput),
    field("Client ID", clientIdInput),
    field("OTA URL", otaInput),
    connectButton,
    disconnectButton,
    h("button", { type: "button", class: "small", onclick: () => remove() }, "Remove"),
  );
  disconnectButton.addEventListener("click", () => {
    cancelled = true;
    link?.close();
  });

  function remove() {
    cancelled = true;
    link?.close();
    host.onRemove(el);
  }

  const card = (/** @type {string} */ title, /** @type {HTMLElement} */ body, cls = "") =>
    h("section", { class: `card ${cls}` }, h("header", null, h("h3", null, title)), body);

  const el = h(
    "article",
    { class: "device-panel", role: "region", "aria-label": `Playground device ${deviceId()}` },
    identity,
    status,
    activation,
    h(
      "div",
      { class: "panel-grid" },
      card("Chat", h("div", null, chat.el, talk.el), "span-2"),
      card("Mode", modes.el),
      card("Meeting", meeting.el),
      card("Tasks", tasks.el),
      card("Peers", peer.el),
      traffic.el,
    ),
  );
  return { el, deviceId, remove };
}
