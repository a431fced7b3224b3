// SPDX-License-Identifier: MIT
// Errors: the queue of changes that failed for good (GET /api/dashboard/errors),
// with the service's own message; retry or dismiss one, a selection or all.

import { get, post, query } from "./api.js";
import { h, clear, timeEl, fmtNum, pageHeader, emptyState, errorBox, loading, badge, toast,
  confirmDialog, busy, plural } from "./dom.js";

const LIMIT = 25;
const SOURCE = { ado: "Azure DevOps", clickup: "ClickUp" };

export async function render(root, ctx) {
  let page = Math.max(1, parseInt(ctx.params.get("page") || "1", 10) || 1);
  let data = null;
  let seq = 0;
  const selected = new Set();
  const results = h("div.results", null, loading("Loading the error queue…"));
  const selectAll = h("input", { type: "checkbox", id: "err-all", "aria-label": "Select every error on this page" });
  const retrySel = h("button", { type: "button", disabled: true }, "Retry selected");
  const dismissSel = h("button.secondary", { type: "button", disabled: true }, "Dismiss selected");
  const retryAll = h("button.secondary", { type: "button" }, "Retry all");
  const dismissAll = h("button.secondary.danger-text", { type: "button" }, "Dismiss all");
  const selInfo = h("span.sel-info", { role: "status" });
  const bulk = h("div.bulk", { role: "toolbar", "aria-label": "Act on several errors" },
    h("label.check", { for: "err-all" }, selectAll, "Select page"), selInfo, retrySel, dismissSel,
    h("span.spacer"), retryAll, dismissAll);

  root.append(pageHeader("Errors",
    "Changes that could not be synced after every retry, with the message the service gave. " +
    "Fix the cause (a permission, a required field, a deleted list), then retry them, or dismiss them."),
  bulk, results);

  function updateBulk() {
    const n = selected.size;
    retrySel.disabled = dismissSel.disabled = n === 0;
    selInfo.textContent = n ? n + " selected" : "";
    const boxes = results.querySelectorAll("input.row-check");
    selectAll.checked = boxes.length > 0 && n === boxes.length;
    selectAll.indeterminate = n > 0 && n < boxes.length;
    const empty = !data || !(data.items || []).length;
    retryAll.disabled = dismissAll.disabled = empty;
    selectAll.disabled = empty;
  }

  async function load() {
    const mine = ++seq;
    history.replaceState(null, "", "#/errors" + query({ page: page > 1 ? page : "" }));
    try {
      const d = await get("/api/dashboard/errors" + query({ page, limit: LIMIT }));
      if (mine !== seq || !ctx.isCurrent()) {
        return;
      }
      if (!(d.items || []).length && page > 1 && Number(d.total) > 0) {
        page = Math.max(1, Math.ceil(Number(d.total) / (Number(d.limit) || LIMIT)));
        return load();
      }
      data = d;
      draw();
    } catch (e) {
      if (mine === seq && ctx.isCurrent()) {
        clear(results, errorBox("The error queue could not be loaded: " + e.message));
      }
    }
  }

  async function act(ids, what) {
    const verb = what === "retry" ? "retry" : "dismiss";
    try {
      if (ids.length === 1) {
        await post("/api/dashboard/errors/" + encodeURIComponent(ids[0]) + "/" + verb, {});
      } else {
        await post("/api/dashboard/errors/" + verb, ids === "all" ? { all: true } :
          { ids: ids.map((x) => (/^\d+$/.test(x) ? Number(x) : x)) });
      }
      toast(what === "retry" ?
        (ids === "all" ? "Every error was queued for another try." :
          plural(ids.length, "error") + " queued for another try.") :
        (ids === "all" ? "Every error was dismissed." : plural(ids.length, "error") + " dismissed."), "ok");
      if (ids !== "all") {
        for (const id of ids) {
          selected.delete(String(id));
        }
      } else {
        selected.clear();
      }
    } catch (e) {
      toast("Could not " + verb + ": " + e.message, "error");
    }
    await load();
  }

  function row(e) {
    const id = String(e.id);
    const check = h("input.row-check", { type: "checkbox", "aria-label": "Select error " + id,
      checked: selected.has(id) });
    check.addEventListener("change", () => {
      if (check.checked) {
        selected.add(id);
      } else {
        selected.delete(id);
      }
      updateBulk();
    });
    const retry = h("button.small", { type: "button", "aria-label": "Retry error " + id }, "Retry");
    const dismiss = h("button.small.secondary", { type: "button", "aria-label": "Dismiss error " + id }, "Dismiss");
    retry.addEventListener("click", () => busy(retry, () => act([id], "retry")));
    dismiss.addEventListener("click", () => busy(dismiss, () => act([id], "dismiss")));
    return h("tr", { "data-id": id },
      h("td.check-cell", null, check),
      h("td", { "data-label": "Received" }, timeEl(e.received_at)),
      h("td", { "data-label": "From" }, badge(SOURCE[e.source] || e.source || "?", e.source === "ado" ? "ado" : "cu"),
        e.event_type ? h("span.sub", null, e.event_type) : null),
      h("td", { "data-label": "Item" }, h("code", null, e.item_key || "—")),
      h("td.num", { "data-label": "Attempts" }, fmtNum(e.attempts)),
      h("td.detail", { "data-label": "Message" }, h("div", null,
        h("span.message.error-text", null, e.last_error || "(no message)"))),
      h("td.row-actions", { "data-label": "Actions" }, retry, dismiss));
  }

  function draw() {
    const items = data.items || [];
    const total = Number(data.total) || 0;
    const limit = Number(data.limit) || LIMIT;
    const pages = Math.max(1, Math.ceil(total / limit));
    for (const id of [...selected]) {
      if (!items.some((e) => String(e.id) === id)) {
        selected.delete(id);
      }
    }
    if (!items.length) {
      clear(results, emptyState("No errors waiting",
        "Every change went through. Changes that fail after all retries will wait here for you."));
      updateBulk();
      return;
    }
    const first = (page - 1) * limit + 1;
    clear(results,
      h("div.table-wrap", null, h("table.data.errors", null,
        h("caption.visually-hidden", null, "Errors waiting, page " + page + " of " + pages),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, h("span.visually-hidden", null, "Select")),
          ["Received", "From", "Item", "Attempts", "Message", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, items.map(row)))),
      h("nav.pager", { "aria-label": "Error queue pages" },
        h("span", null, "Errors " + fmtNum(first) + "–" + fmtNum(first + items.length - 1) + " of " + fmtNum(total)),
        h("span.pager-buttons", null,
          h("button.secondary", { type: "button", disabled: page <= 1,
            onclick: () => { page--; load(); } }, "← Previous"),
          h("span.page-no", null, "Page " + page + " of " + pages),
          h("button.secondary", { type: "button", disabled: page >= pages,
            onclick: () => { page++; load(); } }, "Next →"))));
    updateBulk();
  }

  selectAll.addEventListener("change", () => {
    for (const box of results.querySelectorAll("input.row-check")) {
      box.checked = selectAll.checked;
      const id = box.closest("tr").dataset.id;
      if (selectAll.checked) {
        selected.add(id);
      } else {
        selected.delete(id);
      }
    }
    updateBulk();
  });
  retrySel.addEventListener("click", () => busy(retrySel, () => act([...selected], "retry")));
  dismissSel.addEventListener("click", async () => {
    if (await confirmDialog("Dismiss " + plural(selected.size, "error") + "?",
      "Dismissed changes are not synced. The items stay as they are on both sides.", "Dismiss", true)) {
      await busy(dismissSel, () => act([...selected], "dismiss"));
    }
  });
  retryAll.addEventListener("click", () => busy(retryAll, () => act("all", "retry")));
  dismissAll.addEventListener("click", async () => {
    if (await confirmDialog("Dismiss every error?",
      "All " + fmtNum(data && data.total) + " waiting changes will be dropped without syncing.", "Dismiss all", true)) {
      await busy(dismissAll, () => act("all", "dismiss"));
    }
  });

  // The queue changed elsewhere (a retry failed again, a new failure): reload
  // unless the user is in the middle of selecting rows.
  let lastCount = null;
  const off = ctx.live.on("stats", (s) => {
    const n = Number(s && s.errors);
    if (lastCount !== null && n !== lastCount && selected.size === 0 && data) {
      load();
    }
    lastCount = n;
  });

  updateBulk();
  await load();
  return off;
}
