import { h } from "../lib/dom.js";

// Working modes (PROTOCOL §6): one button per mode and one to end the current one. The server's
// ack says which mode is active; starting another ends the current one (a meeting is finalized).

const MODES = /** @type {const} */ (["meeting", "working", "coding"]);

/** @param {{ send: (m: Record<string, unknown>) => void, connected: () => boolean }} dev */
export function modeSection(dev) {
  let current = "";
  const label = h("output", { class: "mode-current", "aria-label": "Current mode" }, "chat");
  const buttons = MODES.map((mode) =>
    h("button", { type: "button", disabled: true, dataset: { mode }, onclick: () => dev.send({ type: "mode", state: "start", mode }) }, `Start ${mode}`),
  );
  const end = h("button", { type: "button", disabled: true, onclick: () => current && dev.send({ type: "mode", state: "end", mode: current }) }, "End mode");

  function show() {
    label.textContent = current || "chat";
    for (const b of buttons) b.classList.toggle("active", b.dataset.mode === current);
  }

  return {
    el: h("div", { class: "modes row" }, h("span", null, "Mode: ", label), ...buttons, end),
    onHello() {
      for (const b of [...buttons, end]) /** @type {HTMLButtonElement} */ (b).disabled = false;
    },
    onClosed() {
      for (const b of [...buttons, end]) /** @type {HTMLButtonElement} */ (b).disabled = true;
    },
    /** @param {Record<string, any>} m */
    onMessage(m) {
      if (m.type !== "mode" || m.status !== "ok") return;
      current = m.state === "start" ? m.mode : "";
      show();
    },
  };
}
