// Calls to the server's JSON API (/api/v1). When the server answers 401 the user is asked
// for a token, kept in this tab's sessionStorage and sent as a Bearer header.

const TOKEN_KEY = "loopml.token";
// relative to the page (…/ui/), so a server behind a proxy under a path prefix works too
export const BASE = "../api/v1";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.type = (body && body.type) || "";
    this.code = (body && body.error_code) || "";
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  showSignOut();
}

export function showSignOut() {
  const button = document.getElementById("sign-out");
  if (button) button.hidden = !token();
}

let asking = null;

/** Ask for a token (one dialog however many calls are waiting); resolves when one is given. */
function askToken(message) {
  if (asking) return asking;
  const dialog = document.getElementById("token-dialog");
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  document.getElementById("token-why").textContent = message;
  input.value = "";
  asking = new Promise((resolve, reject) => {
    const done = () => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      asking = null;
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      showSignOut();
      dialog.close();
      done();
      resolve();
    };
    const onCancel = () => {
      done();
      reject(new ApiError(401, { message: "this server needs a token; reload the page to enter one" }));
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
  });
  dialog.showModal();
  input.focus();
  return asking;
}

/** The raw response of an API call, after the token dance; throws ApiError on failure. */
export async function request(path, { method = "GET", body, query } = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
    }
    if ([...params].length) url += `?${params}`;
  }
  for (;;) {
    const headers = { "X-Requested-With": "loopml-ui", Accept: "application/json" };
    const sent = token();
    if (sent) headers.Authorization = `Bearer ${sent}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, {
        message: `the server could not be reached (${error.message}); is it still running?`,
      });
    }
    if (response.status === 401) {
      await response.body?.cancel();
      if (sent) sessionStorage.removeItem(TOKEN_KEY);
      await askToken(sent ? "The server refused that token (mistyped, or revoked since). Enter another one."
        : "This server checks tokens: enter yours to see its data.");
      continue;
    }
    if (!response.ok) {
      const text = await response.text();
      let data = null;
      try {
        data = JSON.parse(text);
      } catch {
        data = { message: `${response.status} ${response.statusText}: ${text.slice(0, 300)}` };
      }
      throw new ApiError(response.status, data);
    }
    return response;
  }
}

/** The JSON answer of an API call. */
export async function api(path, options) {
  const response = await request(path, options);
  return response.json();
}

/** Every page of a paged listing (``next_page_token``), up to ``limit`` items. */
export async function all(path, key, { query = {}, pageSize = 1000, limit = 100000 } = {}) {
  const items = [];
  let pageToken = null;
  do {
    const page = await api(path, { query: { ...query, max_results: pageSize, page_token: pageToken } });
    items.push(...page[key]);
    pageToken = page.next_page_token;
  } while (pageToken && items.length < limit);
  return { items, truncated: Boolean(pageToken) };
}

/** Save a blob under a file name: a plain link without a token, fetched with it otherwise. */
export async function download(digest, filename) {
  const response = await request(`/blobs/${encodeURIComponent(digest)}`);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
