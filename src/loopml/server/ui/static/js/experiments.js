// The experiments list.
import { api } from "./api.js";
import { h, fill, empty, errorBox, fmtTime, route, enc } from "./dom.js";
import { Pager } from "./pager.js";

const pager = new Pager();

export async function experimentsPage(view, _args, query) {
  const name = query.get("name") || "";
  const deleted = query.get("view") === "deleted_only";
  const size = 100;
  const form = h("form", { class: "toolbar", role: "search" },
    h("input", { type: "search", name: "name", value: name, "aria-label": "Experiment name",
      placeholder: "Name contains…" }),
    h("label", {}, h("input", { type: "checkbox", name: "deleted", checked: deleted }), " deleted"),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = route("/experiments", {
      name: form.elements.name.value.trim(), view: form.elements.deleted.checked ? "deleted_only" : "",
    });
  });
  const results = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  fill(view, h("h1", {}, "Experiments"), form, results);

  const key = `${name}|${deleted}`;
  const page = pager.page(key, query);
  let answer;
  try {
    answer = await api("/experiments", {
      query: {
        max_results: size, page_token: pager.token(key, page),
        name_like: name ? `%${name}%` : null, view: deleted ? "deleted_only" : "active_only",
      },
    });
  } catch (error) {
    fill(results, errorBox(error, "Could not list the experiments"));
    return;
  }
  pager.remember(key, page, answer.next_page_token);
  const rows = answer.experiments;
  if (!rows.length) {
    fill(results, empty(page ? "No more experiments." : name ? `No experiment's name contains “${name}”.`
      : "No experiments yet. Log a run (lm.start_run()) against this server and it shows up here."));
    return;
  }
  const body = rows.map((e) => h("tr", {},
    h("td", {}, h("a", { href: `#/experiments/${enc(e.experiment_id)}` }, e.name)),
    h("td", { class: "mono" }, e.experiment_id),
    h("td", {}, fmtTime(e.creation_time)),
    h("td", {}, fmtTime(e.last_update_time)),
    h("td", { class: "wrap" }, Object.entries(e.tags || {}).filter(([k]) => !k.startsWith("loopml."))
      .map(([k, v]) => `${k}=${v}`).join(", "))));
  fill(results,
    h("div", { class: "table-wrap" }, h("table", { id: "experiments" },
      h("thead", {}, h("tr", {}, ["Name", "ID", "Created", "Last update", "Tags"].map((x) => h("th", {}, x)))),
      h("tbody", {}, body))),
    pager.controls(key, page, answer.next_page_token, rows.length, size));
}
