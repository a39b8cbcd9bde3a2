import { api, describe } from "../lib/api.js";
import { ago, field, fill, h, notice } from "../lib/dom.js";
import { poller } from "../lib/poll.js";
import { activationsCard } from "./activations.js";
import { deviceDetail } from "./device-detail.js";

// The fleet (PROTOCOL §11 GET /api/devices): every known device with its live online state,
// polled every 2 s while the tab is shown. Search by id or alias prefix, filter by state and
// group, page on with the cursor. Rows are updated in place, so a poll never swallows a click.

const POLL_MS = 2000;
const PAGE = 50;
const MAX_LIMIT = 500;

export function devicesTab() {
  const q = h("input", { type: "search", name: "q", placeholder: "id or alias prefix", autocomplete: "off", spellcheck: "false" });
  const online = h(
    "select",
    { name: "online" },
    h("option", { value: "" }, "all"),
    h("option", { value: "true" }, "online"),
    h("option", { value: "false" }, "offline"),
  );
  const group = h("select", { name: "group" }, h("option", { value: "" }, "all groups"));
  const summary = h("output", { class: "muted", "aria-label": "Devices shown" });
  const status = h("p", { class: "notice", role: "status" });
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true, onclick: () => void loadMore() }, "Load more");
  const detailHost = h("div", { class: "detail-host" });
  const activations = activationsCard(() => list.now());

  /** Rows by device id, reused across polls. @type {Map<string, HTMLTableRowElement>} */
  const rows = new Map();
  /** @type {Array<Record<string, any>>} */
  let items = [];
  /** @type {string | null} */
  let nextCursor = null;
  let selected = "";
  /** @type {ReturnType<typeof deviceDetail> | undefined} */
  let detail;

  const filters = () => {
    const p = new URLSearchParams();
    const v = (/** @type {Element} */ el) => /** @type {HTMLInputElement} */ (el).value.trim();
    if (v(q)) p.set("q", v(q));
    if (v(online)) p.set("online", v(online));
    if (v(group)) p.set("group", v(group));
    return p;
  };

  /** @param {Record<string, any>} d */
  function cells(d) {
    return [
      h("td", null, h("span", { class: `dot ${d.online ? "on" : "off"}` }), d.online ? "online" : "offline"),
      h("td", { class: "mono" }, d.deviceId),
      h("td", null, d.alias ?? "—"),
      h("td", { class: "mono" }, d.groupKey ?? ""),
      h("td", null, d.mode || "chat"),
      h("td", null, d.board ?? "—"),
      h("td", null, d.firmware ?? "—"),
      h("td", { title: d.lastSeen ? new Date(d.lastSeen).toISOString() : "" }, ago(d.lastSeen)),
      h("td", null, h("button", { type: "button", class: "small", onclick: () => open(d.deviceId) }, "Open")),
    ];
  }

  function render() {
    const seen = new Set();
    for (const d of items) {
      seen.add(d.deviceId);
      let tr = rows.get(d.deviceId);
      if (!tr) {
        tr = /** @type {HTMLTableRowElement} */ (h("tr", { dataset: { deviceId: d.deviceId } }));
        rows.set(d.deviceId, tr);
      }
      const key = JSON.stringify([d.online, d.alias, d.groupKey, d.mode, d.board, d.firmware, d.lastSeen, ago(d.lastSeen)]);
      if (tr.dataset.key !== key) {
        fill(tr, cells(d));
        tr.dataset.key = key;
      }
      tr.classList.toggle("online", Boolean(d.online));
      tr.classList.toggle("selected", d.deviceId === selected);
      body.append(tr); // moves an existing row into list order
    }
    for (const [id, tr] of rows) {
      if (!seen.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    if (!items.length) {
      const none = [...filters().keys()].length ? "No devices match" : "No device has checked in yet: devices appear after their first OTA check or connect";
      body.replaceChildren(h("tr", null, h("td", { colspan: "9", class: "muted" }, none)));
    } else body.querySelector("tr:not([data-device-id])")?.remove();
    const up = items.filter((d) => d.online).length;
    summary.textContent = `${items.length} shown · ${up} online${nextCursor ? " · more available" : ""}`;
    more.hidden = !nextCursor;
  }

  /** Re-reads everything shown so far in one request, so online state stays live on every row. */
  async function refresh() {
    const p = filters();
    p.set("limit", String(Math.min(MAX_LIMIT, Math.max(PAGE, items.length))));
    const page = await api(`/devices?${p}`);
    items = page.items;
    nextCursor = page.nextCursor;
    render();
    notice(status, "", "info");
  }

  async function loadMore() {
    if (!nextCursor) return;
    const p = filters();
    p.set("limit", String(PAGE));
    p.set("cursor", nextCursor);
    try {
      const page = await api(`/devices?${p}`);
      const known = new Set(items.map((d) => d.deviceId));
      items = items.concat(page.items.filter((/** @type {any} */ d) => !known.has(d.deviceId)));
      nextCursor = page.nextCursor;
      render();
    } catch (err) {
      notice(status, describe(err), "error");
    }
  }

  async function loadGroups() {
    const { items: groups } = await api("/groups");
    const current = /** @type {HTMLSelectElement} */ (group).value;
    fill(
      group,
      h("option", { value: "" }, "all groups"),
      groups.map((/** @type {any} */ g) => h("option", { value: g.key }, `${g.key} (${g.online}/${g.members} online)`)),
    );
    /** @type {HTMLSelectElement} */ (group).value = current;
  }

  /** @param {string} id */
  function open(id) {
    selected = id;
    detail?.close();
    detail = deviceDetail(id, {
      onChanged: () => list.now(),
      onClose: () => {
        selected = "";
        detail = undefined;
        render();
      },
    });
    fill(detailHost, detail.el);
    render();
    detail.el.scrollIntoView({ block: "nearest" });
  }

  const list = poller(POLL_MS, refresh, (err) => notice(status, `Device list: ${describe(err)}`, "error"));
  const groups = poller(15_000, loadGroups, () => {});

  let typing = 0;
  q.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      items = [];
      list.now();
    }, 250);
  });
  for (const s of [online, group]) {
    s.addEventListener("change", () => {
      items = [];
      list.now();
    });
  }

  const el = h(
    "div",
    { class: "devices" },
    h(
      "section",
      { class: "card" },
      h("header", null, h("h2", null, "Devices"), summary),
      h("div", { class: "row toolbar" }, field("Search", q), field("Status", online), field("Group", group)),
      status,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "fleet", "aria-label": "Devices" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["State", "Device", "Alias", "Group", "Mode", "Board", "Firmware", "Last seen", ""].map((c) => h("th", { scope: "col" }, c)),
            ),
          ),
          body,
        ),
      ),
      more,
    ),
    detailHost,
    activations.el,
  );

  return {
    el,
    show() {
      list.start();
      groups.start();
      activations.start();
      detail?.start();
    },
    hide() {
      list.stop();
      groups.stop();
      activations.stop();
      detail?.stop();
    },
  };
}
