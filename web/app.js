// SPDX-License-Identifier: MIT
// Dashboard shell: login, logout and the signed-in view. Plain JavaScript
// module, no framework; it only talks to this daemon's /api routes.

const $ = (id) => document.getElementById(id);

// CSRF token of the current session: sent as X-CSRF-Token on every
// state-changing request (the server answers 403 without it).
let csrfToken = "";

function show(view) {
  for (const id of ["loading", "login", "app"]) {
    $(id).hidden = id !== view;
  }
  $("logout").hidden = view !== "app";
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET" && csrfToken) {
    headers["X-CSRF-Token"] = csrfToken;
  }
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  return { status: res.status, data };
}

function errorText(r) {
  if (r.data && r.data.detail) {
    return r.data.detail;
  }
  if (r.data && r.data.error) {
    return r.data.error;
  }
  return "request failed (HTTP " + r.status + ")";
}

async function refresh() {
  const r = await api("GET", "/api/dashboard/whoami");
  if (r.status === 200 && r.data && r.data.authenticated) {
    csrfToken = r.data.csrf_token || "";
    show("app");
  } else {
    csrfToken = "";
    show("login");
    $("password").focus();
  }
}

async function login(ev) {
  ev.preventDefault();
  const button = ev.target.querySelector("button");
  const err = $("login-error");
  err.hidden = true;
  button.disabled = true;
  try {
    const r = await api("POST", "/api/login", { password: $("password").value });
    if (r.status === 200 && r.data && r.data.csrf_token) {
      csrfToken = r.data.csrf_token;
      $("password").value = "";
      show("app");
    } else {
      err.textContent = errorText(r);
      err.hidden = false;
    }
  } catch (e) {
    err.textContent = "cannot reach the daemon: " + e.message;
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  await api("POST", "/api/logout");
  csrfToken = "";
  show("login");
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
refresh().catch(() => show("login"));
