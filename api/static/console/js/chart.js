// Hand-drawn SVG charts: a stacked bar per day of usage by model, and a spent/limit bar.
//
// Bar heights are computed from the integer amounts with BigInt (no floating point on
// amounts); every drawn bar carries the numbers it stands for in data attributes (and a
// tooltip), so what is drawn can be checked against what the API answered.

import { s } from "./dom.js";
import { day, integer, permille } from "./format.js";

const WIDTH = 900;
const HEIGHT = 260;
const LEFT = 70;
const BOTTOM = 30;
const TOP = 12;
const SERIES_CLASSES = 8;

/** The UTC day starts (ISO strings) of the ``count`` days ending with today's. */
export function lastDays(count, now = new Date()) {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: count }, (_, i) =>
    new Date(today - (count - 1 - i) * 86_400_000).toISOString().replace(".000Z", "Z"),
  );
}

function dayKey(iso) {
  return new Date(iso).toISOString().slice(0, 10);
}

/**
 * Usage per day, stacked by model: ``series`` as GET .../usage?window=day&group_by=model
 * answers it, ``days`` the day starts to draw (oldest first).
 */
export function usageChart(series, days, unit) {
  const models = [...new Set(series.map((p) => p.group.model ?? "(no model)"))].sort();
  const byDay = new Map(days.map((d) => [dayKey(d), []]));
  for (const point of series) {
    const cell = byDay.get(dayKey(point.window_start));
    if (cell) cell.push(point);
  }
  const totals = [...byDay.values()].map((points) =>
    points.reduce((sum, p) => sum + BigInt(p.debited), 0n),
  );
  const max = totals.reduce((a, b) => (b > a ? b : a), 0n);
  const plot = BigInt(HEIGHT - BOTTOM - TOP);
  const y = (value) => HEIGHT - BOTTOM - Number(max > 0n ? (value * plot) / max : 0n);
  const slot = (WIDTH - LEFT) / days.length;
  const bars = [];
  [...byDay.entries()].forEach(([key, points], index) => {
    let below = 0n;
    const ordered = [...points].sort((a, b) =>
      String(a.group.model ?? "").localeCompare(String(b.group.model ?? "")),
    );
    for (const point of ordered) {
      const model = point.group.model ?? "(no model)";
      const above = below + BigInt(point.debited);
      const top = y(above);
      bars.push(
        s(
          "rect",
          {
            class: `bar series-${models.indexOf(model) % SERIES_CLASSES}`,
            x: (LEFT + index * slot + slot * 0.15).toFixed(1),
            width: (slot * 0.7).toFixed(1),
            y: top,
            height: Math.max(y(below) - top, 1),
            dataset: { day: key, model, debited: String(point.debited), count: point.count },
          },
          s("title", {}, `${key} · ${model}: ${integer(point.debited)} ${unit} in ${point.count} debits`),
        ),
      );
      below = above;
    }
  });
  const labels = days
    .map((d, index) => [d, index])
    .filter(([, index]) => index % 5 === 0 || index === days.length - 1)
    .map(([d, index]) => {
      const last = index === days.length - 1; // flush right, so it is not cut off
      const x = last ? WIDTH : LEFT + index * slot + slot / 2;
      return s("text", { class: "axis", x: x.toFixed(1), y: HEIGHT - 10, "text-anchor": last ? "end" : "middle" }, day(d));
    });
  const legend = models.map((model, index) =>
    s(
      "g",
      { class: "legend-item", transform: `translate(${LEFT + index * 140}, 0)` },
      s("rect", { class: `series-${index % SERIES_CLASSES}`, x: 0, y: 0, width: 10, height: 10 }),
      s("text", { class: "axis", x: 14, y: 9 }, model),
    ),
  );
  return s(
    "svg",
    {
      class: "chart usage-chart",
      viewBox: `0 -20 ${WIDTH} ${HEIGHT + 20}`,
      role: "img",
      "aria-label": `Usage per day by model, last ${days.length} days, in ${unit}`,
      dataset: { max: String(max), models: models.join(",") },
    },
    s("g", {}, legend),
    s("line", { class: "axis-line", x1: LEFT, x2: WIDTH, y1: HEIGHT - BOTTOM, y2: HEIGHT - BOTTOM }),
    s("text", { class: "axis", x: LEFT - 6, y: TOP + 4, "text-anchor": "end" }, integer(max)),
    s("text", { class: "axis", x: LEFT - 6, y: HEIGHT - BOTTOM, "text-anchor": "end" }, "0"),
    bars,
    labels,
  );
}

/** A horizontal bar of ``spent`` out of ``limit`` (full and marked when over). */
export function spentBar(spent, limit) {
  const filled = permille(spent, limit);
  const over = BigInt(spent) > BigInt(limit);
  return s(
    "svg",
    {
      class: "chart spent-bar",
      viewBox: "0 0 1000 16",
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": `${integer(spent)} of ${integer(limit)} spent`,
      dataset: { spent: String(spent), limit: String(limit), permille: filled },
    },
    s("rect", { class: "track", x: 0, y: 0, width: 1000, height: 16 }),
    s("rect", { class: over ? "fill over" : filled >= 900 ? "fill near" : "fill", x: 0, y: 0, width: filled, height: 16 }),
  );
}
