// SPDX-License-Identifier: MIT
// Small DOM helpers shared by the pages: element building (text is always
// set as text, never parsed as HTML), formatting, notices and a confirm
// dialog that does not block the page.

// h("tag.class", {attr: value, onclick: fn}, child, ...): children may be
// strings, nodes, arrays or null.
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) {
    el.className = classes.join(" ");
  }
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") {
      el.className = v;
    } else if (k === "text") {
      el.textContent = v;
    } else if (k in el && typeof v !== "string") {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// --- formatting --------------------------------------------------------------

export function fmtNum(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) {
    return "–";
  }
  return Number(n).toLocaleString("en-US");
}

function toMs(ts) {
  if (ts === null || ts === undefined || ts === "") {
    return null;
  }
  if (typeof ts === "number") {
    return ts;
  }
  const n = Number(ts);
  if (!Number.isNaN(n)) {
    return n;
  }
  const d = Date.parse(ts);
  return Number.isNaN(d) ? null : d;
}

// "2025-03-01 14:02:03" in the browser's time zone.
export function fmtTime(ts) {
  const ms = toMs(ts);
  if (ms === null) {
    return "never";
  }
  const d = new Date(ms);
  const p = (x) => String(x).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
    p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}

// "just now", "3 min ago", "2 h ago", "4 days ago".
export function relTime(ts) {
  const ms = toMs(ts);
  if (ms === null) {
    return "never";
  }
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 10) {
    return "just now";
  }
  if (s < 60) {
    return s + " s ago";
  }
  if (s < 3600) {
    return Math.floor(s / 60) + " min ago";
  }
  if (s < 86400) {
    return Math.floor(s / 3600) + " h ago";
  }
  const d = Math.floor(s / 86400);
  return d + (d === 1 ? " day ago" : " days ago");
}

// A <time> that says "3 min ago" and shows the exact time on hover.
export function timeEl(ts) {
  const ms = toMs(ts);
  return h("time", {
    datetime: ms === null ? undefined : new Date(ms).toISOString(),
    title: fmtTime(ts),
    "data-ts": ms === null ? undefined : String(ms),
  }, relTime(ts));
}

// Refreshes every <time data-ts> under root (called on a timer).
export function refreshTimes(root) {
  for (const t of root.querySelectorAll("time[data-ts]")) {
    t.textContent = relTime(Number(t.dataset.ts));
  }
}

export function fmtDuration(s) {
  if (s === null || s === undefined || !Number.isFinite(Number(s))) {
    return "–";
  }
  s = Math.max(0, Math.round(Number(s)));
  if (s < 60) {
    return s + " s";
  }
  if (s < 3600) {
    return Math.floor(s / 60) + " min " + (s % 60) + " s";
  }
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

export function plural(n, one, many) {
  return fmtNum(n) + " " + (Number(n) === 1 ? one : (many || one + "s"));
}

// --- building blocks -----------------------------------------------------------

export function badge(text, kind) {
  return h("span.badge" + (kind ? "." + kind : ""), null, text);
}

export function pageHeader(title, intro, ...actions) {
  return h("div.page-head", null,
    h("div", null, h("h2", { id: "page-title", tabindex: "-1" }, title),
      intro ? h("p.intro", null, intro) : null),
    actions.length ? h("div.actions", null, actions) : null);
}

export function emptyState(title, text) {
  return h("div.empty", { role: "status" }, h("strong", null, title),
    text ? h("p", null, text) : null);
}

export function errorBox(message) {
  return h("div.notice.error", { role: "alert" }, message);
}

export function loading(text) {
  return h("div.loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }),
    text || "Loading…");
}

// <select> from [{value, label}] (or strings); value selects one.
export function select(attrs, options, value) {
  const el = h("select", attrs);
  fillSelect(el, options, value);
  return el;
}

export function fillSelect(el, options, value) {
  el.replaceChildren();
  for (const o of options) {
    const opt = typeof o === "string" ? { value: o, label: o } : o;
    const node = h("option", { value: opt.value }, opt.label);
    if (opt.disabled) {
      node.disabled = true;
    }
    el.append(node);
  }
  if (value !== undefined && value !== null) {
    el.value = String(value);
  }
}

// A labelled form field: label above the control, hint below.
let fieldSeq = 0;
export function field(label, control, hint) {
  const id = control.id || "f" + (++fieldSeq);
  control.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h("p.hint", { id: id + "-hint" }, hint);
    control.setAttribute("aria-describedby", id + "-hint");
  }
  return h("div.field", null, h("label", { for: id }, label), control, hintEl);
}

// --- notices -------------------------------------------------------------------

// A short message in the corner; kind "ok" or "error".
export function toast(message, kind) {
  const box = document.getElementById("toasts");
  if (!box) {
    return;
  }
  const t = h("div.toast" + (kind ? "." + kind : ""), { role: kind === "error" ? "alert" : "status" },
    message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// Resolves true when the user confirms. Uses the page's <dialog id=confirm>.
export function confirmDialog(title, text, confirmLabel, danger) {
  const dlg = document.getElementById("confirm");
  const ok = document.getElementById("confirm-ok");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  ok.textContent = confirmLabel || "OK";
  ok.className = danger ? "danger" : "";
  return new Promise((resolve) => {
    const done = () => {
      dlg.removeEventListener("close", done);
      resolve(dlg.returnValue === "ok");
    };
    dlg.returnValue = "";
    dlg.addEventListener("close", done);
    dlg.showModal();
    ok.focus();
  });
}

// Runs fn with the button disabled (and busy) meanwhile.
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
