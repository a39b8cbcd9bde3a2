import { field, h } from "../lib/dom.js";

// The conversation as the badge's screen shows it: what the server heard (`stt`), the reply's
// emotion (`llm`) and its sentences as they are spoken (`tts sentence_start`), alerts and system
// events. Typing sends `listen detect` with the text, as the xiaozhi test page does.

/** @param {{ send: (m: Record<string, unknown>) => void, connected: () => boolean, sessionId: () => string }} dev */
export function chatSection(dev) {
  const log = h("ol", { class: "conversation", role: "log", "aria-label": "Conversation" });
  /** @type {HTMLElement | undefined} */
  let reply;
  let emoji = "";

  /** @param {string} who @param {string} text @param {string} cls */
  function line(who, text, cls) {
    const li = h("li", { class: cls }, h("span", { class: "who" }, who), h("span", { class: "text" }, text));
    log.append(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  const input = h("input", { type: "text", name: "say", autocomplete: "off", placeholder: "Type what you would say", disabled: true });
  const sendButton = h("button", { type: "submit", disabled: true }, "Send");
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const text = /** @type {HTMLInputElement} */ (input).value.trim();
        if (!text || !dev.connected()) return;
        dev.send({ session_id: dev.sessionId(), type: "listen", state: "detect", text });
        /** @type {HTMLInputElement} */ (input).value = "";
      },
    },
    field("Say", input),
    sendButton,
  );

  return {
    el: h("div", { class: "chat" }, log, form),
    onHello() {
      for (const c of [input, sendButton]) /** @type {HTMLInputElement} */ (c).disabled = false;
    },
    onClosed() {
      for (const c of [input, sendButton]) /** @type {HTMLInputElement} */ (c).disabled = true;
      reply = undefined;
    },
    /** @param {Record<string, any>} m */
    onMessage(m) {
      if (m.type === "stt") line("You", m.text, "user");
      else if (m.type === "llm" && typeof m.text === "string") {
        emoji = m.text;
        if (reply) reply.querySelector(".who")?.replaceChildren(`Badge ${emoji}`);
      } else if (m.type === "tts" && m.state === "sentence_start" && typeof m.text === "string") {
        reply ??= line(`Badge ${emoji}`.trim(), "", "assistant");
        const text = reply.querySelector(".text");
        if (text) text.textContent = `${text.textContent ? `${text.textContent} ` : ""}${m.text}`;
      } else if (m.type === "tts" && m.state === "stop") {
        reply = undefined;
        emoji = "";
      } else if (m.type === "alert") line("Alert", m.message ?? "", "alert");
      else if (m.type === "system" && m.event !== "heartbeat") line("System", m.message ?? m.event ?? "", "system");
      else if (m.type === "error") line("Error", `${m.code}: ${m.message ?? ""}`, "alert");
    },
  };
}
