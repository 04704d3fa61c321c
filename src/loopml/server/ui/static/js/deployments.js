// Deployments and monitors: what serves which model version, and each monitor's recent
// windows with the share of drifted columns drawn over time.
import { api } from "./api.js";
import { h, fill, empty, errorBox, fmtTime, fmtNumber, badge, section, later, table, enc } from "./dom.js";
import { lineChart } from "./chart.js";

const WINDOWS = 200; // recent windows shown per monitor

export async function deploymentsPage(view) {
  fill(view, h("h1", {}, "Deployments"),
    later(api("/deployments"), ({ deployments }) => (deployments.length
      ? table(["Name", "Model versions (traffic)", "Revision", "Endpoint", "Last update", "By"], deployments.map((d) => [
        d.name, h("td", { class: "wrap" }, versionsOf(d)), String(d.revision),
        { value: d.endpoint && d.endpoint.url ? d.endpoint.url : "", class: "mono" },
        fmtTime(d.last_update_time), d.actor]), { class: "deployments" })
      : empty("No deployments yet (`loopml deploy create`).")), "Could not list the deployments"),
    h("h2", {}, "Monitors"),
    later(api("/monitors"), ({ monitors }) => (monitors.length
      ? table(["Name", "Deployment", "Reference", "Window", "Created"], monitors.map((m) => [
        h("a", { href: `#/monitors/${enc(m.name)}` }, m.name), m.deployment, m.reference,
        `${m.window}s`, fmtTime(m.creation_time)]), { class: "monitors" })
      : empty("No monitors yet (`loopml monitor create`).")), "Could not list the monitors"));
}

function versionsOf(deployment) {
  const spec = deployment.spec || {};
  const versions = deployment.versions || {};
  const line = (route, uri, extra) => {
    const v = versions[route];
    const concrete = v && typeof v === "object" && v.name ? `${v.name} v${v.version}` : "";
    return h("div", { "data-route": route }, h("span", { class: "muted" }, `${route}: `), uri,
      concrete && concrete !== uri ? h("span", { class: "muted" }, ` (${concrete})`) : null, extra);
  };
  return [
    spec.model ? line("primary", String(spec.model)) : null,
    spec.canary ? line("canary", String(spec.canary), h("span", { class: "muted" }, ` ${spec.canary_weight ?? ""}%`)) : null,
    spec.shadow ? line("shadow", String(spec.shadow)) : null,
  ];
}

export async function monitorPage(view, [name]) {
  let monitor;
  let results;
  try {
    [monitor, { results }] = await Promise.all([api(`/monitors/${enc(name)}`),
      api(`/monitors/${enc(name)}/windows`, { query: { limit: WINDOWS } })]);
  } catch (error) {
    fill(view, h("h1", {}, name), errorBox(error, "Could not load this monitor"));
    return;
  }
  const drift = results.filter((r) => r.summary && r.summary.drift && typeof r.summary.drift.share === "number");
  const threshold = drift.length ? drift[0].summary.drift.drift_share : null;
  const points = drift.map((r) => [r.window_start, r.summary.drift.share]);
  const series = [{ name: "drifted share", points }];
  if (typeof threshold === "number" && points.length) {
    series.push({ name: "threshold", points: points.map(([x]) => [x, threshold]), color: "#b3261e" });
  }
  const dayFormat = (ms) => fmtTime(ms).slice(5, 16);
  fill(view, h("div", { class: "crumbs" }, h("a", { href: "#/deployments" }, "Deployments"), " / monitors"),
    h("h1", {}, monitor.name),
    h("dl", { class: "facts" }, h("dt", {}, "Deployment"), h("dd", {}, monitor.deployment),
      h("dt", {}, "Reference"), h("dd", {}, monitor.reference), h("dt", {}, "Window"), h("dd", {}, `${monitor.window}s`)),
    section("Drift over windows", points.length
      ? h("figure", { class: "chart", id: "drift-chart" }, lineChart(series, { xLabel: "window start", xFormat: dayFormat }))
      : empty("No checked windows with a drift result yet.")),
    section(`Recent windows (newest first, up to ${WINDOWS})`, results.length
      ? table(["Window start", "Window end", "Status", "Rows", "Drifted share", "Drifted columns", "Run"], results.map((r) => {
        const d = (r.summary && r.summary.drift) || {};
        return [fmtTime(r.window_start), fmtTime(r.window_end), h("td", {}, badge(r.status)), String(r.rows),
          { value: typeof d.share === "number" ? fmtNumber(d.share) : "", class: "num" },
          { value: (d.drifted_columns || []).join(", "), class: "wrap" },
          h("td", {}, r.run_id ? h("a", { href: `#/runs/${enc(r.run_id)}`, class: "mono" }, r.run_id.slice(0, 12)) : "")];
      }), { class: "windows" })
      : empty("No windows checked yet (`loopml monitor run`).")));
}
