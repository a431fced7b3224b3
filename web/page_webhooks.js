// SPDX-License-Identifier: MIT
// Webhooks: the state of every subscription the daemon keeps on both
// services (GET /api/setup/webhooks, refreshed by the daemon's periodic
// check) and "repair now" (POST /api/setup/register-webhooks).

import { get, post } from "./api.js";
import { h, clear, timeEl, pageHeader, emptyState, errorBox, loading, badge, toast, busy } from "./dom.js";

const SERVICE = { ado: "Azure DevOps", clickup: "ClickUp" };
const OUTCOME = {
  unchanged: ["Healthy", "good", "Exists and points at this daemon."],
  created: ["Created", "good", "Was missing and has been created."],
  updated: ["Repaired", "good", "Was wrong (address, events or disabled) and has been fixed."],
  recreated: ["Recreated", "good", "Could not be fixed in place, so it was made again."],
  deleted: ["Removed", "muted", "Was no longer needed and has been deleted."],
  failed: ["Failing", "bad", "Could not be checked or repaired."],
};

function view(d) {
  const items = d.items || [];
  const failed = items.filter((x) => x.outcome === "failed").length;
  const summary = !d.time ? h("div.notice", { role: "status" },
    d.running ? "The first check is running…" : "The subscriptions have not been checked yet.") :
    failed ? h("div.notice.error", { role: "status" },
      failed + " of " + items.length + " subscriptions are failing. Check the message, fix the cause, then repair.") :
      h("div.notice.ok", { role: "status" }, "All " + items.length + " subscriptions are healthy.");
  if (!items.length) {
    return [summary, d.time ? emptyState("No subscriptions",
      "There is nothing to subscribe to yet: add a mapping first.") : null];
  }
  return [
    summary,
    h("div.table-wrap", null, h("table.data.hooks", null,
      h("caption.visually-hidden", null, "Webhook subscriptions"),
      h("thead", null, h("tr", null,
        ["Service", "Subscription", "Health", "Details"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, items.map((w) => {
        const [label, kind, text] = OUTCOME[w.outcome] || [w.outcome, "muted", ""];
        return h("tr", null,
          h("td", { "data-label": "Service" }, badge(SERVICE[w.service] || w.service, w.service === "ado" ? "ado" : "cu")),
          h("td", { "data-label": "Subscription" }, h("span", null, String(w.label || "—").replace(/^(ado|clickup)\s+/i, "")),
            w.id ? h("span.sub.mono", null, w.id) : null),
          h("td", { "data-label": "Health" }, badge(label, kind)),
          h("td.detail", { "data-label": "Details" }, w.detail ? h("span.message", null, w.detail) : h("span.muted", null, text)));
      })))),
    h("p.sub", null, "Last checked ", timeEl(d.time), ". The daemon checks by itself periodically."),
  ];
}

export async function render(root, ctx) {
  const body = h("div", null, loading("Loading the subscriptions…"));
  const repair = h("button", { type: "button", id: "repair" }, "Repair now");
  root.append(pageHeader("Webhooks",
    "The services tell this daemon about every change through these subscriptions. " +
    "\u201cRepair now\u201d checks each one and creates or fixes whatever is missing or wrong.", repair), body);

  async function load() {
    try {
      const d = await get("/api/setup/webhooks");
      if (ctx.isCurrent()) {
        clear(body, view(d));
      }
    } catch (e) {
      if (ctx.isCurrent()) {
        clear(body, errorBox("The subscriptions are not available: " + e.message));
      }
    }
  }

  repair.addEventListener("click", () => busy(repair, async () => {
    repair.textContent = "Repairing…";
    try {
      const d = await post("/api/setup/register-webhooks", {});
      if (ctx.isCurrent()) {
        clear(body, view(d));
      }
      const failed = (d.items || []).filter((x) => x.outcome === "failed").length;
      toast(failed ? failed + " subscriptions still fail." : "Every subscription is in order.", failed ? "error" : "ok");
    } catch (e) {
      toast("Repair failed: " + e.message, "error");
    } finally {
      repair.textContent = "Repair now";
    }
  }));

  await load();
  const timer = setInterval(load, 30000);
  return () => clearInterval(timer);
}
