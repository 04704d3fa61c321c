// Building the page. Every value from the server goes in as text (append of a string makes
// a text node; attributes are set with setAttribute), never as HTML: run names, tags and
// params are user input.

/** An element: h("a", {href: "#/x", class: "c"}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

/** Append children (nodes, strings, numbers, arrays; null and false are skipped). */
export function add(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace everything inside an element. */
export function fill(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

/** A table; rows are arrays of cells (a cell is a node, a string or {value, class}). */
export function table(headers, rows, opts = {}) {
  const head = h("tr", {}, headers.map((x) => (x instanceof Node ? x : h("th", {}, x))));
  const body = rows.map((row) => {
    const tr = h("tr", row.attrs || {});
    for (const cell of row.cells || row) {
      if (cell instanceof Node && cell.tagName === "TD") tr.append(cell);
      else if (cell && typeof cell === "object" && !(cell instanceof Node) && "value" in cell) {
        tr.append(h("td", { class: cell.class, title: cell.title }, cell.value));
      } else tr.append(h("td", {}, cell));
    }
    return tr;
  });
  return h("div", { class: "table-wrap" },
    h("table", { class: opts.class }, h("thead", {}, head), h("tbody", {}, body)));
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

/** The message of an API error (or any error), shown as text. */
export function errorBox(error, what) {
  const message = error && error.message ? error.message : String(error);
  return h("pre", { class: "error", role: "alert" }, what ? `${what}: ${message}` : message);
}

export function link(hash, text) {
  return h("a", { href: hash }, text);
}

/** A hash route with query parameters (empty values left out). */
export function route(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}

export const enc = encodeURIComponent;

function pad(n) {
  return String(n).padStart(2, "0");
}

/** Milliseconds since the epoch as local "YYYY-MM-DD HH:MM:SS". */
export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === "") return "";
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration in milliseconds as "1.2s", "3m 04s", "2h 05m", "3d 4h". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${pad(m % 60)}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

/** How long a run took (or has been running). */
export function runDuration(info) {
  if (!info.start_time) return "";
  if (info.end_time) return fmtDuration(info.end_time - info.start_time);
  return info.status === "RUNNING" ? `${fmtDuration(Date.now() - info.start_time)} so far` : "";
}

/** A metric value as the API sends it (a number, or "NaN" / "Infinity" / "-Infinity"). */
export function toNumber(value) {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return Number(value);
}

/** A number for a table cell: up to 6 significant digits, no trailing zeros. */
export function fmtNumber(value) {
  const n = toNumber(value);
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "∞" : "-∞";
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return n.toExponential(4);
  return String(Number(n.toPrecision(6)));
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(n);
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return i === 0 ? `${value} B` : `${value.toFixed(1)} ${units[i]}`;
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text}` }, text);
}

/** A section with a heading. */
export function section(title, ...children) {
  return h("section", {}, h("h2", {}, title), children);
}

/** A placeholder that fills itself when the promise settles (errors shown in place). */
export function later(promise, render, what) {
  const box = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  promise.then(
    (value) => fill(box, render(value)),
    (error) => fill(box, errorBox(error, what)),
  );
  return box;
}
