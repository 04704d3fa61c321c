// Line charts as inline SVG: one or more series of [x, y] points on shared axes.

const NS = "http://www.w3.org/2000/svg";
export const COLORS = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285",
  "#c2255c", "#5c940d", "#364fc7", "#868e96"];
const MAX_DRAWN = 2000; // points per series drawn; more are thinned (min and max kept)
const MAX_MARKED = 300; // series with at most this many points get a marker per point

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : String(child));
  return el;
}

/** About ``count`` round tick values covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

function label(v) {
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** Keep the first, last, lowest and highest point of each bucket, so peaks stay visible. */
function thin(points) {
  if (points.length <= MAX_DRAWN) return points;
  const size = Math.ceil(points.length / (MAX_DRAWN / 4));
  const out = [];
  for (let i = 0; i < points.length; i += size) {
    const bucket = points.slice(i, i + size);
    let lo = bucket[0];
    let hi = bucket[0];
    for (const p of bucket) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    const keep = new Set([bucket[0], lo, hi, bucket[bucket.length - 1]]);
    out.push(...[...keep].sort((a, b) => a[0] - b[0]));
  }
  return out;
}

/**
 * An SVG line chart.
 * @param series [{name, points: [[x, y], ...]}]; points with a non-finite y are skipped
 * @param opts {xLabel, width, height, xFormat}
 */
export function lineChart(series, opts = {}) {
  const width = opts.width || 640;
  const height = opts.height || 260;
  const m = { top: 10, right: 16, bottom: 34, left: 58 };
  const clean = series.map((one) => ({
    ...one,
    points: one.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]))
      .sort((a, b) => a[0] - b[0]),
  }));
  const all = clean.flatMap((one) => one.points);
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", class: "line-chart",
    "aria-label": opts.title || "chart",
  });
  if (!all.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted" },
      "no finite values to draw"));
    return svg;
  }
  // loops, not Math.min(...points): a spread of 100,000 arguments overflows the stack
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of all) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) {
    const pad = Math.abs(y0) * 0.1 || 1;
    [y0, y1] = [y0 - pad, y1 + pad];
  } else {
    const pad = (y1 - y0) * 0.05;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const X = (x) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const Y = (y) => m.top + plotH - ((y - y0) / (y1 - y0)) * plotH;

  const grid = s("g", { class: "grid" });
  const axes = s("g", { class: "axis" });
  for (const t of ticks(y0, y1)) {
    grid.append(s("line", { x1: m.left, x2: width - m.right, y1: Y(t), y2: Y(t) }));
    axes.append(s("text", { x: m.left - 6, y: Y(t) + 3, "text-anchor": "end" }, label(t)));
  }
  const xFormat = opts.xFormat || label;
  const xt = ticks(x0, x1, 6).filter((t) => !opts.integerX || Number.isInteger(t));
  for (const t of xt) {
    axes.append(s("line", { x1: X(t), x2: X(t), y1: m.top + plotH, y2: m.top + plotH + 4 }));
    axes.append(s("text", { x: X(t), y: m.top + plotH + 15, "text-anchor": "middle" }, xFormat(t)));
  }
  axes.append(s("path", { d: `M${m.left},${m.top}V${m.top + plotH}H${width - m.right}`, fill: "none" }));
  if (opts.xLabel) {
    axes.append(s("text", { x: m.left + plotW / 2, y: height - 4, "text-anchor": "middle" }, opts.xLabel));
  }
  svg.append(grid, axes);

  clean.forEach((one, i) => {
    const color = one.color || COLORS[i % COLORS.length];
    const group = s("g", { class: "series", "data-name": one.name, "data-points": one.points.length });
    const drawn = thin(one.points);
    const d = drawn.map((p, j) => `${j ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    group.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 1.6 }));
    if (one.points.length <= MAX_MARKED) {
      for (const p of one.points) {
        group.append(s("circle", { class: "point", cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: 2.6, fill: color },
          s("title", {}, `${one.name ? `${one.name} · ` : ""}${opts.xLabel || "x"} ${xFormat(p[0])}: ${p[1]}`)));
      }
    }
    svg.append(group);
  });
  return svg;
}

/** A legend for the series of a chart. */
export function legend(names) {
  const box = document.createElement("div");
  box.className = "legend";
  names.forEach((name, i) => {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLORS[i % COLORS.length];
    item.append(swatch, name);
    box.append(item);
  });
  return box;
}
