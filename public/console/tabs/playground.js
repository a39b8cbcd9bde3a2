import { h } from "../lib/dom.js";
import { devicePanel } from "../playground/panel.js";

// The playground tab: one or more simulated devices side by side, each speaking the device
// protocol itself, so two of them can message each other or share a group's task list.

export function playgroundTab() {
  /** @type {ReturnType<typeof devicePanel>[]} */
  let panels = [];
  const list = h("div", { class: "panels" });

  function add() {
    const p = devicePanel({
      onRemove: (el) => {
        panels = panels.filter((x) => x.el !== el);
        el.remove();
      },
      peers: (self) => panels.map((x) => x.deviceId()).filter((id) => id !== self),
    });
    panels.push(p);
    list.append(p.el);
    return p;
  }

  add();
  return {
    el: h(
      "div",
      { class: "playground" },
      h(
        "p",
        { class: "intro" },
        "Each device below does what a badge does: an OTA check, then a WebSocket with its identity in the query, as the xiaozhi test page connects. ",
        "Devices created here share a group (the first 8 characters of their id), so they can message each other and share tasks.",
      ),
      h("div", { class: "row" }, h("button", { type: "button", onclick: () => add() }, "Add device")),
      list,
    ),
    show() {},
  };
}
