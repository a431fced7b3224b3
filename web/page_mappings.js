// SPDX-License-Identifier: MIT
// Mappings: the list (#/mappings), the editor (#/mappings/new, #/mappings/ID)
// with pickers filled live from both services, the status and priority
// tables side by side, and "backfill now" with its progress.

import { get, post, put, del, query, ApiError } from "./api.js";
import { h, clear, select, fillSelect, field, pageHeader, emptyState, errorBox, loading, badge,
  toast, confirmDialog, busy, fmtNum, fmtDuration, timeEl, plural } from "./dom.js";

const PRIORITIES = [
  { ado: "1", label: "1 · Critical" },
  { ado: "2", label: "2 · High" },
  { ado: "3", label: "3 · Medium" },
  { ado: "4", label: "4 · Low" },
];
const CU_PRIORITIES = ["urgent", "high", "normal", "low"];
const DEFAULT_PRIORITY = { 1: "urgent", 2: "high", 3: "normal", 4: "low" };
const DEFAULT_TYPES = ["Task", "Bug", "User Story"];
const CATEGORY = {
  Proposed: "Not started",
  InProgress: "In progress",
  Resolved: "Resolved",
  Completed: "Done",
  Removed: "Removed",
};
const CATEGORY_ORDER = ["Proposed", "InProgress", "Resolved", "Completed", "Removed"];
const ON_DELETE = [
  { value: "close", label: "Close the twin (recommended)" },
  { value: "delete", label: "Delete the twin too" },
  { value: "ignore", label: "Leave the twin alone" },
];

const items = (d) => (d && Array.isArray(d.items) ? d.items : []);
const nameOf = (x) => (typeof x === "string" ? x : x.name || x.path || x.id || "");
const idOf = (x) => (typeof x === "string" ? x : String(x.id !== undefined ? x.id : x.name));

export async function render(root, ctx) {
  const sub = ctx.rest[0];
  if (sub) {
    return editor(root, ctx, sub === "new" ? null : sub);
  }
  return list(root, ctx);
}

// --- backfill progress ----------------------------------------------------------------

