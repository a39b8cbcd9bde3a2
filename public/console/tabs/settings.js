import { api, describe } from "../lib/api.js";
import { fill, h, notice } from "../lib/dom.js";

// Runtime settings (PROTOCOL §11 /api/config): every effective value, which ones are overridden
// here, and which secrets are set (never their values). Saving sends only what was edited; an
// override can be reset to the deployed value. Sessions pick up changes within 60 s.

export function settingsTab() {
  const body = h("tbody");
  const secrets = h("ul", { class: "secrets", "aria-label": "Secrets" });
  const status = h("p", { class: "notice", role: "status" });
  const meta = h("p", { class: "muted" });
  const filter = h("input", { type: "search", name: "setting-filter", placeholder: "filter by name", "aria-label": "Filter settings", autocomplete: "off" });
  /** @type {Record<string, string>} */
  let shown = {};

  /** Values in the form the environment takes them: lists comma-separated, maps as JSON. @param {unknown} v */
  const text = (v) => (typeof v === "string" ? v : Array.isArray(v) ? v.join(",") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

  async function load() {
    try {
      const c = await api("/config");
      // An override is shown exactly as it was saved; other values as the environment would spell them.
      shown = Object.fromEntries(Object.entries(c.settings).map(([k, v]) => [k, c.overrides?.[k] ?? text(v)]));
      meta.textContent = c.version
        ? `Overrides version ${c.version}, updated ${new Date(c.updatedAt).toLocaleString()}`
        : "No overrides: every value is the deployed one";
      fill(
        body,
        Object.keys(c.settings)
          .sort()
          .map((name) => {
            const overridden = Object.hasOwn(c.overrides ?? {}, name);
            return h(
              "tr",
              { dataset: { name }, class: overridden ? "overridden" : "" },
              h("th", { scope: "row", class: "mono" }, name),
              h("td", null, h("input", { type: "text", name, value: shown[name], "aria-label": name, spellcheck: "false" })),
              h(
                "td",
                null,
                overridden
                  ? h("button", { type: "button", class: "small", onclick: () => void save({ [name]: null }) }, "Reset")
                  : h("span", { class: "muted" }, "deployed"),
              ),
            );
          }),
      );
      fill(
        secrets,
        Object.entries(c.secrets ?? {}).map(([name, set]) =>
          h("li", { class: set ? "set" : "unset" }, h("span", { class: "mono" }, name), set ? " set" : " not set"),
        ),
      );
      applyFilter();
    } catch (err) {
      notice(status, describe(err), "error");
    }
  }

  function applyFilter() {
    const f = /** @type {HTMLInputElement} */ (filter).value.trim().toUpperCase();
    for (const tr of body.querySelectorAll("tr")) /** @type {HTMLElement} */ (tr).hidden = Boolean(f) && !String(tr.dataset.name).includes(f);
  }
  filter.addEventListener("input", applyFilter);

  /** @param {Record<string, string | null>} values */
  async function save(values) {
    try {
      const r = await api("/config", { method: "PUT", body: { values } });
      notice(status, `Saved (version ${r.version}): active sessions use the new values within 60 s`, "ok");
      await load();
    } catch (err) {
      notice(status, describe(err), "error");
    }
  }

  const form = h(
    "form",
    {
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        /** @type {Record<string, string>} */
        const changed = {};
        for (const input of body.querySelectorAll("input")) {
          const i = /** @type {HTMLInputElement} */ (input);
          if (i.value !== shown[i.name]) changed[i.name] = i.value;
        }
        if (!Object.keys(changed).length) return notice(status, "Nothing changed", "info");
        void save(changed);
      },
    },
    h("div", { class: "row toolbar" }, filter, h("button", { type: "submit", class: "primary" }, "Save changes")),
    h(
      "table",
      { class: "settings", "aria-label": "Settings" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["Setting", "Value", ""].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      body,
    ),
  );

  return {
    el: h(
      "div",
      { class: "settings-tab" },
      h("section", { class: "card" }, h("header", null, h("h2", null, "Settings")), meta, status, form),
      h(
        "section",
        { class: "card" },
        h("header", null, h("h2", null, "Secrets")),
        h("p", { class: "muted" }, "Set with wrangler secret put (or .dev.vars locally); never shown."),
        secrets,
      ),
    ),
    show: () => void load(),
    hide() {},
  };
}
