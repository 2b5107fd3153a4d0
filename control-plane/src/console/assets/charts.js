// Charts as inline SVG, drawn with DOM calls (no library, nothing inline for the CSP to
// refuse). Each chart has a <title> and an aria-label that says what it shows in words.

import { h, s } from "./dom.js";

/** Vertical bars: values with their labels (every `every`-th label is printed). */
export function bars(title, values, labels, { every = 1, height = 140 } = {}) {
  const width = Math.max(240, values.length * 22);
  const max = Math.max(1, ...values);
  const barW = width / values.length;
  const plot = height - 20;
  const summary = values.map((v, i) => `${labels[i]}: ${v}`).filter((_, i) => values[i]).join(", ") || "no data";
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": `${title}. ${summary}` },
    s("title", {}, title),
    values.map((v, i) => {
      const bh = (v / max) * (plot - 12);
      return s("g", {},
        s("rect", { x: i * barW + 3, y: plot - bh, width: barW - 6, height: Math.max(bh, v ? 1 : 0), class: "bar" },
          s("title", {}, `${labels[i]}: ${v}`)),
        v ? s("text", { x: i * barW + barW / 2, y: plot - bh - 3, class: "bar-value", "text-anchor": "middle" }, v) : null,
        i % every === 0 ? s("text", { x: i * barW + barW / 2, y: height - 4, class: "axis", "text-anchor": "middle" }, labels[i]) : null);
    }),
    s("line", { x1: 0, x2: width, y1: plot, y2: plot, class: "baseline" }));
}

// "notInterested" and "not_interested" both read "not interested", and style alike.
const words = (key) => key.replace(/([A-Z])/g, "_$1").toLowerCase();

/** Horizontal bars for named counts (outcomes, statuses). */
export function hbars(title, entries) {
  const rows = entries.filter(([, v]) => v > 0).map(([k, v]) => [words(k), v]);
  if (!rows.length) return h("p", { class: "empty" }, `${title}: none yet.`);
  const max = Math.max(...rows.map(([, v]) => v));
  const rowH = 26;
  const width = 320;
  return s("svg", { viewBox: `0 0 ${width} ${rows.length * rowH}`, class: "chart hchart", role: "img",
    "aria-label": `${title}. ${rows.map(([k, v]) => `${k.replace(/_/g, " ")}: ${v}`).join(", ")}` },
    s("title", {}, title),
    rows.map(([key, value], i) => s("g", {},
      s("text", { x: 0, y: i * rowH + 17, class: "axis" }, key.replace(/_/g, " ")),
      s("rect", { x: 110, y: i * rowH + 5, width: Math.max(2, (value / max) * (width - 150)), height: rowH - 10, class: `bar bar-${key}` }),
      s("text", { x: 110 + Math.max(2, (value / max) * (width - 150)) + 6, y: i * rowH + 17, class: "bar-value" }, value))));
}

/** A progress bar with its text, e.g. progress(3, 10, "3 of 10 contacts done"). */
export function progress(value, max, text) {
  const bar = h("progress", { value: Math.min(value, max), max: Math.max(max, 1), "aria-label": text });
  return h("div", { class: "progress" }, bar, h("span", { class: "progress-text" }, text));
}
