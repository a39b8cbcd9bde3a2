// DOM building without markup strings. The page runs under Trusted Types ('none'), so assigning a
// string to innerHTML throws, and device data (aliases, transcripts, peer texts) can only ever
// become text. Every view of the console is built with these helpers.

/** Set as properties (their live state); everything else is an attribute. */
const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "required", "readOnly"]);

/**
 * Creates an element. `props`: "class", "dataset", on<event> handlers, the live-state properties
 * above, and otherwise attributes (type, name, aria-*, for, role, list...).
 * Children: nodes, strings (as text), arrays, and null/undefined/false (skipped).
 * @param {string} tag
 * @param {Record<string, unknown> | null} [props]
 * @param {...unknown} children
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (PROPS.has(k)) /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** @param {Node} parent @param {unknown[]} children */
function append(parent, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. @param {Element} el @param {...unknown} children */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldIds = 0;

/**
 * A labelled form field. The label points at its control (for=id) rather than wrapping it, so the
 * control's accessible name is exactly the label: a wrapped <select> would add its option's text.
 * @param {string} label @param {HTMLElement} control @param {string} [hint]
 */
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++fieldIds}`;
  return h("div", { class: "field" }, h("label", { class: "field-label", for: control.id }, label), control, hint ? h("small", { class: "hint" }, hint) : null);
}

/** "12 s ago" style times: enough to judge liveness at a glance. @param {number | null | undefined} ms */
export function ago(ms, now = Date.now()) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

/** Local wall-clock time of an event, for logs: HH:MM:SS.mmm. @param {number} [ms] */
export function clock(ms = Date.now()) {
  const d = new Date(ms);
  const p = (/** @type {number} */ n, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/**
 * A short status line that says what happened, tinted by outcome.
 * @param {Element} el @param {string} text @param {"info" | "ok" | "warn" | "error"} [kind]
 */
export function notice(el, text, kind = "info") {
  el.className = `notice notice-${kind}`;
  el.textContent = text;
}
