// An experiment's runs: search (loopml's / MLflow's filter grammar), sort, page, choose
// columns, select runs to compare.
import { api } from "./api.js";
import {
  h, fill, empty, errorBox, fmtTime, fmtNumber, runDuration, badge, route, enc,
} from "./dom.js";
import { Pager } from "./pager.js";

const pager = new Pager();
const selections = new Map(); // experiment id -> Map(run id -> run name), kept while paging
const SIZES = [25, 50, 100, 250, 500];
const DEFAULT_SHOWN = 8; // params and metrics shown when none were chosen

/** A key as the filter grammar writes it: bare when it is plain words, else `quoted`. */
export function quoteKey(key) {
  if (/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/.test(key)) return key;
  return key.includes("`") ? `"${key.replaceAll('"', '\\"')}"` : `\`${key}\``;
}

function chosenColumns(experimentId) {
  try {
    const saved = JSON.parse(localStorage.getItem(`loopml.columns.${experimentId}`) || "null");
    if (saved && Array.isArray(saved.params) && Array.isArray(saved.metrics)) return saved;
  } catch {
    // a damaged entry: fall back to the default columns
  }
  return null;
}

function saveColumns(experimentId, columns) {
  localStorage.setItem(`loopml.columns.${experimentId}`, JSON.stringify(columns));
}

export async function runsPage(view, [experimentId], query) {
  const filter = query.get("filter") || "";
  const sort = query.get("sort") || "";
  const dir = query.get("dir") === "asc" ? "ASC" : "DESC";
  const size = SIZES.includes(Number(query.get("size"))) ? Number(query.get("size")) : 50;
  const state = { filter, sort, dir: dir.toLowerCase(), size };
  const addressFor = (changes) => route(`/experiments/${enc(experimentId)}`, { ...state, ...changes });

  const heading = h("h1", {}, "Runs");
  const crumbs = h("div", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / ");
  const input = h("input", {
    type: "search", name: "filter", value: filter, id: "run-filter", "aria-label": "Filter runs",
    placeholder: "metrics.rmse < 1 and params.lr = '0.1'", spellcheck: "false", autocomplete: "off",
  });
  const form = h("form", { class: "toolbar", role: "search" }, input,
    h("button", { type: "submit", class: "primary" }, "Search"),
    filter ? h("a", { href: addressFor({ filter: "" }) }, "Clear") : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = addressFor({ filter: input.value.trim() });
  });
  const results = h("div", { id: "runs-results" }, h("p", { class: "muted" }, "Loading…"));
  fill(view, crumbs, heading, form, results);

  api(`/experiments/${enc(experimentId)}`).then(
    (exp) => {
      heading.textContent = exp.name;
      crumbs.append(h("span", { class: "mono" }, `experiment ${exp.experiment_id}`));
      document.title = `${exp.name} · loopml`;
    },
    () => {},
  );

  const key = `${experimentId}|${filter}|${sort}|${dir}|${size}`;
  const page = pager.page(key, query);
  let answer;
  try {
    answer = await api("/runs/search", {
      method: "POST",
      body: {
        experiment_ids: [experimentId], filter, max_results: size,
        order_by: sort ? [`${sort} ${dir}`] : [], page_token: pager.token(key, page),
      },
    });
  } catch (error) {
    const what = error.status === 400 ? "The search was not accepted" : "Could not search the runs";
    fill(results, errorBox(error, what));
    return;
  }
  pager.remember(key, page, answer.next_page_token);
  const runs = answer.runs;
  if (!runs.length) {
    fill(results, empty(page ? "No more runs." : filter ? "No run matches this filter."
      : "No runs in this experiment yet."));
    return;
  }
  const selected = selections.get(experimentId) || new Map();
  selections.set(experimentId, selected);
  const compare = h("button", { type: "button", id: "compare", class: "primary" });
  const updateCompare = () => {
    compare.textContent = `Compare selected (${selected.size})`;
    compare.disabled = selected.size < 2;
  };
  compare.addEventListener("click", () => {
    location.hash = route("/compare", { runs: [...selected.keys()].join(",") });
  });
  updateCompare();

  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.data.params)))].sort();
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.data.metrics)))].sort();
  let columns = chosenColumns(experimentId) || {
    params: paramKeys.slice(0, DEFAULT_SHOWN), metrics: metricKeys.slice(0, DEFAULT_SHOWN),
  };
  const tableBox = h("div");
  const draw = () => fill(tableBox, runsTable(runs, columns, { sort, dir, addressFor, selected, updateCompare }));

  const chooser = h("details", { class: "columns" }, h("summary", {}, "Columns"));
  const lists = h("div", {}, h("div", { class: "columns-grid" },
    checkList("Parameters", [...new Set([...paramKeys, ...columns.params])].sort(), "params"),
    checkList("Metrics", [...new Set([...metricKeys, ...columns.metrics])].sort(), "metrics")));
  chooser.append(lists);
  function checkList(title, keys, kind) {
    return h("div", {}, h("strong", {}, title), keys.length ? keys.map((k) => h("label", {},
      h("input", {
        type: "checkbox", checked: columns[kind].includes(k),
        onchange: (event) => {
          const chosen = new Set(columns[kind]);
          if (event.target.checked) chosen.add(k);
          else chosen.delete(k);
          columns = { ...columns, [kind]: [...chosen].sort() };
          saveColumns(experimentId, columns);
          draw();
        },
      }), ` ${k}`)) : h("p", { class: "muted" }, "none on this page"));
  }
  const sizeSelect = h("select", {
    "aria-label": "Runs per page",
    onchange: (event) => { location.hash = addressFor({ size: event.target.value }); },
  }, SIZES.map((n) => h("option", { value: n, selected: n === size }, `${n} per page`)));

  draw();
  fill(results,
    h("div", { class: "toolbar" }, compare, chooser, sizeSelect,
      sort ? h("span", { class: "muted" }, `sorted by ${sort} ${dir}`) : null),
    tableBox,
    pager.controls(key, page, answer.next_page_token, runs.length, size));
}

