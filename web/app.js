// SPDX-License-Identifier: MIT
// Dashboard shell: login and logout, the page router (#/overview, #/mappings,
// #/log, #/errors, #/webhooks) and the live connection the pages share.
// Plain JavaScript modules, no framework; it only talks to this daemon.

import { call, setCsrf, setUnauthorizedHandler } from "./api.js";
import { refreshTimes } from "./dom.js";
import { Live } from "./live.js";
import * as overview from "./page_overview.js";
import * as mappings from "./page_mappings.js";
import * as log from "./page_log.js";
import * as errors from "./page_errors.js";
import * as webhooks from "./page_webhooks.js";

const PAGES = { overview, mappings, log, errors, webhooks };
const TITLES = {
  overview: "Overview", mappings: "Mappings", log: "Sync log", errors: "Errors",
  webhooks: "Webhooks",
};

const $ = (id) => document.getElementById(id);
const live = new Live();
let signedIn = false;
let cleanup = null;
let renderSeq = 0;

function show(view) {
  for (const id of ["loading", "login", "app"]) {
    $(id).hidden = id !== view;
  }
  $("nav").hidden = view !== "app";
  $("session").hidden = view !== "app";
  $("footer").hidden = view !== "app";
  document.body.classList.toggle("signed-out", view === "login");
}

// "#/mappings/12?x=1" -> {page: "mappings", rest: ["12"], params}
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const page = PAGES[parts[0]] ? parts[0] : "overview";
  return { page, rest: parts.slice(1), params: new URLSearchParams(qs || "") };
}

export function navigate(hash) {
  if (location.hash === hash) {
    route();
  } else {
    location.hash = hash;
  }
}

async function route(ev) {
  if (!signedIn) {
    return;
  }
  const moved = Boolean(ev && ev.type === "hashchange");
  const { page, rest, params } = parseHash();
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.dataset.page === page) {
      a.setAttribute("aria-current", "page");
    } else {
      a.removeAttribute("aria-current");
    }
  }
  document.title = TITLES[page] + " · ado-clickup-sync";
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const root = $("page");
  root.replaceChildren();
  const seq = ++renderSeq;
  const ctx = { live, rest, params, navigate, isCurrent: () => seq === renderSeq };
  try {
    const c = await PAGES[page].render(root, ctx);
    if (seq !== renderSeq) {
      if (typeof c === "function") {
        c();
      }
      return;
    }
    cleanup = typeof c === "function" ? c : null;
    // Tell assistive technology where we are after following a link.
    const title = document.getElementById("page-title");
    if (title && moved && !root.contains(document.activeElement)) {
      title.focus({ preventScroll: true });
    }
  } catch (e) {
    if (seq === renderSeq && signedIn) {
      root.replaceChildren();
      const p = document.createElement("div");
      p.className = "notice error";
      p.setAttribute("role", "alert");
      p.textContent = "This page failed to load: " + e.message;
      root.append(p);
    }
  }
}

function updateLive(mode) {
  const el = $("live");
  el.dataset.mode = mode;
  const text = {
    live: "Live",
    polling: "Updating every 5 s",
    connecting: "Reconnecting…",
    off: "Offline",
  }[mode] || mode;
  $("live-text").textContent = text;
  el.title = mode === "live" ? "Live updates from the daemon" :
    mode === "polling" ? "Live stream unavailable: polling every 5 seconds" : text;
}

function updateShellStats(s) {
  const n = Number(s && s.errors) || 0;
  const badge = $("nav-errors");
  badge.hidden = n === 0;
  badge.textContent = n > 99 ? "99+" : String(n);
  badge.setAttribute("aria-label", n + " waiting");
  if (s && s.version) {
    $("version").textContent = "ado-clickup-sync " + s.version;
  }
}

function enter(token) {
  setCsrf(token);
  signedIn = true;
  show("app");
  live.start();
  if (!location.hash) {
    history.replaceState(null, "", "#/overview");
  }
  route();
}

function leave() {
  signedIn = false;
  setCsrf("");
  live.stop();
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  renderSeq++;
  $("page").replaceChildren();
  show("login");
  $("password").focus();
}

async function refresh() {
  const r = await call("GET", "/api/dashboard/whoami");
  if (r.status === 200 && r.data && r.data.authenticated) {
    enter(r.data.csrf_token);
  } else {
    leave();
  }
}

async function login(ev) {
  ev.preventDefault();
  const button = ev.target.querySelector("button");
  const err = $("login-error");
  err.hidden = true;
  button.disabled = true;
  try {
    const r = await call("POST", "/api/login", { password: $("password").value });
    if (r.status === 200 && r.data && r.data.csrf_token) {
      $("password").value = "";
      enter(r.data.csrf_token);
    } else {
      err.textContent = r.status === 401 ? "Wrong password." :
        r.status === 429 ? "Too many attempts: wait a minute and try again." :
        (r.data && (r.data.detail || r.data.error)) || "Sign-in failed (HTTP " + r.status + ").";
      err.hidden = false;
      $("password").select();
    }
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  live.stop();
  await call("POST", "/api/logout", {});
  history.replaceState(null, "", location.pathname);
  leave();
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
window.addEventListener("hashchange", route);
window.addEventListener("pagehide", () => live.stop());
setUnauthorizedHandler(() => {
  if (signedIn) {
    leave();
  }
});
live.on("mode", updateLive);
live.on("stats", updateShellStats);
setInterval(() => refreshTimes(document), 15000);
refresh().catch(() => leave());
