// Metric histories, fetched a page at a time, and their charts.
import { all } from "./api.js";
import { h, enc, toNumber, fmtTime } from "./dom.js";
import { lineChart, legend } from "./chart.js";

const POINT_LIMIT = 200000; // points fetched per metric and run; beyond that the chart says so

/** Every point of one metric of one run, as {points: [[step, value, timestamp]], truncated}. */
export async function history(runId, key) {
  const { items, truncated } = await all(`/runs/${enc(runId)}/metrics/history`, "metrics", {
    query: { key }, pageSize: 10000, limit: POINT_LIMIT,
  });
  return { points: items.map(([, value, timestamp, step]) => [step, toNumber(value), timestamp]), truncated };
}

/** A chart of one metric: one series per run ([{name, history}]). */
export function metricChart(key, series) {
  const singleStep = series.every((one) => one.history.points.every((p) => p[0] === one.history.points[0]?.[0]));
  // a metric logged without steps (all at step 0) is drawn against its time instead
  const byTime = singleStep && series.some((one) => one.history.points.length > 1);
  let start = Infinity;
  for (const one of series) for (const p of one.history.points) if (p[2] < start) start = p[2];
  const chart = lineChart(series.map((one) => ({
    name: one.name,
    points: one.history.points.map((p) => (byTime ? [(p[2] - start) / 1000, p[1]] : [p[0], p[1]])),
  })), {
    xLabel: byTime ? `seconds after ${fmtTime(start)}` : "step", integerX: !byTime, title: key,
  });
  const notes = series.filter((one) => one.history.truncated)
    .map((one) => `${one.name}: only the first ${POINT_LIMIT.toLocaleString()} points are drawn`);
  const count = series.reduce((n, one) => n + one.history.points.length, 0);
  return h("figure", { class: "chart", "data-metric": key },
    h("h3", {}, key, h("span", { class: "muted small" }, ` · ${count.toLocaleString()} point${count === 1 ? "" : "s"}`)),
    chart,
    series.length > 1 ? legend(series.map((one) => one.name)) : null,
    notes.map((note) => h("p", { class: "muted small" }, note)));
}
