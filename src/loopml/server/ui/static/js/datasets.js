// Datasets, and one dataset: its versions with files, rows and profile summary.
import { api } from "./api.js";
import { h, fill, empty, errorBox, fmtTime, fmtBytes, fmtNumber, section, later, table, route, enc } from "./dom.js";

export async function datasetsPage(view, _args, query) {
  const name = query.get("name") || "";
  const form = h("form", { class: "toolbar", role: "search" },
    h("input", { type: "search", name: "name", value: name, placeholder: "Name contains…", "aria-label": "Dataset name" }),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = route("/datasets", { name: form.elements.name.value.trim() });
  });
  fill(view, h("h1", {}, "Datasets"), form, later(
    api("/datasets", { query: { name_like: name ? `%${name}%` : null } }),
    ({ datasets }) => (datasets.length ? table(["Name", "Latest version", "Last update", "Description"],
      datasets.map((d) => [h("a", { href: `#/datasets/${enc(d.name)}` }, d.name), `v${d.latest_version}`,
        fmtTime(d.last_update_time), { value: d.description, class: "wrap" }]), { class: "datasets" })
      : empty(name ? `No dataset's name contains “${name}”.` : "No datasets yet. Version one with `loopml data add`.")),
    "Could not list the datasets"));
}

export async function datasetPage(view, [name], query) {
  let dataset;
  let versions;
  try {
    [dataset, { versions }] = await Promise.all([
      api(`/datasets/${enc(name)}`), api(`/datasets/${enc(name)}/versions`)]);
  } catch (error) {
    fill(view, h("h1", {}, name), errorBox(error, "Could not load this dataset"));
    return;
  }
  document.title = `${dataset.name} · loopml`;
  const chosen = Number(query.get("version")) || (versions[0] && versions[0].version);
  const profileBox = h("div");
  fill(view, h("div", { class: "crumbs" }, h("a", { href: "#/datasets" }, "Datasets"), " /"),
    h("h1", {}, dataset.name),
    dataset.description ? h("p", { class: "wrap" }, dataset.description) : null,
    section("Versions", versions.length ? table(
      ["Version", "Kind", "Files", "Rows", "Size", "Created", "Created by", "Run", "Source", ""],
      versions.map((v) => ({ attrs: { class: v.version === chosen ? "chosen" : null }, cells: [
        `v${v.version}`, v.kind, { value: String(v.file_count), class: "num" },
        { value: v.rows === null ? "" : v.rows.toLocaleString(), class: "num" }, { value: fmtBytes(v.size), class: "num" },
        fmtTime(v.creation_time), v.created_by,
        h("td", {}, v.run_id ? h("a", { href: `#/runs/${enc(v.run_id)}`, class: "mono" }, v.run_id.slice(0, 12)) : ""),
        { value: v.source, class: "wrap" },
        h("td", {}, v.profile ? h("a", { href: route(`/datasets/${enc(name)}`, { version: v.version }) }, "profile") : ""),
      ] })), { class: "dataset-versions" }) : empty("No versions.")),
    profileBox);
  const version = versions.find((v) => v.version === chosen);
  if (version) fill(profileBox, section(`Profile of v${version.version}`, profile(version)));
}

function profile(version) {
  const columns = (version.profile && version.profile.columns) || [];
  if (!columns.length) return empty("This version has no profile (folders of files are not profiled).");
  return table(["Column", "Type", "Kind", "Nulls", "Distinct", "Min", "Max", "Mean", "Std", "Top values"],
    columns.map((c) => [c.name, c.type, c.kind,
      { value: c.count ? `${c.nulls} (${((100 * c.nulls) / c.count).toFixed(1)}%)` : String(c.nulls), class: "num" },
      { value: c.distinct ?? "", class: "num" }, show(c.min), show(c.max), show(c.mean), show(c.std),
      { value: (c.top || []).slice(0, 5).map(([v, n]) => `${v} (${n})`).join(", "), class: "wrap" }]),
    { class: "profile" });
}

function show(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "number" ? { value: fmtNumber(value), class: "num" } : String(value);
}
