import { api, describe } from "../lib/api.js";
import { field, h, notice } from "../lib/dom.js";
import { poller } from "../lib/poll.js";

// Devices waiting for activation (PROTOCOL §1.1, §11): the codes they show, and binding one by
// its code alone, as read off the badge's screen.

const POLL_MS = 3000;

/** @param {() => void} onBound */
export function activationsCard(onBound) {
  const body = h("tbody");
  const code = h("input", { type: "text", name: "activation-code", inputmode: "numeric", autocomplete: "off", placeholder: "6 digits" });
  const status = h("p", { class: "notice", role: "status" });

  async function refresh() {
    const { items } = await api("/activations");
    body.replaceChildren(
      ...(items.length
        ? items.map((/** @type {any} */ a) =>
            h(
              "tr",
              null,
              h("td", { class: "mono" }, a.deviceId),
              h("td", { class: "mono code" }, a.code),
              h("td", null, `${Math.max(0, Math.round((a.expiresAt - Date.now()) / 60000))} min`),
            ),
          )
        : [h("tr", null, h("td", { colspan: "3", class: "muted" }, "No device is waiting"))]),
    );
  }

  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const value = /** @type {HTMLInputElement} */ (code).value.trim();
        if (!value) return;
        try {
          const { deviceId } = await api("/activations", { method: "POST", body: { code: value } });
          notice(status, `Bound ${deviceId}: it gets its token at its next activation poll.`, "ok");
          /** @type {HTMLInputElement} */ (code).value = "";
          poll.now();
          onBound();
        } catch (err) {
          notice(status, err instanceof Error && "status" in err && err.status === 404 ? `No device is showing code ${value}` : describe(err), "error");
        }
      },
    },
    field("Activation code", code),
    h("button", { type: "submit", class: "primary" }, "Bind"),
  );

  const poll = poller(POLL_MS, refresh, (err) => notice(status, `Activations: ${describe(err)}`, "error"));
  return {
    el: h(
      "section",
      { class: "card" },
      h("header", null, h("h2", null, "Pending activations")),
      form,
      status,
      h(
        "table",
        { "aria-label": "Pending activations" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Device", "Code", "Expires in"].map((c) => h("th", null, c)),
          ),
        ),
        body,
      ),
    ),
    start: () => poll.start(),
    stop: () => poll.stop(),
  };
}
