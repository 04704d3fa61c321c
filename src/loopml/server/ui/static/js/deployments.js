// Deployments and monitors: what serves which model version, and each monitor's recent
// windows with the share of drifted columns drawn over time.
import { api } from "./api.js";
import { h, fill, empty, errorBox, fmtTime, fmtNumber, badge, section, later, table, enc } from "./dom.js";
import { lineChart } from "./chart.js";

const WINDOWS = 200; // recent windows shown per monitor

export async function deploymentsPage(view) {
  fill(view, h("h1", {}, "Deployments"), traceForm(),
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

/** Look up one served prediction by its deployment and request id (its X-Request-ID). */
function traceForm() {
  const deployment = h("input", {
    type: "text", id: "trace-deployment", "aria-label": "Deployment", placeholder: "deployment",
    spellcheck: "false", autocomplete: "off", required: true,
  });
  const request = h("input", {
    type: "text", id: "trace-request", "aria-label": "Request id", placeholder: "request id (X-Request-ID)",
    spellcheck: "false", autocomplete: "off", required: true,
  });
  const form = h("form", { class: "toolbar", id: "trace-form" }, deployment, request,
    h("button", { type: "submit", class: "primary" }, "Trace a prediction"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const d = deployment.value.trim();
    const r = request.value.trim();
    if (d && r) location.hash = `#/trace/${enc(d)}/${enc(r)}`;
  });
  return form;
}

/** A served prediction traced to its model version, run, data versions and code commit. */
export async function tracePage(view, [deployment, requestId]) {
  const crumbs = h("div", { class: "crumbs" }, h("a", { href: "#/deployments" }, "Deployments"), ` / ${deployment} / trace`);
  let trace;
  try {
    trace = await api(`/deployments/${enc(deployment)}/requests/${enc(requestId)}/trace`);
  } catch (error) {
    fill(view, crumbs, h("h1", {}, `Request ${requestId}`), errorBox(error, "Could not trace this request"));
    return;
  }
  const rows = trace.rows || [];
  const first = rows[0] || {};
  const model = trace.model_uri ? /^models:\/(.+)\/(\d+)$/.exec(trace.model_uri) : null;
  const columns = Object.keys(first).filter((k) => k.startsWith("output.") || k.startsWith("input."));
  fill(view, crumbs, h("h1", {}, `Request ${requestId}`),
    h("dl", { class: "facts", id: "trace-facts" },
      h("dt", {}, "Deployment"), h("dd", {}, deployment),
      h("dt", {}, "Time"), h("dd", {}, String(first.timestamp || "")),
      h("dt", {}, "Route"), h("dd", {}, String(first.route || "")),
      h("dt", {}, "Status"), h("dd", {}, String(first.status ?? "")),
      h("dt", {}, "Model version"), h("dd", { id: "trace-model" }, model
        ? h("a", { href: `#/models/${enc(model[1])}` }, trace.model_uri) : (first.model_name || "not registered")),
      h("dt", {}, "Training run"), h("dd", { id: "trace-run" }, trace.run_id
        ? h("a", { href: `#/runs/${enc(trace.run_id)}`, class: "mono" }, trace.run_id) : "unknown"),
      h("dt", {}, "Code"), h("dd", { id: "trace-commit", class: "mono" }, trace.git_commit
        ? `${trace.git_commit}${trace.git_dirty === "true" ? " (with uncommitted changes)" : ""} ${trace.entry_point || ""}`
        : "no commit recorded")),
    section("Data the model was trained on", (trace.datasets || []).length
      ? table(["Dataset version", "Role", "BLAKE3 digest"], trace.datasets.map((d) => {
        const name = /^datasets:\/([^/]+)\//.exec(d.uri);
        return [h("td", {}, name ? h("a", { href: `#/datasets/${enc(name[1])}` }, d.uri) : d.uri),
          d.role || "input", { value: d.digest, class: "mono" }];
      }), { class: "trace-data" })
      : empty("The training run recorded no dataset versions.")),
    section("Parameters", Object.keys(trace.params || {}).length
      ? table(["Key", "Value"], Object.entries(trace.params).sort().map(([k, v]) => [k, v]))
      : empty("No parameters recorded.")),
    section(`Logged rows (${rows.length})`, table(["Row", ...columns], rows.map((r) => [
      String(r.row), ...columns.map((c) => (r[c] === null || r[c] === undefined ? "" : String(r[c])))]),
    { class: "trace-rows" })));
}
