// Registered models, and one model: versions, aliases, audit log.
import { all, api } from "./api.js";
import { h, fill, empty, errorBox, fmtTime, badge, section, later, table, route, enc } from "./dom.js";
import { Pager } from "./pager.js";
import { uriLink } from "./run.js";

const pager = new Pager();
const versionPager = new Pager();

export async function modelsPage(view, _args, query) {
  const name = query.get("name") || "";
  const size = 100;
  const form = h("form", { class: "toolbar", role: "search" },
    h("input", { type: "search", name: "name", value: name, placeholder: "Name contains…", "aria-label": "Model name" }),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = route("/models", { name: form.elements.name.value.trim() });
  });
  const results = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  fill(view, h("h1", {}, "Registered models"), form, results);
  const page = pager.page(name, query);
  let answer;
  try {
    answer = await api("/registered-models", {
      query: { max_results: size, page_token: pager.token(name, page), name_like: name ? `%${name}%` : null },
    });
  } catch (error) {
    fill(results, errorBox(error, "Could not list the models"));
    return;
  }
  pager.remember(name, page, answer.next_page_token);
  const models = answer.registered_models;
  if (!models.length) {
    fill(results, empty(page ? "No more models." : name ? `No model's name contains “${name}”.`
      : "No registered models yet. Register one with `loopml models register` or lm.registry.register()."));
    return;
  }
  fill(results, table(["Name", "Latest version", "Aliases", "Last update", "Description"], models.map((m) => [
    h("a", { href: `#/models/${enc(m.name)}` }, m.name), m.latest_version ?? "",
    h("td", {}, aliasBadges(m.aliases)), fmtTime(m.last_update_time), { value: m.description, class: "wrap" }]),
  { class: "models" }), pager.controls(name, page, answer.next_page_token, models.length, size));
}

function aliasBadges(aliases) {
  return Object.entries(aliases || {}).sort().map(([alias, version]) => badge(`${alias} → v${version}`, "alias"));
}

export async function modelPage(view, [name], query) {
  let model;
  try {
    model = await api(`/registered-models/${enc(name)}`);
  } catch (error) {
    fill(view, h("h1", {}, name), errorBox(error, "Could not load this model"));
    return;
  }
  document.title = `${model.name} · loopml`;
  const tags = Object.entries(model.tags).sort();
  const aliases = Object.entries(model.aliases).sort();
  fill(view, h("div", { class: "crumbs" }, h("a", { href: "#/models" }, "Models"), " /"),
    h("h1", { id: "model-name" }, model.name),
    model.description ? h("p", { class: "wrap" }, model.description) : null,
    h("dl", { class: "facts" }, h("dt", {}, "Created"), h("dd", {}, fmtTime(model.creation_time)),
      h("dt", {}, "Last update"), h("dd", {}, fmtTime(model.last_update_time)),
      h("dt", {}, "Latest version"), h("dd", {}, model.latest_version ?? "none")),
    h("div", { class: "split" },
      section("Aliases", aliases.length ? table(["Alias", "Version"], aliases.map(([a, v]) => [
        h("td", {}, badge(a, "alias")), `v${v}`]), { class: "aliases" }) : empty("No aliases.")),
      section("Tags", tags.length ? table(["Key", "Value"], tags.map(([k, v]) => [k, { value: v, class: "wrap" }]))
        : empty("No tags."))),
    section("Versions", versionsBox(model.name, query)),
    section("Audit log", auditBox(model.name)));
}

function versionsBox(name, query) {
  const size = 50;
  const key = `v|${name}`;
  const page = versionPager.page(key, query);
  return later(api("/model-versions", { query: { name, max_results: size, page_token: versionPager.token(key, page) } }),
    (answer) => {
      versionPager.remember(key, page, answer.next_page_token);
      const found = answer.model_versions;
      if (!found.length) return empty("No versions yet.");
      return [table(["Version", "Status", "Aliases", "Created", "Created by", "Source", "Run", "Description"],
        found.map((v) => ({ attrs: { "data-version": v.version }, cells: [
          `v${v.version}`, h("td", {}, badge(v.status)), h("td", {}, v.aliases.map((a) => badge(a, "alias"))),
          fmtTime(v.creation_time), v.created_by, h("td", { class: "wrap" }, uriLink(v.source)),
          h("td", {}, v.run_id ? h("a", { href: `#/runs/${enc(v.run_id)}`, class: "mono" }, v.run_id.slice(0, 12)) : ""),
          { value: v.description, class: "wrap" }] })), { class: "versions" }),
      versionPager.controls(key, page, answer.next_page_token, found.length, size)];
    }, "Could not list the versions");
}

function auditBox(name) {
  const limit = 1000;
  return later(all("/audit-log", "entries", { query: { name }, pageSize: 500, limit }), ({ items, truncated }) => {
    if (!items.length) return empty("No changes recorded.");
    return [table(["Time", "Actor", "Action", "Version", "Change"], items.map((e) => [
      fmtTime(e.time), e.actor, e.action, e.version === null ? "" : `v${e.version}`,
      { value: change(e.before, e.after), class: "wrap mono" }]), { class: "audit" }),
    truncated ? h("p", { class: "muted" }, `The first ${items.length} changes are shown; `
      + `\`loopml models history ${name}\` lists them all.`) : null];
  }, "Could not read the audit log");
}

function change(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])].sort();
  return keys.filter((k) => JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k]))
    .map((k) => `${k}: ${before && k in before ? JSON.stringify(before[k]) : "—"} → ${after && k in after ? JSON.stringify(after[k]) : "—"}`)
    .join("\n");
}
