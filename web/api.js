// SPDX-License-Identifier: MIT
// The one way the dashboard talks to the daemon: JSON over fetch, same
// origin, with the session's CSRF token on every state-changing request.

let csrfToken = "";
let onUnauthorized = () => {};

export function setCsrf(token) {
  csrfToken = token || "";
}

// Called when a request answers 401 (the session expired or was revoked).
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, data) {
    super(errorText(status, data));
    this.status = status;
    this.data = data;
  }
}

function errorText(status, data) {
  if (data && data.detail && data.error) {
    return data.error + ": " + data.detail;
  }
  if (data && (data.detail || data.error)) {
    return data.detail || data.error;
  }
  if (status === 0) {
    return "cannot reach the daemon";
  }
  return "request failed (HTTP " + status + ")";
}

// Raw call: resolves to {status, data} whatever the status.
export async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET" && csrfToken) {
    headers["X-CSRF-Token"] = csrfToken;
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    return { status: 0, data: null };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  return { status: res.status, data };
}

// Checked call: the data of a 2xx answer, else throws ApiError (and tells
// the shell about a lost session).
export async function api(method, path, body) {
  const r = await call(method, path, body);
  if (r.status >= 200 && r.status < 300) {
    return r.data;
  }
  if (r.status === 401) {
    onUnauthorized();
  }
  throw new ApiError(r.status, r.data);
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

// "?a=1&b=x" from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") {
      q.set(k, String(v));
    }
  }
  const s = q.toString();
  return s ? "?" + s : "";
}
