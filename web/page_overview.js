// SPDX-License-Identifier: MIT
// Overview: what the sync is doing now, from GET /api/dashboard/stats and
// then the live "stats" events.

import { get } from "./api.js";
import { h, clear, fmtNum, plural, timeEl, pageHeader, errorBox, loading } from "./dom.js";
import { activityChart } from "./chart.js";

function card(title, value, sub, kind, link) {
  return h("div.card.stat" + (kind ? "." + kind : ""), null,
    h("h3", null, title),
    h("p.value", null, value),
    sub ? h("p.sub", null, sub) : null,
    link || null);
}

function budgetRow(label, b) {
  const remaining = b && Number.isFinite(Number(b.remaining)) ? Number(b.remaining) : null;
  const limit = b && Number(b.limit) > 0 ? Number(b.limit) : null;
  const pct = remaining !== null && limit ? Math.max(0, Math.min(100, (remaining / limit) * 100)) : null;
  const fill = h("span.meter-fill");
  if (pct !== null) {
    fill.style.width = pct.toFixed(1) + "%";
  }
  const level = pct === null ? "" : pct < 10 ? ".bad" : pct < 30 ? ".warn" : ".good";
  return h("div.budget", null,
    h("div.budget-head", null, h("span", null, label),
      h("span.num", null, remaining === null ? "not reported yet" :
        limit && remaining <= limit ? fmtNum(remaining) + " of " + fmtNum(limit) + " left" :
          limit || remaining > 0 ? fmtNum(remaining) + " left" : "no limit reported")),
    !limit ? null : h("div.meter" + level, {
      role: "meter",
      "aria-label": label + " API requests left",
      "aria-valuemin": "0",
      "aria-valuemax": String(limit || 100),
      "aria-valuenow": String(remaining === null ? 0 : remaining),
    }, fill));
}

function lastSyncRow(label, ts) {
  return h("div.kv", null, h("span", null, label),
    ts === null || ts === undefined ? h("span.muted", null, "nothing yet") : timeEl(ts));
}

function view(s) {
  const wh = s.webhooks || {};
  const whTotal = Number(wh.total) || 0;
  const whHealthy = Number(wh.healthy) || 0;
  const whKind = whTotal === 0 ? "warn" : whHealthy === whTotal ? "good" : "bad";
  const errors = Number(s.errors) || 0;
  const last = s.last_sync || {};
  const budget = s.budget || {};
  return [
    h("div.cards", null,
      card("Pairs synced", fmtNum(s.pairs),
        s.pairs_ended ? plural(s.pairs_ended, "pair") + " ended (an item was deleted)" :
          "Work items and tasks kept equal", null),
      card("Errors waiting", fmtNum(errors),
        errors ? "Changes that could not be synced" : "Nothing failed", errors ? "bad" : "good",
        errors ? h("a.more", { href: "#/errors" }, "Review errors →") : null),
      card("Queue", fmtNum(s.queue), "Changes received, not synced yet",
        Number(s.queue) > 100 ? "warn" : null),
      card("Webhooks", whTotal ? whHealthy + " / " + whTotal : "none",
        whTotal === 0 ? "No subscription yet" :
          whHealthy === whTotal ? "All healthy" : (whTotal - whHealthy) + " need attention",
        whKind, h("a.more", { href: "#/webhooks" }, "Details →"))),
    h("div.grid-2", null,
      h("section.card.wide", { "aria-labelledby": "act-title" },
        h("h3", { id: "act-title" }, "Activity in the last hour"),
        h("p.sub", null, "Changes received from the services, and updates written to them, per minute."),
        activityChart([
          { label: "Events received", values: s.events_per_minute || [], cls: "s1" },
          { label: "Updates pushed", values: s.pushes_per_minute || [], cls: "s2" },
        ])),
      h("div.stack", null,
        h("section.card", { "aria-labelledby": "last-title" },
          h("h3", { id: "last-title" }, "Last sync"),
          lastSyncRow("Azure DevOps → ClickUp", last.ado_to_clickup),
          lastSyncRow("ClickUp → Azure DevOps", last.clickup_to_ado)),
        h("section.card", { "aria-labelledby": "budget-title" },
          h("h3", { id: "budget-title" }, "API budget left"),
          budgetRow("Azure DevOps", budget.ado),
          budgetRow("ClickUp", budget.clickup)))),
  ];
}

export async function render(root, ctx) {
  const body = h("div", null, loading("Loading statistics…"));
  root.append(pageHeader("Overview",
    "What the sync is doing right now. This page updates by itself."), body);
  let gotLive = false;
  const off = ctx.live.on("stats", (s) => {
    if (s) {
      gotLive = true;
      clear(body, view(s));
    }
  });
  if (!gotLive) {
    try {
      const s = await get("/api/dashboard/stats");
      if (!gotLive && ctx.isCurrent()) {
        clear(body, view(s));
      }
    } catch (e) {
      if (!gotLive && ctx.isCurrent()) {
        clear(body, errorBox("Statistics are not available: " + e.message));
      }
    }
  }
  return off;
}
