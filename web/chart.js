// SPDX-License-Identifier: MIT
// The overview's activity chart: two per-minute series over the last hour as
// inline SVG. The plot stretches to any width (non-scaling strokes); the
// labels are HTML around it so they stay readable on a phone.

import { h, svg, fmtNum } from "./dom.js";

const W = 600;
const H = 160;

function niceMax(v) {
  if (v <= 4) {
    return 4;
  }
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= v) {
      return m * p;
    }
  }
  return 10 * p;
}

// series: [{label, values: [60 numbers, oldest first], cls}]
export function activityChart(series) {
  const n = Math.max(...series.map((s) => s.values.length), 1);
  const norm = series.map((s) => {
    const v = s.values.map((x) => Number(x) || 0);
    while (v.length < n) {
      v.unshift(0);
    }
    return { ...s, values: v };
  });
  const peak = Math.max(0, ...norm.flatMap((s) => s.values));
  const max = niceMax(peak);

  const plot = svg("svg", {
    viewBox: "0 0 " + W + " " + H,
    preserveAspectRatio: "none",
    class: "chart-plot",
    "aria-hidden": "true",
    focusable: "false",
  });
  for (const f of [0.25, 0.5, 0.75, 1]) {
    const y = (H - f * (H - 4)).toFixed(1);
    plot.append(svg("line", { x1: 0, x2: W, y1: y, y2: y, class: "grid",
      "vector-effect": "non-scaling-stroke" }));
  }
  plot.append(svg("line", { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, class: "axis",
    "vector-effect": "non-scaling-stroke" }));
  // Per-minute bars side by side: sparse activity reads better than lines.
  const slot = W / n;
  const gap = Math.min(2, slot * 0.2);
  const barW = (slot - gap) / norm.length;
  norm.forEach((s, k) => {
    const bars = [];
    s.values.forEach((v, i) => {
      if (v <= 0) {
        return;
      }
      const bh = Math.max(2, (v / max) * (H - 4));
      const x = i * slot + gap / 2 + k * barW;
      bars.push("M" + x.toFixed(2) + " " + H + "V" + (H - bh).toFixed(2) + "H" + (x + barW).toFixed(2) +
        "V" + H + "Z");
    });
    plot.append(svg("path", { d: bars.join("") || "M0 " + H, class: "bars " + s.cls }));
  });
  // Invisible columns carrying a tooltip per minute.
  const colW = W / n;
  for (let i = 0; i < n; i++) {
    const ago = n - 1 - i;
    const text = (ago === 0 ? "this minute" : ago + " min ago") + ": " +
      norm.map((s) => fmtNum(s.values[i]) + " " + s.label.toLowerCase()).join(", ");
    plot.append(svg("rect", { x: (i * colW).toFixed(1), y: 0, width: colW.toFixed(1),
      height: H, class: "hit" }, svg("title", null, text)));
  }

  const totals = norm.map((s) => fmtNum(s.values.reduce((a, b) => a + b, 0)) + " " +
    s.label.toLowerCase());
  const summary = "Last hour: " + totals.join(", ") + "; busiest minute " + fmtNum(peak) + ".";

  return h("figure.chart", { role: "img", "aria-label": summary },
    h("div.chart-legend", { "aria-hidden": "true" },
      norm.map((s) => h("span.key." + s.cls, null, s.label + " ",
        h("strong", null, fmtNum(s.values.reduce((a, b) => a + b, 0)))))),
    h("div.chart-body", { "aria-hidden": "true" },
      h("div.chart-y", null, h("span", null, fmtNum(max)), h("span", null, fmtNum(max / 2)),
        h("span", null, "0")),
      h("div.chart-area", null, plot)),
    h("div.chart-x", { "aria-hidden": "true" }, h("span", null, "60 min ago"),
      h("span", null, "30 min ago"), h("span", null, "now")),
    h("figcaption.visually-hidden", null, summary));
}
