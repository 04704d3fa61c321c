// Runs side by side: params and latest metrics with differences marked, metric histories
// overlaid on one chart per metric.
import { api } from "./api.js";
import { h, fill, empty, errorBox, fmtTime, fmtNumber, runDuration, badge, section, enc } from "./dom.js";
import { history, metricChart } from "./metrics.js";

const MAX_RUNS = 20;

export async function comparePage(view, _args, query) {
  const ids = [...new Set((query.get("runs") || "").split(",").map((x) => x.trim()).filter(Boolean))];
  fill(view, h("h1", {}, "Compare runs"));
  if (ids.length < 2) {
    view.append(empty("Pick two or more runs in an experiment's runs table, then press “Compare selected”."));
    return;
  }
  if (ids.length > MAX_RUNS) {
    view.append(errorBox(`at most ${MAX_RUNS} runs can be compared at once; ${ids.length} were picked`));
    return;
  }
  const answers = await Promise.allSettled(ids.map((id) => api(`/runs/${enc(id)}`)));
  const failed = answers.map((a, i) => [a, ids[i]]).filter(([a]) => a.status === "rejected");
  for (const [answer, id] of failed) view.append(errorBox(answer.reason, `Run ${id}`));
  const runs = answers.filter((a) => a.status === "fulfilled").map((a) => a.value);
  if (runs.length < 2) {
    view.append(empty("Fewer than two of these runs could be loaded: nothing to compare."));
    return;
  }
  const names = runs.map((r) => r.info.run_name || r.info.run_id.slice(0, 8));
  const onlyDiff = h("input", { type: "checkbox", id: "only-differences" });
  const tables = h("div");
  const draw = () => fill(tables,
    section("Parameters", comparison(runs, names, (r) => r.data.params, (v) => v, onlyDiff.checked, "params")),
    section("Metrics (latest)", comparison(runs, names, (r) => r.data.metrics, fmtNumber, onlyDiff.checked, "metrics")));
  onlyDiff.addEventListener("change", draw);

  const head = h("tr", {}, h("th", {}, ""), runs.map((r, i) => h("th", {},
    h("a", { href: `#/runs/${enc(r.info.run_id)}` }, names[i]))));
  const attr = (label, get) => h("tr", {}, h("th", {}, label), runs.map((r) => h("td", {}, get(r))));
  view.append(
    h("div", { class: "table-wrap" }, h("table", { id: "compare-runs" }, h("thead", {}, head), h("tbody", {},
      attr("Run ID", (r) => h("span", { class: "mono" }, r.info.run_id)),
      attr("Status", (r) => badge(r.info.status)),
      attr("Started", (r) => fmtTime(r.info.start_time)),
      attr("Duration", (r) => runDuration(r.info)),
      attr("User", (r) => r.info.user_id)))),
    h("p", {}, h("label", {}, onlyDiff, " show only rows that differ")),
    tables);
  draw();

  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.data.metrics)))].sort();
  const charts = h("div", { class: "charts", id: "compare-charts" });
  view.append(section("Metric history", keys.length ? charts : empty("None of these runs logged metrics.")));
  for (const key of keys) {
    const box = h("div", {}, h("p", { class: "muted" }, `Loading ${key}…`));
    charts.append(box);
    const having = runs.map((r, i) => [r, names[i]]).filter(([r]) => key in r.data.metrics);
    Promise.all(having.map(([r]) => history(r.info.run_id, key))).then(
      (hists) => box.replaceWith(metricChart(key, hists.map((hist, i) => ({ name: having[i][1], history: hist })))),
      (error) => fill(box, errorBox(error, `Could not load the history of ${key}`)),
    );
  }
}

function comparison(runs, names, get, show, onlyDifferent, kind) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(get(r))))].sort();
  if (!keys.length) return empty(`None of these runs has ${kind}.`);
  const rows = [];
  for (const key of keys) {
    const values = runs.map((r) => (key in get(r) ? String(get(r)[key]) : null));
    const differs = new Set(values).size > 1;
    if (onlyDifferent && !differs) continue;
    rows.push(h("tr", { class: differs ? "diff" : null, "data-key": key, title: differs ? "values differ" : null },
      h("th", {}, key, differs ? h("span", { class: "muted small" }, " ≠") : null),
      values.map((v) => h("td", { class: kind === "metrics" ? "num" : "wrap", title: v ?? "missing" },
        v === null ? h("span", { class: "muted" }, "—") : show(v)))));
  }
  if (!rows.length) return empty(`Every ${kind === "params" ? "parameter" : "metric"} is the same in these runs.`);
  return h("div", { class: "table-wrap" }, h("table", { class: `compare-${kind}` },
    h("thead", {}, h("tr", {}, h("th", {}, "Key"), names.map((n) => h("th", {}, n)))), h("tbody", {}, rows)));
}
