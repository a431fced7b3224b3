// SPDX-License-Identifier: MIT
// Live updates: one EventSource on /api/events ("stats" every few seconds,
// "sync" per new sync-log row) shared by every page. When the stream is not
// available (an older daemon, a proxy that buffers) it falls back to polling
// the same data, so pages never need to care which one is running.

import { call } from "./api.js";

const POLL_MS = 5000;

export class Live {
  constructor() {
    this.handlers = { stats: new Set(), sync: new Set(), mode: new Set() };
    this.source = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.mode = "off"; // "live", "polling", "connecting", "off"
    this.lastStats = null;
    this.lastSyncId = null;
    this.running = false;
  }

  on(kind, fn) {
    this.handlers[kind].add(fn);
    if (kind === "stats" && this.lastStats) {
      fn(this.lastStats);
    }
    if (kind === "mode") {
      fn(this.mode);
    }
    return () => this.handlers[kind].delete(fn);
  }

  emit(kind, data) {
    if (kind === "stats") {
      this.lastStats = data;
    }
    if (kind === "sync" && data && typeof data.id === "number") {
      this.lastSyncId = Math.max(this.lastSyncId || 0, data.id);
    }
    for (const fn of this.handlers[kind]) {
      try {
        fn(data);
      } catch (e) {
        // One page's bug must not stop the others' updates.
        setTimeout(() => { throw e; });
      }
    }
  }

  setMode(mode) {
    if (mode !== this.mode) {
      this.mode = mode;
      this.emit("mode", mode);
    }
  }

  start() {
    if (this.running) {
      return;
    }
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    if (this.source) {
      this.source.close();
      this.source = null;
    }
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.pollTimer = null;
    this.lastStats = null;
    this.lastSyncId = null;
    this.setMode("off");
  }

  connect() {
    if (!this.running || typeof EventSource === "undefined") {
      this.startPolling();
      return;
    }
    this.setMode("connecting");
    const es = new EventSource("/api/events");
    this.source = es;
    es.addEventListener("open", () => {
      this.stopPolling();
      this.setMode("live");
    });
    es.addEventListener("stats", (ev) => this.emit("stats", parse(ev.data)));
    es.addEventListener("sync", (ev) => {
      const row = parse(ev.data);
      if (row) {
        this.emit("sync", row);
      }
    });
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (no such route, lost session): poll, and try the
        // stream again later.
        es.close();
        if (this.source === es) {
          this.source = null;
        }
        this.startPolling();
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.running && this.connect(), 60000);
      } else {
        // The browser reconnects by itself; poll meanwhile.
        this.setMode("connecting");
      }
    });
  }

  startPolling() {
    if (this.pollTimer || !this.running) {
      return;
    }
    this.setMode("polling");
    this.poll();
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  async poll() {
    const s = await call("GET", "/api/dashboard/stats");
    if (!this.running) {
      return;
    }
    if (s.status === 200 && s.data) {
      this.emit("stats", s.data);
    }
    const r = await call("GET", "/api/dashboard/sync-log?page=1&limit=20");
    if (!this.running || r.status !== 200 || !r.data || !Array.isArray(r.data.items)) {
      return;
    }
    const rows = r.data.items.filter((x) => typeof x.id === "number");
    if (this.lastSyncId === null) {
      // First poll: remember where we are, announce nothing old.
      this.lastSyncId = rows.reduce((m, x) => Math.max(m, x.id), 0);
      return;
    }
    const fresh = rows.filter((x) => x.id > this.lastSyncId).sort((a, b) => a.id - b.id);
    for (const row of fresh) {
      this.emit("sync", row);
    }
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
