// One run: what it is, its params, metrics (with charts), tags, data, artifacts, family.
import { BASE, api, download, token } from "./api.js";
import {
  h, fill, empty, errorBox, fmtTime, fmtNumber, fmtBytes, runDuration, badge, section, later,
  table, enc, route,
} from "./dom.js";
import { history, metricChart } from "./metrics.js";
import { quoteKey } from "./runs.js";

const PARENT = "loopml.parentRunId";
const MAX_CHARTS = 30; // charts drawn at once; more on request

export async function runPage(view, [runId]) {
  let run;
  try {
    run = await api(`/runs/${enc(runId)}`);
  } catch (error) {
    fill(view, h("h1", {}, "Run"), errorBox(error, "Could not load this run"));
    return;
  }
  const { info, data } = run;
  document.title = `${info.run_name || info.run_id} · loopml`;
  const crumbs = h("div", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / ",
    h("a", { href: `#/experiments/${enc(info.experiment_id)}`, id: "experiment-link" }, `experiment ${info.experiment_id}`));
  api(`/experiments/${enc(info.experiment_id)}`).then((exp) => {
    crumbs.querySelector("#experiment-link").textContent = exp.name;
  }, () => {});

  const parent = data.tags[PARENT];
  const facts = h("dl", { class: "facts" },
    fact("Run ID", h("span", { class: "mono" }, info.run_id)),
    fact("Status", badge(info.status)),
    fact("Started", fmtTime(info.start_time)),
    fact("Ended", fmtTime(info.end_time)),
    fact("Duration", runDuration(info)),
    fact("User", info.user_id),
    fact("Artifact URI", h("span", { class: "mono" }, info.artifact_uri)),
    parent ? fact("Parent run", h("a", { href: `#/runs/${enc(parent)}`, id: "parent-link" }, parent)) : null,
    info.lifecycle_stage === "deleted" ? fact("Deleted", "yes (restore with `loopml runs restore`)") : null);

  const params = Object.entries(data.params).sort(([a], [b]) => a.localeCompare(b));
  const metrics = Object.entries(data.metrics).sort(([a], [b]) => a.localeCompare(b));
  const tags = Object.entries(data.tags).sort(([a], [b]) => a.localeCompare(b));
  const userTags = tags.filter(([k]) => !k.startsWith("loopml.") && !k.startsWith("mlflow."));
  const systemTags = tags.filter(([k]) => k.startsWith("loopml.") || k.startsWith("mlflow."));

  const charts = h("div", { class: "charts", id: "metric-charts" });
  const drawCharts = (keys) => keys.forEach((key) => {
    const box = h("div", {}, h("p", { class: "muted" }, `Loading ${key}…`));
    charts.append(box);
    history(info.run_id, key).then(
      (hist) => box.replaceWith(metricChart(key, [{ name: info.run_name || info.run_id, history: hist }])),
      (error) => fill(box, errorBox(error, `Could not load the history of ${key}`)),
    );
  });
  const keys = metrics.map(([k]) => k);
  drawCharts(keys.slice(0, MAX_CHARTS));
  const more = keys.length > MAX_CHARTS
    ? h("button", { type: "button", onclick: (event) => { event.target.remove(); drawCharts(keys.slice(MAX_CHARTS)); } },
      `Draw the other ${keys.length - MAX_CHARTS} charts`)
    : null;

  fill(view, crumbs, h("h1", { id: "run-name" }, info.run_name || info.run_id), facts,
    h("div", { class: "split" },
      section("Parameters", params.length ? table(["Key", "Value"], params.map(([k, v]) => [k, { value: v, class: "wrap" }]), { class: "params" })
        : empty("No parameters.")),
      section("Metrics (latest)", metrics.length
        ? table(["Key", "Value"], metrics.map(([k, v]) => [k, { value: fmtNumber(v), class: "num", title: String(v) }]), { class: "metrics" })
        : empty("No metrics."))),
    metrics.length ? section("Metric history", charts, more) : null,
    section("Tags", userTags.length ? table(["Key", "Value"], userTags.map(([k, v]) => [k, { value: v, class: "wrap" }]), { class: "tags" })
      : empty("No tags."),
    systemTags.length ? h("details", {}, h("summary", {}, `System tags (${systemTags.length})`),
      table(["Key", "Value"], systemTags.map(([k, v]) => [k, { value: v, class: "wrap" }]))) : null),
    section("Datasets and lineage", later(api("/lineage", { query: { run_id: info.run_id } }), lineage, "Could not load the lineage")),
    section("Artifacts", later(api(`/runs/${enc(info.run_id)}/artifacts`), artifacts, "Could not list the artifacts")),
    section("Registered model versions", later(
      api("/model-versions", { query: { run_id: info.run_id, max_results: 100 } }), versions, "Could not list the model versions")),
    section("Child runs", later(children(info), childTable, "Could not list the child runs")));
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value)];
}

