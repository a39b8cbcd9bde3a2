import { api, describe, seg } from "../lib/api.js";
import { clock, field, fill, h, notice } from "../lib/dom.js";
import { summarySections } from "../lib/summary.js";

// The meeting archive (PROTOCOL §6.1, §11): newest first, optionally one device's; a meeting's
// summary, its webhook delivery, and its transcript a page at a time.

const TRANSCRIPT_PAGE = 100;
export function meetingsTab() {
  const device = h("input", { type: "search", name: "meeting-device", placeholder: "all devices", autocomplete: "off", spellcheck: "false" });
  const body = h("tbody");
  const status = h("p", { class: "notice", role: "status" });
  const detail = h("div", { class: "detail-host" });

  async function load() {
    const p = new URLSearchParams({ limit: "50" });
    const d = /** @type {HTMLInputElement} */ (device).value.trim();
    if (d) p.set("device", d);
    try {
      const { items } = await api(`/meetings?${p}`);
      fill(
        body,
        items.length
          ? items.map((/** @type {any} */ m) =>
              h(
                "tr",
                { dataset: { meetingId: m.meetingId } },
                h("td", null, new Date(m.startedAt).toLocaleString()),
                h("td", null, m.title || "Untitled"),
                h("td", { class: "mono" }, m.deviceId),
                h("td", null, `${Math.round((m.endedAt - m.startedAt) / 60000)} min`),
                h("td", null, String(m.segmentCount)),
                h("td", null, h("button", { type: "button", class: "small", onclick: () => void open(m.meetingId) }, "Open")),
              ),
            )
          : h("tr", null, h("td", { colspan: "6", class: "muted" }, "No meetings archived yet")),
      );
      notice(status, "", "info");
    } catch (err) {
      notice(status, describe(err), "error");
    }
  }

  /** @param {string} id */
  async function open(id) {
    try {
      const m = await api(`/meetings/${seg(id)}`);
      const s = m.summary ?? {};
      const transcript = h("ol", { class: "transcript", "aria-label": "Archived transcript" });
      const moreButton = h("button", { type: "button", class: "small" }, "More");
      let offset = 0;
      const page = async () => {
        const t = await api(`/meetings/${seg(id)}/transcript?offset=${offset}&limit=${TRANSCRIPT_PAGE}`);
        transcript.append(
          ...t.items.map((/** @type {any} */ it) =>
            h(
              "li",
              null,
              h("span", { class: "seq" }, `#${it.seq}`),
              h("time", null, clock(it.ts)),
              it.speakerId ? h("span", { class: "tag" }, it.speakerId) : null,
              h("span", { class: "text" }, it.text),
            ),
          ),
        );
        offset += t.items.length;
        /** @type {HTMLButtonElement} */ (moreButton).hidden = offset >= t.total;
      };
      moreButton.addEventListener("click", () => void page().catch((err) => notice(status, describe(err), "error")));
      const hook = m.webhook ?? { state: "off" };
      fill(
        detail,
        h(
          "section",
          { class: "card detail", role: "region", "aria-label": `Meeting ${id}` },
          h(
            "header",
            null,
            h("h2", null, s.title || "Untitled meeting"),
            h("button", { type: "button", class: "small", onclick: () => detail.replaceChildren() }, "Close"),
          ),
          h(
            "p",
            { class: "muted" },
            `${m.deviceId} · ${new Date(m.startedAt).toLocaleString()} · ${m.duration} · ${m.segmentCount} segments`,
            m.degraded ? ` · degraded: ${m.degraded}` : "",
            ` · webhook ${hook.state}${hook.attempts ? ` (${hook.attempts} attempts, last ${hook.lastStatus ?? "no answer"})` : ""}`,
          ),
          h("div", { class: "summary" }, summarySections(s, "h3")),
          h("h3", null, "Transcript"),
          transcript,
          moreButton,
        ),
      );
      await page();
    } catch (err) {
      notice(status, describe(err), "error");
    }
  }

  const form = h(
    "form",
    {
      class: "row toolbar",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        void load();
      },
    },
    field("Device", device),
    h("button", { type: "submit" }, "Refresh"),
  );

  return {
    el: h(
      "div",
      { class: "meetings" },
      h(
        "section",
        { class: "card" },
        h("header", null, h("h2", null, "Meetings")),
        form,
        status,
        h(
          "table",
          { "aria-label": "Meetings" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["Started", "Title", "Device", "Length", "Segments", ""].map((c) => h("th", { scope: "col" }, c)),
            ),
          ),
          body,
        ),
      ),
      detail,
    ),
    show: () => void load(),
    hide() {},
  };
}
