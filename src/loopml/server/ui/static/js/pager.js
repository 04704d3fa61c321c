// Paging through listings the API hands out a page at a time (next_page_token). The page
// number lives in the address (#…&page=3); the tokens that reach each page are remembered
// for this tab, so Previous and the browser's back button work without refetching pages.
import { h } from "./dom.js";

export class Pager {
  constructor() {
    this.tokens = new Map(); // listing key -> [token of page 0 (null), of page 1, …]
  }

  /** The page the address asks for, if its token is known (else the first page). */
  page(key, query) {
    const wanted = Math.max(0, Number.parseInt(query.get("page") || "0", 10) || 0);
    const known = this.tokens.get(key) || [null];
    return wanted < known.length ? wanted : 0;
  }

  token(key, page) {
    return (this.tokens.get(key) || [null])[page] || null;
  }

  remember(key, page, next) {
    const known = this.tokens.get(key) || [null];
    known.length = page + 1;
    if (next) known.push(next);
    this.tokens.set(key, known);
  }

  /** Previous / next buttons that change the page in the address. */
  controls(key, page, next, shown, size) {
    const go = (to) => {
      const [path, q] = location.hash.slice(1).split("?");
      const params = new URLSearchParams(q || "");
      if (to) params.set("page", String(to));
      else params.delete("page");
      const text = params.toString();
      location.hash = `#${path}${text ? `?${text}` : ""}`;
    };
    const first = page * size + 1;
    return h("div", { class: "pager" },
      h("button", { type: "button", disabled: page === 0, onclick: () => go(page - 1) }, "‹ Previous"),
      h("span", { class: "muted" }, shown ? `${first}–${first + shown - 1}` : ""),
      h("button", { type: "button", disabled: !next, onclick: () => go(page + 1) }, "Next ›"));
  }
}