/** A datasets:/ URI as a link to the dataset's page, other URIs as text. */
export function uriLink(uri) {
  const match = /^datasets:\/([^/@]+)(?:[/@](\d+|latest))?$/.exec(uri);
  if (match) return h("a", { href: `#/datasets/${enc(match[1])}` }, uri);
  const model = /^models:\/([^/@]+)/.exec(uri);
  if (model) return h("a", { href: `#/models/${enc(model[1])}` }, uri);
  const runs = /^runs:\/([0-9a-f]{32})/.exec(uri);
  if (runs) return h("a", { href: `#/runs/${runs[1]}` }, uri);
  return h("span", { class: "mono" }, uri);
}

function lineage(answer) {
  const edges = answer.edges;
  if (!edges.length) return empty("This run recorded no dataset inputs or outputs.");
  const rows = edges.map((e) => [e.direction, uriLink(e.uri), e.role, fmtTime(e.time)]);
  return table(["Direction", "URI", "Role", "Recorded"], rows, { class: "lineage" });
}

function artifacts(answer) {
  const records = answer.records;
  if (!records.length) return empty("No artifacts.");
  const rows = records.map(([path, digest, size]) => {
    const name = path.split("/").pop();
    const a = h("a", { href: `${BASE}/blobs/${enc(digest)}`, download: name, class: "download" }, "download");
    a.addEventListener("click", (event) => {
      if (!token()) return; // no token: the plain link streams the file
      event.preventDefault();
      download(digest, name).catch((error) => a.replaceWith(errorBox(error, "Could not download")));
    });
    return [{ value: path, class: "wrap" }, { value: fmtBytes(size), class: "num" },
      h("td", { class: "mono", title: digest }, digest.slice(0, 12)), h("td", {}, a)];
  });
  return table(["Path", "Size", "Digest", ""], rows, { class: "artifacts" });
}

function versions(answer) {
  const found = answer.model_versions;
  if (!found.length) return empty("No model version was registered from this run.");
  return table(["Model", "Version", "Status", "Aliases"], found.map((v) => [
    h("a", { href: `#/models/${enc(v.name)}` }, v.name), String(v.version), h("td", {}, badge(v.status)),
    h("td", {}, v.aliases.map((a) => badge(a, "alias")))]));
}

async function children(info) {
  const answer = await api("/runs/search", {
    method: "POST",
    body: {
      experiment_ids: [info.experiment_id], filter: `tags.${quoteKey(PARENT)} = '${info.run_id}'`,
      max_results: 200, order_by: ["attributes.start_time ASC"],
    },
  });
  return { items: answer.runs, truncated: Boolean(answer.next_page_token) };
}

function childTable({ items, truncated }) {
  if (!items.length) return empty("No child runs.");
  return [table(["Run", "Status", "Started", "Duration"], items.map((r) => [
    h("a", { href: `#/runs/${enc(r.info.run_id)}` }, r.info.run_name || r.info.run_id), h("td", {}, badge(r.info.status)),
    fmtTime(r.info.start_time), runDuration(r.info)]), { class: "children" }),
  truncated ? h("p", { class: "muted" }, h("a", {
    href: route(`/experiments/${enc(items[0].info.experiment_id)}`, { filter: `tags.${quoteKey(PARENT)} = '${items[0].data.tags[PARENT]}'` }),
  }, "More child runs in the experiment…")) : null];
}
