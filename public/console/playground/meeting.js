import { clock, field, h } from "../lib/dom.js";
import { summarySections } from "../lib/summary.js";

// A meeting as the badge lives it (PROTOCOL §6.1): each utterance echoed at once
// (`audio transcription`), the server's transcript pushes (numbered segments), typed snippets,
// then finalize with its progress stages and the summary.

/** @param {{ send: (m: Record<string, unknown>) => void, connected: () => boolean, deviceId: () => string }} dev */
export function meetingSection(dev) {
  const transcript = h("ol", { class: "transcript", role: "log", "aria-label": "Meeting transcript" });
  const progress = h("p", { class: "notice", role: "status", "aria-label": "Meeting progress" });
  const summary = h("div", { class: "summary", "aria-label": "Meeting summary" });
  const input = h("input", { type: "text", name: "snippet", autocomplete: "off", placeholder: "A line said in the meeting", disabled: true });
  const add = h("button", { type: "submit", disabled: true }, "Add line");
  const finalize = h(
    "button",
    {
      type: "button",
      disabled: true,
      onclick: () => {
        progress.textContent = "Finalizing…";
        dev.send({ type: "meeting", phase: "finalize" });
      },
    },
    "Finalize meeting",
  );

  /** @param {string} text @param {number} [ts] @param {number} [seq] */
  function segment(text, ts, seq) {
    // A pushed segment confirms the live echo of the same words instead of repeating it.
    if (seq !== undefined) {
      for (const li of transcript.querySelectorAll("li.live")) {
        if (li.querySelector(".text")?.textContent === text) {
          li.classList.remove("live");
          li.querySelector(".seq")?.replaceChildren(`#${seq}`);
          return;
        }
      }
    }
    transcript.append(
      h(
        "li",
        { class: seq === undefined ? "live" : "" },
        h("span", { class: "seq" }, seq === undefined ? "…" : `#${seq}`),
        h("time", null, clock(ts)),
        h("span", { class: "text" }, text),
      ),
    );
    transcript.scrollTop = transcript.scrollHeight;
  }

  /** @param {Record<string, any>} s */
  function showSummary(s) {
    summary.replaceChildren(
      h("h4", null, s.title || "Untitled meeting"),
      h("p", { class: "muted" }, `Duration ${s.duration ?? "?"}${s.idempotent ? " · already finalized" : ""}${s.degraded ? ` · degraded: ${s.degraded}` : ""}`),
      ...summarySections(s, "h5"),
    );
  }

  const form = h(
    "form",
    {
      class: "row",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const text = /** @type {HTMLInputElement} */ (input).value.trim();
        if (!text || !dev.connected()) return;
        dev.send({ type: "meeting", phase: "snippet", items: [{ tag: "console", text, speakerId: dev.deviceId() }] });
        /** @type {HTMLInputElement} */ (input).value = "";
      },
    },
    field("Transcript line", input),
    add,
  );

  const controls = [input, add, finalize];
  return {
    el: h("div", { class: "meeting" }, form, transcript, h("div", { class: "row" }, finalize), progress, summary),
    onHello() {
      for (const c of controls) /** @type {HTMLButtonElement} */ (c).disabled = false;
    },
    onClosed() {
      for (const c of controls) /** @type {HTMLButtonElement} */ (c).disabled = true;
    },
    /** @param {Record<string, any>} m */
    onMessage(m) {
      if (m.type === "mode" && m.status === "ok" && m.mode === "meeting" && m.state === "start" && !m.idempotent) {
        transcript.replaceChildren();
        summary.replaceChildren();
        progress.textContent = "Meeting started: speak, type in Chat, or add lines here.";
      }
      if (m.type === "audio" && m.event === "transcription") segment(m.text, m.ts);
      if (m.type !== "meeting") return;
      if (m.phase === "transcript") for (const it of m.items ?? []) segment(it.text, it.ts, it.seq);
      else if (m.phase === "snippet" && m.status === "ok")
        progress.textContent = m.ignored ? "Line ignored: the meeting is finalized" : `Lines accepted: ${m.count}`;
      else if (m.phase === "finalize") progress.textContent = `Finalizing meeting ${m.meetingId} (${m.pendingCount ?? 0} segments pending)…`;
      else if (m.phase === "progress") progress.textContent = `Finalizing: ${m.stage}`;
      else if (m.phase === "summary") {
        progress.textContent = `Summary ready (meeting ${m.meetingId})`;
        showSummary(m);
      } else if (m.status === "error") progress.textContent = `${m.code}: ${m.message ?? ""}`;
    },
  };
}
