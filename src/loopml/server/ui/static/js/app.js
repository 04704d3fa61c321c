// The web UI's router: the part of the address after # names the page (#/runs/<id>), so
// every page has a link of its own and the server serves one static file.
import { forgetToken, showSignOut } from "./api.js";
import { h, fill, errorBox } from "./dom.js";
import { experimentsPage } from "./experiments.js";
import { runsPage } from "./runs.js";
import { runPage } from "./run.js";
import { comparePage } from "./compare.js";
import { modelsPage, modelPage } from "./models.js";
import { datasetsPage, datasetPage } from "./datasets.js";
import { deploymentsPage, monitorPage, tracePage } from "./deployments.js";

const ROUTES = [
  [/^\/experiments$/, experimentsPage, "experiments"],
  [/^\/experiments\/([^/]+)$/, runsPage, "experiments"],
  [/^\/runs\/([^/]+)$/, runPage, "experiments"],
  [/^\/compare$/, comparePage, "experiments"],
  [/^\/models$/, modelsPage, "models"],
  [/^\/models\/([^/]+)$/, modelPage, "models"],
  [/^\/datasets$/, datasetsPage, "datasets"],
  [/^\/datasets\/([^/]+)$/, datasetPage, "datasets"],
  [/^\/deployments$/, deploymentsPage, "deployments"],
  [/^\/monitors\/([^/]+)$/, monitorPage, "deployments"],
  [/^\/trace\/([^/]+)\/([^/]+)$/, tracePage, "deployments"],
];

function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

async function render() {
  const [path, search] = (location.hash.replace(/^#/, "") || "/").split("?");
  if (path === "/" || path === "") {
    location.replace("#/experiments");
    return;
  }
  const main = document.getElementById("main");
  const view = h("div", { class: "view" });
  main.replaceChildren(view);
  document.title = "loopml";
  for (const [pattern, page, section] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const a of document.querySelectorAll("header nav a")) {
      a.classList.toggle("active", a.dataset.section === section);
    }
    try {
      await page(view, match.slice(1).map(decode), new URLSearchParams(search || ""));
    } catch (error) {
      view.append(errorBox(error, "This page failed"));
    }
    return;
  }
  fill(view, h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "#/experiments" }, "Go to the experiments.")));
}

document.getElementById("sign-out").addEventListener("click", () => {
  forgetToken();
  render();
});
showSignOut();
window.addEventListener("hashchange", render);
render();
