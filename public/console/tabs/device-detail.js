import { api, describe, seg } from "../lib/api.js";
import { ago, clock, field, fill, h, notice } from "../lib/dom.js";
import { poller } from "../lib/poll.js";

// One device for the operator: its live state, its agent (profile: alias, group, prompt, voice,
// language, LLM model over the global settings, PROTOCOL §11), a message to it, disconnect, and
// its chat history.

const PROFILE_FIELDS = /** @type {const} */ ([
  ["alias", "Alias", "input"],
  ["group", "Group", "input"],
  ["voice", "Voice", "input"],
  ["language", "Language", "input"],
  ["llmModel", "LLM model", "input"],
  ["prompt", "System prompt", "textarea"],
]);

/**
 * @param {string} id
 * @param {{ onChanged: () => void, onClose: () => void }} hooks
 */
export function deviceDetail(id, hooks) {
  const path = `/devices/${seg(id)}`;
  const state = h("dl", { class: "facts" });
  const status = h("p", { class: "notice", role: "status" });
  const history = h("ol", { class: "conversation", "aria-label": "Chat history" });
  /** @type {Record<string, string>} */
  let loaded = {};

  const inputs = Object.fromEntries(
    PROFILE_FIELDS.map(([key, , kind]) => [
      key,
      kind === "textarea"
        ? h("textarea", { name: key, rows: "4", placeholder: "empty: the global CHAT_SYSTEM_PROMPT", disabled: true })
        : h("input", { type: "text", name: key, autocomplete: "off", placeholder: "empty: the global setting", disabled: true }),
    ]),
  );
  const saveProfile = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary", disabled: true }, "Save profile"));
  const val = (/** @type {string} */ k) => /** @type {HTMLInputElement} */ (inputs[k]).value.trim();

  const disconnect = h(
    "button",
    {
      type: "button",
      class: "danger",
      disabled: true,
      onclick: async () => {
        try {
          const r = await api(`${path}/sessions`, { method: "DELETE" });
          notice(status, r.closed ? "Disconnected (close code 1000)" : "It had no open connection", "ok");
          hooks.onChanged();
          poll.now();
        } catch (err) {
          notice(status, describe(err), "error");
        }
      },
    },
    "Disconnect",
  );

  async function loadState() {
    const d = await api(path);
    fill(
      state,
      ...[
        ["State", d.online ? "online" : "offline"],
        ["Mode", d.mode || "chat"],
        ["Group", d.groupKey],
        ["Inbox", `${d.inbox ?? 0} queued`],
        ["Last seen", ago(d.lastSeen)],
      ].flatMap(([k, v]) => [h("dt", null, k), h("dd", null, String(v ?? "—"))]),
    );
    /** @type {HTMLButtonElement} */ (disconnect).disabled = !d.online;
  }

  /** The form stays disabled until the profile is in, so a load can never overwrite an edit. */
  async function loadProfile() {
    loaded = await api(`${path}/profile`);
    for (const [key] of PROFILE_FIELDS) {
      const input = /** @type {HTMLInputElement} */ (inputs[key]);
      input.value = loaded[key] ?? "";
      input.disabled = false;
    }
    saveProfile.disabled = false;
  }

  async function loadHistory() {
    const { items } = await api(`${path}/history`);
    fill(
      history,
      items.length
        ? items.map((/** @type {any} */ m) =>
            h(
              "li",
              { class: m.role === "user" ? "user" : "assistant" },
              h("span", { class: "who" }, `${m.role} · ${clock(m.ts)}`),
              h("span", { class: "text" }, m.text),
            ),
          )
        : h("li", { class: "muted" }, "No chat yet"),
    );
  }

  const profileForm = h(
    "form",
    {
      class: "profile",
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        // Only what changed: an emptied field is removed (null), so the global setting applies again.
        /** @type {Record<string, string | null>} */
        const patch = {};
        for (const [key] of PROFILE_FIELDS) {
          const v = val(key);
          if (v !== (loaded[key] ?? "")) patch[key] = v === "" ? null : v;
        }
        if (!Object.keys(patch).length) return notice(status, "Nothing changed", "info");
        try {
          loaded = await api(`${path}/profile`, { method: "PUT", body: patch });
          notice(status, "Profile saved: used from the device's next turn", "ok");
          hooks.onChanged();
          void loadState();
        } catch (err) {
          notice(status, describe(err), "error");
        }
      },
    },
    PROFILE_FIELDS.map(([key, label]) => field(label, inputs[key])),
    saveProfile,
  );

  const category = h(
    "select",
    { name: "message-category" },
    ["chat", "notice", "task"].map((c) => h("option", { value: c }, c)),
  );
  const text = h("input", { type: "text", name: "message-text", autocomplete: "off" });
  const messageForm = h(
    "form",
    {
      class: "row",
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const t = /** @type {HTMLInputElement} */ (text).value.trim();
        if (!t) return;
        try {
          const r = await api(`${path}/messages`, {
            method: "POST",
            body: { category: /** @type {HTMLSelectElement} */ (category).value, payload: { text: t } },
          });
          const how = r.delivered?.length ? "delivered" : r.enqueued?.length ? "queued in its inbox" : `failed (${r.failed?.[0]?.code ?? "?"})`;
          notice(status, `Message ${how}`, r.failed?.length ? "error" : "ok");
          /** @type {HTMLInputElement} */ (text).value = "";
          poll.now();
        } catch (err) {
          notice(status, describe(err), "error");
        }
      },
    },
    field("Category", category),
    field("Message", text),
    h("button", { type: "submit" }, "Send message"),
  );

  const poll = poller(3000, loadState, (err) => notice(status, describe(err), "error"));
  poll.start();
  Promise.all([loadProfile(), loadHistory()]).catch((err) => notice(status, describe(err), "error"));

  const el = h(
    "section",
    { class: "card detail", role: "region", "aria-label": `Device ${id}` },
    h(
      "header",
      null,
      h("h2", null, "Device ", h("span", { class: "mono" }, id)),
      h("div", { class: "row" }, disconnect, h("button", { type: "button", class: "small", onclick: () => close() }, "Close")),
    ),
    state,
    status,
    h(
      "div",
      { class: "detail-grid" },
      h("div", null, h("h3", null, "Agent profile"), profileForm),
      h(
        "div",
        null,
        h("h3", null, "Send a message"),
        messageForm,
        h(
          "h3",
          null,
          "Chat history ",
          h("button", { type: "button", class: "small", onclick: () => void loadHistory().catch((err) => notice(status, describe(err), "error")) }, "Reload"),
          h(
            "button",
            {
              type: "button",
              class: "small danger",
              onclick: async () => {
                await api(`${path}/history`, { method: "DELETE" }).catch((err) => notice(status, describe(err), "error"));
                await loadHistory().catch(() => {});
              },
            },
            "Clear",
          ),
        ),
        history,
      ),
    ),
  );

  function close() {
    poll.stop();
    el.remove();
    hooks.onClose();
  }

  return { el, close: () => poll.stop(), start: () => poll.start(), stop: () => poll.stop() };
}
