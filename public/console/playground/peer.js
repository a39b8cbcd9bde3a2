import { clock, field, h } from "../lib/dom.js";

// Peer messages (PROTOCOL §9) from the device's side: send to device ids, `group:<key>` or
// `broadcast`; see what arrives (live or from the inbox) and each receipt.

const CATEGORIES = ["chat", "task", "notice"];

/**
 * @param {{ send: (m: Record<string, unknown>) => void, connected: () => boolean, peers: () => string[] }} dev
 * @param {string} listId id for the datalist of the other playground devices
 */
export function peerSection(dev, listId) {
  const inbox = h("ol", { class: "peer-log", role: "log", "aria-label": "Peer messages" });
  const to = h("input", {
    type: "text",
    name: "peer-to",
    autocomplete: "off",
    placeholder: "device id, group:<key> or broadcast",
    list: listId,
    disabled: true,
  });
  const category = h(
    "select",
    { name: "peer-category", disabled: true },
    CATEGORIES.map((c) => h("option", { value: c }, c)),
  );
  const text = h("input", { type: "text", name: "peer-text", autocomplete: "off", disabled: true });
  const sendButton = h("button", { type: "submit", disabled: true }, "Send to peer");
  const datalist = h("datalist", { id: listId });
  let ref = 0;

  /** @param {string} cls @param {...unknown} parts */
  function entry(cls, ...parts) {
    inbox.append(h("li", { class: cls }, h("time", null, clock()), ...parts));
    inbox.scrollTop = inbox.scrollHeight;
  }

  const form = h(
    "form",
    {
      class: "row",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const targets = /** @type {HTMLInputElement} */ (to).value
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const body = /** @type {HTMLInputElement} */ (text).value.trim();
        if (!targets.length || !body || !dev.connected()) return;
        dev.send({ type: "peer", id: `c${++ref}`, to: targets, category: /** @type {HTMLSelectElement} */ (category).value, payload: { text: body } });
        /** @type {HTMLInputElement} */ (text).value = "";
      },
      onfocusin: () => datalist.replaceChildren(...dev.peers().map((p) => h("option", { value: p }))),
    },
    field("To", to),
    field("Category", category),
    field("Peer message", text),
    sendButton,
    datalist,
  );

  const controls = [to, category, text, sendButton];
  return {
    el: h("div", { class: "peer" }, form, inbox),
    onHello() {
      for (const c of controls) /** @type {HTMLButtonElement} */ (c).disabled = false;
    },
    onClosed() {
      for (const c of controls) /** @type {HTMLButtonElement} */ (c).disabled = true;
    },
    /** @param {Record<string, any>} m */
    onMessage(m) {
      if (m.type !== "peer") return;
      if (m.event === "message") {
        const p = m.payload ?? {};
        const body = typeof p.text === "string" ? p.text : JSON.stringify(p);
        entry(
          "peer-in",
          h("strong", null, `${m.fromName || m.from} → me`),
          h("span", { class: "tag" }, m.category),
          m.redelivery ? h("span", { class: "tag" }, "from inbox") : null,
          h("span", { class: "text" }, body),
          p.normalized ? h("code", null, JSON.stringify(p.normalized)) : null,
        );
      } else if (m.event === "receipt") {
        const failed = (m.failed ?? []).map((/** @type {any} */ f) => `${f.id} (${f.code})`);
        entry(
          "peer-receipt",
          h("strong", null, `receipt ${m.ref ?? ""}`),
          h(
            "span",
            { class: "text" },
            [
              m.delivered?.length ? `delivered: ${m.delivered.join(", ")}` : "",
              m.enqueued?.length ? `queued: ${m.enqueued.join(", ")}` : "",
              failed.length ? `failed: ${failed.join(", ")}` : "",
            ]
              .filter(Boolean)
              .join(" · ") || "no targets",
          ),
        );
      } else if (m.event === "redelivered") entry("peer-receipt", h("strong", null, "redelivered"), h("span", { class: "text" }, `${m.count} to ${m.to}`));
      else if (m.status === "error") entry("peer-error", h("strong", null, m.code), h("span", { class: "text" }, m.message ?? `retry in ${m.retryAfterMs} ms`));
    },
  };
}
