import { clock, h } from "../lib/dom.js";

// The device's wire traffic, newest last: every text message in and out as it was on the wire,
// the OTA exchange (token redacted), and binary frames counted per burst rather than one line
// each, so a reply's 40 frames stay one line.

const MAX_ENTRIES = 400;

/** A one-line gist of a message: type and the fields that say what it is. @param {Record<string, any>} m */
export function gist(m) {
  const parts = [m.type];
  for (const k of ["state", "event", "phase", "mode", "status", "stage", "code"]) if (typeof m[k] === "string") parts.push(m[k]);
  return parts.filter(Boolean).join(" ");
}

/** Never shows a token in full: a console screen may be shared. @param {unknown} v */
export function redact(v) {
  return JSON.stringify(v, (k, x) => (k === "token" && typeof x === "string" && x ? `(${x.length} chars, hidden)` : x));
}

export function trafficSection() {
  const list = h("ol", { class: "traffic", role: "log", "aria-label": "Traffic" });
  /** @type {{ dir: string, li: HTMLElement, count: number, bytes: number } | undefined} */
  let burst;

  /** @param {"in" | "out" | "note"} dir @param {string} title @param {string} [detail] */
  function add(dir, title, detail) {
    burst = undefined;
    const li = h(
      "li",
      { class: `traffic-${dir}` },
      h("time", null, clock()),
      h("span", { class: "dir" }, dir === "in" ? "↓" : dir === "out" ? "↑" : "•"),
      h("strong", null, title),
      detail ? h("code", null, detail.length > 600 ? `${detail.slice(0, 600)}…` : detail) : null,
    );
    push(li);
  }

  /** @param {HTMLElement} li */
  function push(li) {
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    list.append(li);
    while (list.childElementCount > MAX_ENTRIES) list.firstElementChild?.remove();
    if (stick) list.scrollTop = list.scrollHeight;
  }

  /** @param {"in" | "out"} dir @param {number} bytes */
  function frame(dir, bytes) {
    if (!burst || burst.dir !== dir || !burst.li.isConnected) {
      const li = h("li", { class: `traffic-${dir} traffic-audio` });
      burst = { dir, li, count: 0, bytes: 0 };
      push(li);
    }
    burst.count++;
    burst.bytes += bytes;
    const b = burst;
    b.li.replaceChildren(
      h("time", null, clock()),
      h("span", { class: "dir" }, dir === "in" ? "↓" : "↑"),
      h("strong", null, "audio"),
      h("code", null, `${b.count} Opus frame${b.count === 1 ? "" : "s"}, ${b.bytes} bytes`),
    );
  }

  const el = h(
    "section",
    { class: "card traffic-card" },
    h("header", null, h("h3", null, "Traffic"), h("button", { type: "button", class: "small", onclick: () => list.replaceChildren() }, "Clear")),
    list,
  );

  return {
    el,
    /** @param {Record<string, any>} m */
    received: (m) => add("in", gist(m), redact(m)),
    /** @param {Record<string, any>} m */
    sent: (m) => add("out", gist(m), redact(m)),
    note: (/** @type {string} */ text, /** @type {string} */ detail) => add("note", text, detail),
    frameIn: (/** @type {number} */ bytes) => frame("in", bytes),
    frameOut: (/** @type {number} */ bytes) => frame("out", bytes),
  };
}