function runsTable(runs, columns, { sort, dir, addressFor, selected, updateCompare }) {
  const sortHeader = (text, field, first = "desc") => {
    const active = sort === field;
    const next = active ? (dir === "ASC" ? "desc" : "asc") : first;
    const th = h("th", {
      class: "sortable", title: `Sort by ${field}`, "data-sort": field, tabindex: 0,
      "aria-sort": active ? (dir === "ASC" ? "ascending" : "descending") : "none",
    }, text, active ? h("span", { class: "arrow" }, dir === "ASC" ? " ▲" : " ▼") : null);
    const sortBy = () => { location.hash = addressFor({ sort: field, dir: next }); };
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        sortBy();
      }
    });
    return th;
  };
  const all = h("input", { type: "checkbox", "aria-label": "Select every run on this page" });
  all.checked = runs.every((r) => selected.has(r.info.run_id));
  const boxes = [];
  all.addEventListener("change", () => {
    for (const [box, run] of boxes) {
      box.checked = all.checked;
      if (all.checked) selected.set(run.info.run_id, run.info.run_name);
      else selected.delete(run.info.run_id);
    }
    updateCompare();
  });
  const group = (text, n) => (n ? h("th", { class: "group", colspan: n }, text) : null);
  const head = h("thead", {},
    h("tr", {}, h("th", { colspan: 6 }), group("Parameters", columns.params.length),
      group("Metrics (latest)", columns.metrics.length)),
    h("tr", {}, h("th", {}, all), sortHeader("Run", "attributes.run_name", "asc"),
      sortHeader("Status", "attributes.status", "asc"), sortHeader("Started", "attributes.start_time"),
      h("th", {}, "Duration"), sortHeader("User", "attributes.user_id", "asc"),
      columns.params.map((k) => sortHeader(k, `params.${quoteKey(k)}`, "asc")),
      columns.metrics.map((k) => sortHeader(k, `metrics.${quoteKey(k)}`, "asc"))));
  const body = h("tbody", {}, runs.map((run) => {
    const { info, data } = run;
    const box = h("input", { type: "checkbox", "aria-label": `Select ${info.run_name || info.run_id}`,
      "data-run-id": info.run_id });
    box.checked = selected.has(info.run_id);
    box.addEventListener("change", () => {
      if (box.checked) selected.set(info.run_id, info.run_name);
      else selected.delete(info.run_id);
      updateCompare();
    });
    boxes.push([box, run]);
    const parent = data.tags["loopml.parentRunId"];
    return h("tr", { "data-run-id": info.run_id },
      h("td", {}, box),
      h("td", { class: "run-name", title: info.run_name },
        parent ? h("span", { class: "muted", title: "a child run" }, "↳ ") : null,
        h("a", { href: `#/runs/${enc(info.run_id)}` }, info.run_name || info.run_id.slice(0, 8))),
      h("td", {}, badge(info.status)),
      h("td", {}, fmtTime(info.start_time)),
      h("td", {}, runDuration(info)),
      h("td", {}, info.user_id),
      columns.params.map((k) => h("td", { title: data.params[k] ?? "", "data-param": k }, data.params[k] ?? "")),
      columns.metrics.map((k) => h("td", { class: "num", title: data.metrics[k] ?? "", "data-metric": k },
        k in data.metrics ? fmtNumber(data.metrics[k]) : "")));
  }));
  return h("div", { class: "table-wrap" }, h("table", { id: "runs" }, head, body));
}
