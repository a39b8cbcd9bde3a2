import { api, describe, hasToken, onUnauthorized, setToken } from "./lib/api.js";
import { h, notice } from "./lib/dom.js";
import { poller } from "./lib/poll.js";
import { devicesTab } from "./tabs/devices.js";
import { meetingsTab } from "./tabs/meetings.js";
import { playgroundTab } from "./tabs/playground.js";
import { settingsTab } from "./tabs/settings.js";

// The console's shell (PROTOCOL §12): asks for the admin token, then shows the fleet figures and
// four tabs. Tabs are built on first use and told when they are shown or hidden, so only the
// visible one polls. The tab in view is kept in the URL's fragment (never the token).

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const TABS = /** @type {const} */ ([
  ["devices", "Devices", devicesTab],
  ["playground", "Playground", playgroundTab],
  ["meetings", "Meetings", meetingsTab],
  ["settings", "Settings", settingsTab],
]);

/** @type {Map<string, { el: HTMLElement, show: () => void, hide?: () => void }>} */
const built = new Map();
let current = "";

function tabFromHash() {
  const name = location.hash.slice(1);
  return TABS.some(([n]) => n === name) ? name : "devices";
}

/** @param {string} name */
function select(name) {
  if (name === current) return;
  built.get(current)?.hide?.();
  current = name;
  for (const [n] of TABS) {
    const tab = $(`tab-${n}`);
    const panel = $(`panel-${n}`);
    const on = n === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    panel.hidden = !on;
  }
  let view = built.get(name);
  if (!view) {
    const make = TABS.find(([n]) => n === name)?.[2];
    if (!make) return;
    view = make();
    built.set(name, view);
    $(`panel-${name}`).append(view.el);
  }
  view.show();
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

function buildTabs() {
  const list = $("tabs");
  for (const [name, label] of TABS) {
    list.append(
      h(
        "button",
        {
          type: "button",
          role: "tab",
          id: `tab-${name}`,
          "aria-controls": `panel-${name}`,
          "aria-selected": "false",
          tabindex: "-1",
          onclick: () => select(name),
        },
        label,
      ),
    );
  }
  // Arrow keys move between tabs, as a tab list does.
  list.addEventListener("keydown", (e) => {
    const i = TABS.findIndex(([n]) => n === current);
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = TABS[(i + step + TABS.length) % TABS.length]?.[0] ?? "devices";
    select(next);
    $(`tab-${next}`).focus();
  });
  window.addEventListener("hashchange", () => select(tabFromHash()));
}

const stats = poller(5000, async () => {
  const s = await api("/stats");
  const p50 = s.voice?.firstFrameP50Ms;
  $("stats").textContent = [
    `${s.devices.online} online of ${s.devices.known} devices`,
    `${s.groups} group${s.groups === 1 ? "" : "s"}`,
    `${s.inbox.queued} queued`,
    `${s.meetings.last24h} meetings today`,
    `${s.voice?.turnsLastHour ?? 0} turns/h${p50 != null ? `, first audio p50 ${Math.round(p50)} ms` : ""}`,
  ].join(" · ");
});

function showApp() {
  $("gate").hidden = true;
  $("app").hidden = false;
  if (!$("tabs").childElementCount) buildTabs();
  const name = tabFromHash();
  current = "";
  select(name);
  stats.start();
}

/** @param {string} [why] */
function showGate(why) {
  stats.stop();
  built.get(current)?.hide?.();
  $("app").hidden = true;
  $("gate").hidden = false;
  if (why) notice($("gate-status"), why, "error");
  $("token").focus();
}

function bindGate() {
  const input = /** @type {HTMLInputElement} */ ($("token"));
  $("gate-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken(input.value);
    input.value = "";
    try {
      await api("/config");
      notice($("gate-status"), "", "info");
      showApp();
    } catch (err) {
      setToken("");
      notice($("gate-status"), err instanceof Error && "status" in err && err.status === 401 ? "The server refused this token" : describe(err), "error");
    }
  });
}

$("sign-out").addEventListener("click", () => {
  setToken("");
  showGate();
});
onUnauthorized(() => {
  setToken("");
  showGate("The server refused the token: enter it again");
});

bindGate();
if (hasToken()) {
  api("/config").then(showApp, () => showGate());
} else showGate();
