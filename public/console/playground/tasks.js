import { field, h } from "../lib/dom.js";

// The group's shared task list (PROTOCOL §7) from the device's side: the snapshot the server
// pushes (`workflow update`), and the device's own changes: add, claim, complete, delete.

const PRIORITY = ["low", "normal", "high", "urgent"];

/** @param {{ send: (m: Record<string, unknown>) => void, connected: () => boolean, deviceId: () => string }} dev */
export function tasksSection(dev) {
  const group = h("output", { "aria-label": "Task group" }, "—");
  const body = h("tbody");
  const status = h("p", { class: "notice", role: "status" });
  const title = h("input", { type: "text", name: "task-title", autocomplete: "off", disabled: true });
  const priority = h(
    "select",
    { name: "task-priority", disabled: true },
    PRIORITY.map((p, i) => h("option", { value: String(i), selected: i === 1 }, p)),
  );
  const add = h("button", { type: "submit", disabled: true }, "Add task");
  const refresh = h("button", { type: "button", class: "small", disabled: true, onclick: () => dev.send({ type: "workflow", event: "list" }) }, "Refresh");
  let groupKey = "";

  /** @param {Array<Record<string, any>>} tasks */
  function show(tasks) {
    body.replaceChildren(
      ...(tasks.length
        ? [...tasks]
            .sort((a, b) => (a.status === b.status ? b.priority - a.priority : a.status === "open" ? -1 : 1))
            .map((t) => {
              const mine = t.owner === dev.deviceId();
              return h(
                "tr",
                { class: t.status === "done" ? "done" : "", dataset: { taskId: t.id } },
                h("td", null, t.title),
                h("td", null, PRIORITY[t.priority] ?? String(t.priority)),
                h("td", null, t.ownerName || t.owner || "—"),
                h("td", null, t.status),
                h(
                  "td",
                  { class: "actions" },
                  t.status === "open" && !mine
                    ? h("button", { type: "button", class: "small", onclick: () => dev.send({ type: "workflow", event: "assign", id: t.id }) }, "Claim")
                    : null,
                  t.status === "open"
                    ? h("button", { type: "button", class: "small", onclick: () => dev.send({ type: "workflow", event: "complete", ids: [t.id] }) }, "Complete")
                    : null,
                  h("button", { type: "button", class: "small danger", onclick: () => dev.send({ type: "workflow", event: "delete", ids: [t.id] }) }, "Delete"),
                ),
              );
            })
        : [h("tr", null, h("td", { colspan: "5", class: "muted" }, "No tasks in this group"))]),
    );
  }

  const form = h(
    "form",
    {
      class: "row",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const t = /** @type {HTMLInputElement} */ (title).value.trim();
        if (!t || !dev.connected()) return;
        dev.send({ type: "workflow", event: "update", tasks: [{ title: t, priority: Number(/** @type {HTMLSelectElement} */ (priority).value) }] });
        /** @type {HTMLInputElement} */ (title).value = "";
      },
    },
    field("Task title", title),
    field("Priority", priority),
    add,
  );

  const controls = [title, priority, add, refresh];
  show([]);
  return {
    el: h(
      "div",
      { class: "tasks" },
      h("div", { class: "row" }, h("span", null, "Group: ", group), refresh),
      h(
        "table",
        { "aria-label": "Tasks" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Task", "Priority", "Owner", "Status", ""].map((c) => h("th", null, c)),
          ),
        ),
        body,
      ),
      form,
      status,
    ),
    onHello() {
      for (const c of controls) /** @type {HTMLButtonElement} */ (c).disabled = false;
      // Outside working mode no snapshot comes with the hello: ask for the list.
      dev.send({ type: "workflow", event: "list" });
    },
    onClosed() {
      for (const c of controls) /** @type {HTMLButtonElement} */ (c).disabled = true;
    },
    /** @param {Record<string, any>} m */
    onMessage(m) {
      if (m.type !== "workflow") return;
      if (m.event === "update" && Array.isArray(m.tasks)) {
        // Snapshots of another group (a cross-group upsert) are not this device's list.
        if (groupKey && m.groupKey !== groupKey && m.tasks.every((/** @type {any} */ t) => t.owner !== dev.deviceId())) return;
        groupKey ||= m.groupKey;
        group.textContent = m.groupKey;
        show(m.tasks);
      } else if (m.status === "error") status.textContent = `${m.code}: ${m.message ?? ""}`;
      else if (m.status === "ok") status.textContent = `${m.event}: ok${m.idempotent ? " (nothing changed)" : ""}`;
      else if (m.event === "command") status.textContent = `Voice command ${m.intent}: ${m.status}`;
    },
  };
}