// A panel that shows GET /api/dashboard/backfill while a run is going on
// (polled every second) and the outcome of the last one.
function backfillPanel(ctx) {
  const el = h("section.card.backfill", { "aria-labelledby": "bf-title", hidden: true });
  let timer = null;
  let wasRunning = false;
  let stopped = false;

  function draw(b) {
    const total = Number(b.total) || 0;
    const done = Number(b.done) || 0;
    const bar = h("progress", { id: "bf-progress", max: String(total || 1), value: String(total ? done : 0),
      "aria-label": "Backfill progress" });
    if (!total && b.running) {
      bar.removeAttribute("value"); // indeterminate while counting
    }
    const pct = total ? Math.floor((done / total) * 100) : 0;
    const title = b.running ? (b.dry_run ? "Dry run in progress" : "Backfill in progress") :
      b.error ? "Backfill stopped" : (b.dry_run ? "Dry run finished" : "Backfill finished");
    clear(el,
      h("div.bf-head", null, h("h3", { id: "bf-title" }, title + (b.map ? ": " + b.map : "")),
        b.running ? h("span.muted", null, b.phase ? String(b.phase).replace(/_/g, " ") : "starting") : null),
      bar,
      h("p.bf-line", { role: "status" },
        total ? fmtNum(done) + " of " + fmtNum(total) + " items (" + pct + "%)" : b.running ? "Counting items…" : "No items",
        b.running && b.rate ? " · " + Number(b.rate).toFixed(1) + " items/s" : "",
        b.running && b.eta_s !== null && b.eta_s !== undefined ? " · about " + fmtDuration(b.eta_s) + " left" : ""),
      h("ul.bf-stats", null,
        h("li", null, h("strong", null, fmtNum(b.paired || 0)), " paired with an existing twin"),
        h("li", null, h("strong", null, fmtNum(b.created_clickup || 0)), (b.dry_run ? " would be created" : " created") + " in ClickUp"),
        h("li", null, h("strong", null, fmtNum(b.created_ado || 0)), (b.dry_run ? " would be created" : " created") + " in Azure DevOps")),
      b.error ? errorBox(b.error) : null);
    el.hidden = false;
  }

  async function poll() {
    if (stopped || !ctx.isCurrent()) {
      return;
    }
    try {
      const b = await get("/api/dashboard/backfill");
      if (stopped) {
        return;
      }
      if (b && (b.running || wasRunning || b.map)) {
        draw(b);
      }
      const running = Boolean(b && b.running);
      if (wasRunning && !running) {
        toast(b.error ? "Backfill stopped: " + b.error : "Backfill finished.", b.error ? "error" : "ok");
      }
      wasRunning = running;
      clearTimeout(timer);
      if (running) {
        timer = setTimeout(poll, 1000);
      }
    } catch {
      // No backfill support in this daemon: keep the panel hidden.
    }
  }

  return {
    el,
    poll,
    started() {
      wasRunning = true;
      poll();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

async function startBackfill(m, dryRun, panel) {
  if (!dryRun && !(await confirmDialog("Backfill \u201c" + m.name + "\u201d now?",
    "Every existing work item and task in this mapping that has no twin yet gets one on the other side. " +
    "Items that already match are paired, not duplicated. This can take a while for large projects.",
    "Start backfill"))) {
    return;
  }
  try {
    await post("/api/dashboard/project-maps/" + encodeURIComponent(m.id) + "/backfill", { dry_run: dryRun });
    toast(dryRun ? "Dry run started: nothing will be changed." : "Backfill started.", "ok");
    panel.started();
  } catch (e) {
    toast("Could not start the backfill: " + e.message, "error");
  }
}

// --- list -------------------------------------------------------------------------------

// ClickUp list id -> "Space / Folder / List", walked through the pickers
// (a handful of calls for a normal workspace), remembered for a minute.
let listNames = null;
let listNamesAt = 0;

async function clickupListNames() {
  if (listNames && Date.now() - listNamesAt < 60000) {
    return listNames;
  }
  const names = new Map();
  for (const s of items(await get("/api/dashboard/pickers/clickup/spaces"))) {
    const sid = idOf(s);
    for (const l of items(await get("/api/dashboard/pickers/clickup/lists" + query({ space: sid })))) {
      names.set(idOf(l), nameOf(s) + " / " + nameOf(l));
    }
    for (const f of items(await get("/api/dashboard/pickers/clickup/folders" + query({ space: sid })))) {
      const ls = items(await get("/api/dashboard/pickers/clickup/lists" + query({ space: sid, folder: idOf(f) })));
      for (const l of ls) {
        names.set(idOf(l), nameOf(s) + " / " + nameOf(f) + " / " + nameOf(l));
      }
    }
  }
  listNames = names;
  listNamesAt = Date.now();
  return names;
}

function summaryLine(label, value) {
  return h("div.kv", null, h("span", null, label), h("span.val", null, value));
}

async function list(root, ctx) {
  const body = h("div", null, loading("Loading the mappings…"));
  const panel = backfillPanel(ctx);
  root.append(pageHeader("Mappings",
    "Each mapping pairs an Azure DevOps project (or one of its areas) with a ClickUp list. " +
    "Work items and tasks in them are kept equal both ways.",
  h("a.button", { href: "#/mappings/new", id: "new-mapping" }, "+ New mapping")), panel.el, body);
  panel.poll();

  async function load() {
    let d;
    try {
      d = await get("/api/dashboard/project-maps");
    } catch (e) {
      clear(body, errorBox("The mappings could not be loaded: " + e.message));
      return;
    }
    if (!ctx.isCurrent()) {
      return;
    }
    const maps = items(d);
    if (!maps.length) {
      clear(body, h("div.empty", null, h("strong", null, "No mappings yet"),
        h("p", null, "Create one to start syncing: pick an Azure DevOps project and a ClickUp list."),
        h("a.button", { href: "#/mappings/new" }, "Create the first mapping")));
      return;
    }
    clear(body, h("ul.map-list", { "aria-label": "Mappings" }, maps.map((m) => {
      const file = m.source === "file";
      const types = Array.isArray(m.ado_work_item_types) ? m.ado_work_item_types.join(", ") : "";
      const states = m.status_map ? Object.keys(m.status_map).length : 0;
      const actions = h("div.actions", null,
        h("a.button.secondary", { href: "#/mappings/" + encodeURIComponent(m.id),
          "aria-label": (file ? "View " : "Edit ") + m.name }, file ? "View" : "Edit"),
        h("button.secondary", { type: "button", "aria-label": "Dry run of a backfill of " + m.name,
          onclick: (e) => busy(e.currentTarget, () => startBackfill(m, true, panel)) }, "Dry run"),
        h("button.secondary", { type: "button", "aria-label": "Backfill " + m.name + " now",
          onclick: (e) => busy(e.currentTarget, () => startBackfill(m, false, panel)) }, "Backfill now"),
        file ? null : h("button.secondary.danger-text", { type: "button", "aria-label": "Delete " + m.name,
          onclick: async (e) => {
            const b = e.currentTarget;
            if (!(await confirmDialog("Delete \u201c" + m.name + "\u201d?",
              "Syncing between its project and list stops. Items already synced stay on both sides.",
              "Delete mapping", true))) {
              return;
            }
            await busy(b, async () => {
              try {
                await del("/api/dashboard/project-maps/" + encodeURIComponent(m.id));
                toast("Mapping \u201c" + m.name + "\u201d deleted.", "ok");
                load();
              } catch (err) {
                toast("Could not delete: " + err.message, "error");
              }
            });
          } }, "Delete"));
      return h("li.card.map", { "data-id": String(m.id) },
        h("div.map-head", null, h("h3", null, m.name),
          file ? badge("Config file · read-only", "muted") : badge("Dashboard", "ado")),
        h("div.map-sides", null,
          h("div.side.ado", null, h("h4", null, "Azure DevOps"),
            summaryLine("Project", m.ado_project || "—"),
            summaryLine("Area", m.ado_area_path || "Whole project"),
            summaryLine("Types", types || "—")),
          h("div.arrow", { "aria-hidden": "true" }, "⇄"),
          h("div.side.cu", null, h("h4", null, "ClickUp"),
            summaryLine("List", h("span.list-name", { "data-list": String(m.clickup_list_id || "") },
              m.clickup_list_id ? "List " + m.clickup_list_id : "—")),
            summaryLine("Statuses", states ? plural(states, "state") + " mapped" : "by category"),
            summaryLine("Updated", m.updated_at ? timeEl(m.updated_at) : "—"))),
        actions);
    })));
    clickupListNames().then((names) => {
      for (const el of body.querySelectorAll(".list-name[data-list]")) {
        const n = names.get(el.dataset.list);
        if (n) {
          el.textContent = n;
          el.title = "ClickUp list " + el.dataset.list;
        }
      }
    }).catch(() => {});
  }

  await load();
  return () => panel.stop();
}

// --- editor -------------------------------------------------------------------------------

// A <select> whose options come from an endpoint. Each load supersedes the
// previous one (answers of older loads are dropped).
function picker(id, placeholder) {
  const el = select({ id, disabled: true }, [{ value: "", label: placeholder }]);
  const note = h("p.hint.picker-note", { id: id + "-note", role: "status" });
  el.setAttribute("aria-describedby", id + "-note");
  let seq = 0;
  return {
    el,
    note,
    reset(text) {
      seq++;
      fillSelect(el, [{ value: "", label: text || placeholder }]);
      el.disabled = true;
      note.textContent = "";
    },
    async load(path, toOptions, first, value) {
      const mine = ++seq;
      fillSelect(el, [{ value: "", label: "Loading…" }]);
      el.disabled = true;
      note.textContent = "";
      note.classList.remove("error-text");
      let d;
      try {
        d = await get(path);
      } catch (e) {
        if (mine === seq) {
          fillSelect(el, [{ value: "", label: "Not available" }]);
          note.textContent = "Could not load: " + e.message;
          note.classList.add("error-text");
        }
        return null;
      }
      if (mine !== seq) {
        return null;
      }
      const opts = toOptions(items(d));
      const all = first ? [first, ...opts] : opts;
      if (value && !all.some((o) => o.value === value)) {
        all.push({ value, label: value + " (not found)" });
      }
      if (!all.length) {
        all.push({ value: "", label: "None available" });
      }
      fillSelect(el, all, value !== undefined && value !== null ? value : all[0].value);
      el.disabled = false;
      return items(d);
    },
  };
}

function suggestStatus(state, statuses, used) {
  const name = state.name.toLowerCase();
  const exact = statuses.find((s) => s.status.toLowerCase() === name);
  if (exact) {
    return exact.status;
  }
  const byType = (t) => statuses.filter((s) => (s.type || "").toLowerCase() === t);
  const open = byType("open");
  const closed = [...byType("closed"), ...byType("done")];
  const custom = byType("custom");
  switch (state.category) {
  case "Proposed":
    return (open[0] || statuses[0] || {}).status || "";
  case "InProgress": {
    const c = custom.find((s) => !used.has(s.status)) || custom[0] || open[0];
    return c ? c.status : "";
  }
  case "Resolved": {
    const c = custom.find((s) => !used.has(s.status)) || custom[custom.length - 1] || closed[0];
    return c ? c.status : "";
  }
  case "Completed":
  case "Removed":
    return (closed[0] || statuses[statuses.length - 1] || {}).status || "";
  default:
    return "";
  }
}

async function editor(root, ctx, id) {
  let m = null;
  if (id !== null) {
    root.append(loading("Loading the mapping…"));
    try {
      m = await get("/api/dashboard/project-maps/" + encodeURIComponent(id));
    } catch (e) {
      clear(root, pageHeader("Mapping"), errorBox("This mapping could not be loaded: " + e.message),
        h("p", null, h("a", { href: "#/mappings" }, "← Back to the mappings")));
      return null;
    }
    if (!ctx.isCurrent()) {
      return null;
    }
    root.replaceChildren();
  }
  const readOnly = Boolean(m && m.source === "file");
  const panel = backfillPanel(ctx);

  // State the tables are built from.
  let types = []; // [{name, states: [{name, category}]}] of the project
  let statuses = []; // [{status, type, orderindex}] of the list
  const statusMap = { ...((m && m.status_map) || {}) };
  const priorityMap = { ...DEFAULT_PRIORITY, ...((m && m.priority_map) || {}) };
  const chosenTypes = new Set(m ? m.ado_work_item_types || [] : []);

  // Controls.
  const name = h("input", { id: "map-name", type: "text", required: true, maxlength: "200",
    value: m ? m.name : "", placeholder: "e.g. platform-integrations", autocomplete: "off" });
  const project = picker("map-project", "Choose a project");
  const area = picker("map-area", "Whole project");
  const typeBox = h("fieldset.checks", { id: "map-types" }, h("legend", null, "Work item types to sync"),
    h("p.hint", null, "Choose a project first."));
  const newType = select({ id: "map-new-type" }, [{ value: "", label: "Choose types first" }]);
  const space = picker("map-space", "Choose a space");
  const folder = picker("map-folder", "Choose a space first");
  const listSel = picker("map-list", "Choose a folder first");
  const statusTable = h("div", { id: "status-table" }, h("p.hint", null,
    "Choose work item types and a ClickUp list to map their states and statuses."));
  const priorityTable = h("div", { id: "priority-table" });
  const onDelete = select({ id: "map-on-delete" }, ON_DELETE, m ? m.on_delete || "close" : "close");
  const comments = h("input", { type: "checkbox", id: "map-comments",
    checked: m ? m.copy_existing_comments !== false && m.copy_existing_comments !== 0 : true });
  const formError = h("div.notice.error", { role: "alert", hidden: true });
  const save = h("button", { type: "submit", id: "map-save" }, m ? "Save changes" : "Create mapping");

  const title = m ? (readOnly ? "Mapping " : "Edit mapping ") + "\u201c" + m.name + "\u201d" : "New mapping";
  const headActions = [];
  if (m) {
    headActions.push(h("button.secondary", { type: "button", onclick: (e) => busy(e.currentTarget,
      () => startBackfill(m, false, panel)) }, "Backfill now"));
  }
  const form = h("form.editor", { novalidate: true, "aria-label": title },
    readOnly ? h("div.notice", { role: "note" },
      "This mapping comes from the configuration file, so it is read-only here. " +
      "Change its [map " + m.name + "] section and reload the daemon.") : null,
    h("section.card", { "aria-labelledby": "sec-name" },
      h("h3", { id: "sec-name" }, "Name"),
      field("Mapping name", name, "Shown in the sync log; letters, digits, '.', '_' and '-' work best.")),
    h("div.grid-2", null,
      h("section.card.side.ado", { "aria-labelledby": "sec-ado" },
        h("h3", { id: "sec-ado" }, "Azure DevOps"),
        h("div.field", null, h("label", { for: "map-project" }, "Project"), project.el, project.note),
        h("div.field", null, h("label", { for: "map-area" }, "Area path"), area.el,
          h("p.hint", null, "Only this area and the areas under it are synced."), area.note),
        typeBox,
        field("Type of new work items", newType,
          "A task created in ClickUp becomes a work item of this type.")),
      h("section.card.side.cu", { "aria-labelledby": "sec-cu" },
        h("h3", { id: "sec-cu" }, "ClickUp"),
        h("div.field", null, h("label", { for: "map-space" }, "Space"), space.el, space.note),
        h("div.field", null, h("label", { for: "map-folder" }, "Folder"), folder.el, folder.note),
        h("div.field", null, h("label", { for: "map-list" }, "List"), listSel.el,
          h("p.hint", null, "Each list belongs to one mapping."), listSel.note))),
    h("div.grid-2.tables", null,
      h("section.card", { "aria-labelledby": "sec-status" },
        h("h3", { id: "sec-status" }, "Statuses"),
        h("p.hint", null, "The ClickUp status each Azure DevOps state becomes (and back). " +
          "Unmapped states follow their category."),
        statusTable),
      h("section.card", { "aria-labelledby": "sec-prio" },
        h("h3", { id: "sec-prio" }, "Priorities"),
        h("p.hint", null, "The ClickUp priority each Azure DevOps priority becomes (and back)."),
        priorityTable)),
    h("section.card", { "aria-labelledby": "sec-opts" },
      h("h3", { id: "sec-opts" }, "Options"),
      field("When an item is deleted", onDelete, "What happens to its twin on the other side."),
      h("div.field.inline", null, comments, h("label", { for: "map-comments" },
        "Copy the comments an item already has when it is first paired"))),
    formError,
    readOnly ? h("div.form-actions", null, h("a.button.secondary", { href: "#/mappings" }, "← Back")) :
      h("div.form-actions", null, save, h("a.button.secondary", { href: "#/mappings" }, "Cancel"),
        m ? h("span.spacer") : null,
        m ? h("button.secondary.danger-text", { type: "button", onclick: async (e) => {
          if (!(await confirmDialog("Delete \u201c" + m.name + "\u201d?",
            "Syncing between its project and list stops. Items already synced stay on both sides.",
            "Delete mapping", true))) {
            return;
          }
          await busy(e.currentTarget, async () => {
            try {
              await del("/api/dashboard/project-maps/" + encodeURIComponent(m.id));
              toast("Mapping deleted.", "ok");
              ctx.navigate("#/mappings");
            } catch (err) {
              toast("Could not delete: " + err.message, "error");
            }
          });
        } }, "Delete mapping") : null));

  root.append(pageHeader(title, m ? null :
    "Pick what to sync on each side, then how states and priorities correspond.", ...headActions),
  panel.el, form);
  if (m) {
    panel.poll();
  }

  // --- tables --------------------------------------------------------------

  function drawPriorities() {
    clear(priorityTable, h("table.data.map-table", null,
      h("caption.visually-hidden", null, "Azure DevOps priority to ClickUp priority"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Azure DevOps"), h("th", { scope: "col" }, "ClickUp"))),
      h("tbody", null, PRIORITIES.map((p) => {
        const sel = select({ id: "prio-" + p.ado, "aria-label": "ClickUp priority for Azure DevOps priority " + p.ado,
          disabled: readOnly }, CU_PRIORITIES.map((c) => ({ value: c, label: c[0].toUpperCase() + c.slice(1) })),
        priorityMap[p.ado]);
        sel.addEventListener("change", () => { priorityMap[p.ado] = sel.value; });
        return h("tr", null, h("th", { scope: "row" }, p.label), h("td", null, sel));
      }))));
  }

  function chosenStates() {
    const seen = new Map();
    for (const t of types) {
      if (!chosenTypes.has(t.name)) {
        continue;
      }
      for (const s of t.states || []) {
        if (!seen.has(s.name)) {
          seen.set(s.name, { name: s.name, category: s.category, types: [t.name] });
        } else {
          seen.get(s.name).types.push(t.name);
        }
      }
    }
    const order = (c) => {
      const i = CATEGORY_ORDER.indexOf(c);
      return i < 0 ? CATEGORY_ORDER.length : i;
    };
    return [...seen.values()].sort((a, b) => order(a.category) - order(b.category));
  }

  function drawStatuses() {
    const states = chosenStates();
    if (!states.length || !statuses.length) {
      const missing = !states.length && !statuses.length ? "Choose work item types and a ClickUp list" :
        !states.length ? "Choose at least one work item type" : "Choose a ClickUp list";
      // Keep what the mapping already has visible when the pickers fail.
      const known = Object.entries(statusMap);
      clear(statusTable, h("p.hint", null, missing + " to map states and statuses."),
        known.length ? h("ul.plain", null, known.map(([k, v]) => h("li", null, k + " → " + v))) : null);
      return;
    }
    const used = new Set(Object.values(statusMap));
    const opts = [{ value: "", label: "By category" },
      ...[...statuses].sort((a, b) => (a.orderindex || 0) - (b.orderindex || 0))
        .map((s) => ({ value: s.status, label: s.status }))];
    clear(statusTable, h("table.data.map-table", null,
      h("caption.visually-hidden", null, "Azure DevOps state to ClickUp status"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Azure DevOps state"),
        h("th", { scope: "col" }, "ClickUp status"))),
      h("tbody", null, states.map((st) => {
        if (!(st.name in statusMap) && !m) {
          const s = suggestStatus(st, statuses, used);
          if (s) {
            statusMap[st.name] = s;
            used.add(s);
          }
        }
        const value = statusMap[st.name] || "";
        const sel = select({ "aria-label": "ClickUp status for state " + st.name, "data-state": st.name,
          disabled: readOnly }, value && !opts.some((o) => o.value === value) ?
          [...opts, { value, label: value + " (not in this list)" }] : opts, value);
        sel.addEventListener("change", () => {
          if (sel.value) {
            statusMap[st.name] = sel.value;
          } else {
            delete statusMap[st.name];
          }
        });
        return h("tr", null,
          h("th", { scope: "row" }, h("span", null, st.name),
            h("span.sub", null, (CATEGORY[st.category] || st.category || "") +
              (chosenTypes.size > 1 && st.types.length < chosenTypes.size ? " · " + st.types.join(", ") : ""))),
          h("td", null, sel));
      }))));
  }

  function drawTypes() {
    const boxes = types.map((t) => {
      const cb = h("input", { type: "checkbox", value: t.name, id: "type-" + t.name.replace(/\W+/g, "-"),
        checked: chosenTypes.has(t.name), disabled: readOnly });
      cb.addEventListener("change", () => {
        if (cb.checked) {
          chosenTypes.add(t.name);
        } else {
          chosenTypes.delete(t.name);
        }
        drawNewType();
        drawStatuses();
      });
      return h("label.check", null, cb, t.name);
    });
    clear(typeBox, h("legend", null, "Work item types to sync"),
      boxes.length ? h("div.check-grid", null, boxes) : h("p.hint", null, "No types found in this project."));
    drawNewType();
  }

  function drawNewType() {
    const chosen = types.filter((t) => chosenTypes.has(t.name)).map((t) => t.name);
    for (const t of chosenTypes) {
      if (!chosen.includes(t)) {
        chosen.push(t); // kept from the mapping even if the project lacks it now
      }
    }
    const current = newType.value || (m && m.ado_new_item_type) || "";
    const value = chosen.includes(current) ? current : chosen.includes("Task") ? "Task" : chosen[0] || "";
    fillSelect(newType, chosen.length ? chosen : [{ value: "", label: "Choose types first" }], value);
    newType.disabled = readOnly || !chosen.length;
  }

  // --- cascades ------------------------------------------------------------

  async function loadProject(value) {
    area.reset("Loading…");
    const p = project.el.value;
    if (!p) {
      area.reset("Choose a project first");
      types = [];
      drawTypes();
      drawStatuses();
      return;
    }
    const q = query({ project: p });
    const [, t] = await Promise.all([
      area.load("/api/dashboard/pickers/ado/area-paths" + q,
        (xs) => xs.map((x) => ({ value: nameOf(x), label: nameOf(x) })).filter((o) => o.value !== p),
        { value: "", label: "Whole project (" + p + ")" }, value),
      get("/api/dashboard/pickers/ado/types" + q).then(items).catch((e) => {
        typeBox.append(h("p.hint.error-text", null, "Could not load the types: " + e.message));
        return null;
      }),
    ]);
    if (project.el.value !== p) {
      return;
    }
    area.el.disabled = readOnly || area.el.disabled;
    if (t) {
      types = t;
      if (!m && chosenTypes.size === 0) {
        for (const x of t) {
          if (DEFAULT_TYPES.includes(x.name)) {
            chosenTypes.add(x.name);
          }
        }
        if (!chosenTypes.size && t[0]) {
          chosenTypes.add(t[0].name);
        }
      }
      drawTypes();
      drawStatuses();
    }
  }

  async function loadFolders(value) {
    const s = space.el.value;
    statuses = [];
    drawStatuses();
    if (!s) {
      folder.reset("Choose a space first");
      listSel.reset("Choose a folder first");
      return;
    }
    listSel.reset("Loading…");
    await folder.load("/api/dashboard/pickers/clickup/folders" + query({ space: s }),
      (xs) => xs.map((x) => ({ value: idOf(x), label: nameOf(x) })),
      { value: "", label: "No folder (lists directly in the space)" }, value);
    folder.el.disabled = readOnly || folder.el.disabled;
  }

  async function loadLists(value) {
    const s = space.el.value;
    statuses = [];
    drawStatuses();
    if (!s) {
      listSel.reset("Choose a space first");
      return;
    }
    const got = await listSel.load("/api/dashboard/pickers/clickup/lists" + query({ space: s, folder: folder.el.value }),
      (xs) => xs.map((x) => ({ value: idOf(x), label: nameOf(x) })),
      { value: "", label: "Choose a list" }, value);
    if (got && !got.length) {
      fillSelect(listSel.el, [{ value: "", label: folder.el.value ? "No lists in this folder" : "No lists outside folders" }]);
    }
    listSel.el.disabled = readOnly || listSel.el.disabled;
  }

  async function loadStatuses() {
    const l = listSel.el.value;
    statuses = [];
    if (!l) {
      drawStatuses();
      return;
    }
    clear(statusTable, loading("Loading the list's statuses…"));
    try {
      const d = await get("/api/dashboard/pickers/clickup/statuses" + query({ list: l }));
      if (listSel.el.value === l) {
        statuses = items(d).filter((x) => x && x.status);
      }
    } catch (e) {
      clear(statusTable, errorBox("Could not load the list's statuses: " + e.message));
      return;
    }
    drawStatuses();
  }

  // Where is list id in the workspace? Walks spaces, then folders.
  async function locateList(listId, spaces) {
    for (const s of spaces) {
      const sid = idOf(s);
      try {
        const direct = items(await get("/api/dashboard/pickers/clickup/lists" + query({ space: sid })));
        if (direct.some((l) => idOf(l) === listId)) {
          return { space: sid, folder: "" };
        }
        const folders = items(await get("/api/dashboard/pickers/clickup/folders" + query({ space: sid })));
        for (const f of folders) {
          const ls = items(await get("/api/dashboard/pickers/clickup/lists" +
            query({ space: sid, folder: idOf(f) })));
          if (ls.some((l) => idOf(l) === listId)) {
            return { space: sid, folder: idOf(f) };
          }
        }
      } catch {
        return null;
      }
    }
    return null;
  }

  project.el.addEventListener("change", () => {
    if (!m) {
      chosenTypes.clear();
    }
    loadProject();
  });
  area.el.addEventListener("change", () => {});
  space.el.addEventListener("change", async () => {
    await loadFolders();
    await loadLists();
  });
  folder.el.addEventListener("change", () => loadLists());
  listSel.el.addEventListener("change", () => {
    if (!m) {
      for (const k of Object.keys(statusMap)) {
        delete statusMap[k];
      }
    }
    loadStatuses();
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (readOnly) {
      return;
    }
    formError.hidden = true;
    const problems = [];
    if (!name.value.trim()) {
      problems.push("Give the mapping a name.");
    }
    if (!project.el.value) {
      problems.push("Choose an Azure DevOps project.");
    }
    if (!chosenTypes.size) {
      problems.push("Choose at least one work item type.");
    }
    if (!listSel.el.value) {
      problems.push("Choose a ClickUp list.");
    }
    if (problems.length) {
      clear(formError, problems.length === 1 ? problems[0] : h("ul.plain", null, problems.map((p) => h("li", null, p))));
      formError.hidden = false;
      formError.focus();
      return;
    }
    const states = new Set(chosenStates().map((s) => s.name));
    const sm = {};
    for (const [k, v] of Object.entries(statusMap)) {
      if (v && (states.size === 0 || states.has(k))) {
        sm[k] = v;
      }
    }
    const body = {
      name: name.value.trim(),
      ado_project: project.el.value,
      ado_area_path: area.el.value || "",
      ado_work_item_types: [...chosenTypes],
      ado_new_item_type: newType.value || [...chosenTypes][0],
      clickup_list_id: listSel.el.value,
      status_map: sm,
      priority_map: { ...priorityMap },
      custom_map: (m && m.custom_map) || {},
      on_delete: onDelete.value,
      copy_existing_comments: comments.checked,
    };
    await busy(save, async () => {
      try {
        if (m) {
          await put("/api/dashboard/project-maps/" + encodeURIComponent(m.id), body);
          toast("Mapping \u201c" + body.name + "\u201d saved.", "ok");
        } else {
          await post("/api/dashboard/project-maps", body);
          toast("Mapping \u201c" + body.name + "\u201d created.", "ok");
        }
        ctx.navigate("#/mappings");
      } catch (e) {
        formError.textContent = e instanceof ApiError && e.status === 409 ?
          "Conflict: " + e.message : "Could not save: " + e.message;
        formError.hidden = false;
        formError.focus();
      }
    });
  });
  formError.tabIndex = -1;

  // --- first fill ------------------------------------------------------------

  drawPriorities();
  for (const c of [name, onDelete, comments]) {
    c.disabled = readOnly;
  }
  if (!m) {
    name.focus();
  }
  const adoDone = project.load("/api/dashboard/pickers/ado/projects",
    (xs) => xs.map((x) => ({ value: nameOf(x), label: nameOf(x) })),
    m ? null : { value: "", label: "Choose a project" }, m ? m.ado_project : undefined)
    .then(async (got) => {
      project.el.disabled = readOnly || project.el.disabled;
      if (got && !m && got.length === 1) {
        project.el.value = nameOf(got[0]); // the only choice: take it
      }
      if (got && project.el.value) {
        await loadProject(m ? m.ado_area_path || "" : undefined);
      }
    });
  const cuDone = space.load("/api/dashboard/pickers/clickup/spaces",
    (xs) => xs.map((x) => ({ value: idOf(x), label: nameOf(x) })),
    { value: "", label: "Choose a space" }).then(async (spaces) => {
    space.el.disabled = readOnly || space.el.disabled;
    if (!spaces) {
      return;
    }
    let where = null;
    if (m && m.clickup_list_id) {
      where = await locateList(String(m.clickup_list_id), spaces);
    } else if (spaces.length === 1) {
      where = { space: idOf(spaces[0]), folder: undefined };
    }
    if (!where) {
      if (m) {
        listSel.reset("List " + m.clickup_list_id + " (not found)");
        fillSelect(listSel.el, [{ value: String(m.clickup_list_id), label: "List " + m.clickup_list_id + " (not found)" }],
          String(m.clickup_list_id));
      }
      return;
    }
    space.el.value = where.space;
    await loadFolders(where.folder);
    if (where.folder === undefined && folder.el.options.length === 2) {
      // One folder only: choose it for the user.
      folder.el.value = folder.el.options[1].value;
    }
    await loadLists(m ? String(m.clickup_list_id) : undefined);
    if (listSel.el.value) {
      await loadStatuses();
    }
  });
  await Promise.all([adoDone, cuDone]);
  return () => panel.stop();
}
