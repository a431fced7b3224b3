// SPDX-License-Identifier: MIT
// Sync log: paginated history from GET /api/dashboard/sync-log with filters
// kept in the address (#/log?status=error&page=2), and new rows from the
// live "sync" events prepended while the first page is shown.

import { get, query } from "./api.js";
import { h, clear, select, timeEl, fmtNum, pageHeader, emptyState, errorBox, loading, badge }
  from "./dom.js";

const LIMIT = 25;

export const STATUS = {
  ok: ["Synced", "good"],
  error: ["Failed", "bad"],
  retry: ["Will retry", "warn"],
  skipped: ["Skipped", "muted"],
};

export const DIRECTION = {
  ado_to_clickup: "Azure DevOps → ClickUp",
  clickup_to_ado: "ClickUp → Azure DevOps",
  none: "—",
};

function humanAction(a) {
  return String(a || "").replace(/[_-]+/g, " ");
}

function itemLinks(r) {
  const out = [];
  if (r.ado_id !== null && r.ado_id !== undefined && r.ado_id !== "") {
    const label = "ADO #" + r.ado_id;
    out.push(r.ado_url ? h("a.item.ado", { href: r.ado_url, target: "_blank", rel: "noopener noreferrer",
      title: "Open work item " + r.ado_id + " in Azure DevOps" }, label) : h("span.item.ado", null, label));
  }
  if (r.clickup_id) {
    const label = "ClickUp " + r.clickup_id;
    out.push(r.clickup_url ? h("a.item.cu", { href: r.clickup_url, target: "_blank",
      rel: "noopener noreferrer", title: "Open task " + r.clickup_id + " in ClickUp" }, label) :
      h("span.item.cu", null, label));
  }
  return out.length ? out : [h("span.muted", null, "—")];
}

export function logRow(r) {
  const [label, kind] = STATUS[r.status] || [r.status || "?", "muted"];
  const fields = Array.isArray(r.fields) && r.fields.length ? r.fields.join(", ") : "";
  return h("tr", { "data-id": String(r.id) },
    h("td.when", { "data-label": "When" }, timeEl(r.ts)),
    h("td.items", { "data-label": "Items" }, itemLinks(r)),
    h("td.dir" + (r.direction && r.direction !== "none" ? "" : ".none"), { "data-label": "Direction" },
      DIRECTION[r.direction] || r.direction || "—"),
    h("td.change", { "data-label": "Change" }, h("span.action", null, humanAction(r.action)),
      r.map_name ? h("span.sub", null, r.map_name) : null),
    h("td.status", { "data-label": "Status" }, badge(label, kind)),
    h("td.detail", { "data-label": "Details" }, h("div", null,
      r.message ? h("span.message", null, r.message) : null,
      fields ? h("span.fields", null, fields) : null,
      !fields && !r.message ? h("span.muted", null, "—") : null)));
}

