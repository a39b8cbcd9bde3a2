import { h } from "./dom.js";

// A meeting summary's lists (PROTOCOL §6.1), as the playground and the meetings tab show them.

const SUMMARY_PARTS = /** @type {const} */ ([
  ["bullets", "Key points"],
  ["decisions", "Decisions"],
  ["actions", "Action items"],
  ["risks", "Risks"],
  ["nextSteps", "Next steps"],
]);

/**
 * One section per non-empty list of the summary, titled with `heading`.
 * @param {Record<string, any>} s
 * @param {"h3" | "h5"} heading
 */
export function summarySections(s, heading) {
  return SUMMARY_PARTS.filter(([k]) => Array.isArray(s[k]) && s[k].length).map(([k, title]) =>
    h(
      "section",
      null,
      h(heading, null, title),
      h(
        "ul",
        null,
        s[k].map((/** @type {string} */ t) => h("li", null, t)),
      ),
    ),
  );
}