export function logTable(rows, caption) {
  return h("table.data.log", null,
    h("caption.visually-hidden", null, caption),
    h("thead", null, h("tr", null,
      ["When", "Items", "Direction", "Change", "Status", "Details"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, rows.map(logRow)));
}

function readFilters(params) {
  return {
    q: params.get("q") || "",
    status: params.get("status") || "",
    direction: params.get("direction") || "",
    map: params.get("map") || "",
    page: Math.max(1, parseInt(params.get("page") || "1", 10) || 1),
  };
}

export async function render(root, ctx) {
  const f = readFilters(ctx.params);
  const search = h("input", { type: "search", id: "log-q", value: f.q, placeholder: "Work item id, task id or title",
    autocomplete: "off" });
  const status = select({ id: "log-status" }, [{ value: "", label: "Any status" },
    ...Object.entries(STATUS).map(([v, [l]]) => ({ value: v, label: l }))], f.status);
  const direction = select({ id: "log-direction" }, [{ value: "", label: "Both directions" },
    { value: "ado_to_clickup", label: DIRECTION.ado_to_clickup },
    { value: "clickup_to_ado", label: DIRECTION.clickup_to_ado }], f.direction);
  const map = select({ id: "log-map" }, [{ value: "", label: "All mappings" }], f.map);
  const results = h("div.results", null, loading("Loading the sync log…"));
  const newRows = h("p.new-rows", { role: "status", "aria-live": "polite" });

  root.append(
    pageHeader("Sync log", "Every change the sync made, skipped or could not make, newest first. " +
      "New rows appear here as they happen."),
    h("form.filters", { role: "search", "aria-label": "Filter the sync log", onsubmit: (e) => {
      e.preventDefault();
      f.page = 1;
      load();
    } },
    h("div.field.grow", null, h("label", { for: "log-q" }, "Search"), search),
    h("div.field", null, h("label", { for: "log-status" }, "Status"), status),
    h("div.field", null, h("label", { for: "log-direction" }, "Direction"), direction),
    h("div.field", null, h("label", { for: "log-map" }, "Mapping"), map)),
    newRows,
    results);

  get("/api/dashboard/project-maps").then((d) => {
    for (const m of (d && d.items) || []) {
      map.append(h("option", { value: String(m.id) }, m.name));
    }
    map.value = f.map;
  }).catch(() => {});

  let data = null;
  let seq = 0;
  let fresh = 0;

  function syncAddress() {
    const qs = query({ q: f.q, status: f.status, direction: f.direction, map: f.map,
      page: f.page > 1 ? f.page : "" });
    history.replaceState(null, "", "#/log" + qs);
  }

  async function load() {
    const mine = ++seq;
    syncAddress();
    fresh = 0;
    newRows.textContent = "";
    results.setAttribute("aria-busy", "true");
    try {
      const d = await get("/api/dashboard/sync-log" + query({ page: f.page, limit: LIMIT, status: f.status,
        direction: f.direction, map: f.map, q: f.q }));
      if (mine !== seq || !ctx.isCurrent()) {
        return;
      }
      data = d;
      draw();
    } catch (e) {
      if (mine === seq && ctx.isCurrent()) {
        clear(results, errorBox("The sync log could not be loaded: " + e.message));
      }
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  function draw() {
    const items = data.items || [];
    const total = Number(data.total) || 0;
    const page = Number(data.page) || f.page;
    const limit = Number(data.limit) || LIMIT;
    const filtered = f.q || f.status || f.direction || f.map;
    if (!items.length) {
      clear(results, filtered ?
        emptyState("No matching rows", "Nothing in the log matches these filters.") :
        emptyState("Nothing synced yet",
          "Rows appear here as soon as a work item or a task changes in a mapped project or list."));
      return;
    }
    const first = (page - 1) * limit + 1;
    const last = Math.min(total, first + items.length - 1);
    const pages = Math.max(1, Math.ceil(total / limit));
    const prev = h("button.secondary", { type: "button", disabled: page <= 1,
      onclick: () => { f.page = page - 1; load(); } }, "← Newer");
    const next = h("button.secondary", { type: "button", disabled: page >= pages,
      onclick: () => { f.page = page + 1; load(); } }, "Older →");
    clear(results,
      h("div.table-wrap", null, logTable(items, "Sync log, page " + page + " of " + pages)),
      h("nav.pager", { "aria-label": "Sync log pages" },
        h("span", { id: "log-range" }, "Rows " + fmtNum(first) + "–" + fmtNum(last) + " of " + fmtNum(total)),
        h("span.pager-buttons", null, prev, h("span.page-no", null, "Page " + page + " of " + pages), next)));
  }

  function matches(r) {
    return (!f.status || r.status === f.status) && (!f.direction || r.direction === f.direction) &&
      (!f.map || String(r.map_id) === f.map);
  }

  const off = ctx.live.on("sync", (r) => {
    if (!data || !r || !matches(r)) {
      return;
    }
    if (f.page !== 1 || f.q) {
      fresh++;
      clear(newRows, fresh + " new " + (fresh === 1 ? "row" : "rows") + " since this page loaded. ",
        h("button.link", { type: "button", onclick: () => { f.page = 1; f.q = ""; search.value = ""; load(); } },
          "Show the newest"));
      return;
    }
    if ((data.items || []).some((x) => x.id === r.id)) {
      return;
    }
    data.items = [r, ...(data.items || [])].slice(0, Number(data.limit) || LIMIT);
    data.total = (Number(data.total) || 0) + 1;
    draw();
    const tr = results.querySelector('tr[data-id="' + CSS.escape(String(r.id)) + '"]');
    if (tr) {
      tr.classList.add("flash");
    }
  });

  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      f.q = search.value.trim();
      f.page = 1;
      load();
    }, 300);
  });
  for (const [el, key] of [[status, "status"], [direction, "direction"], [map, "map"]]) {
    el.addEventListener("change", () => {
      f[key] = el.value;
      f.page = 1;
      load();
    });
  }

  await load();
  return () => {
    off();
    clearTimeout(timer);
  };
}
