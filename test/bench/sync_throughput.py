#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end sync throughput of the release daemon against ado-clickup-sim (no
added latency), each RUNS times on a fresh simulator and database; prints medians
and the ratios to the targets of the sync-engine issue.

usage: test/bench/sync_throughput.py [BUILD_DIR]     (default build/release)
env:   RUNS=3 ITEMS=200 EDITS=2000 WORKERS=8 LAT_RATES="10 50" LAT_SECONDS=10
       CONCURRENCY=8 ([sync] concurrency) DELIVERY_CONCURRENCY=8 (webhook deliveries
       in flight per subscription in the simulators) LOG_LEVEL=warn PHASE_TIMEOUT=120

Per run, with the daemon's webhooks pointing straight at its listener:
  create   ITEMS tasks created on ClickUp (WORKERS keep-alive clients), until
           every one has its ADO twin linked both ways: creates/s.
  burst    EDITS title edits spread round-robin over the pairs (even pairs
           edited on ClickUp, odd ones on ADO; each pair by one worker, in
           order), as fast as the clients go, until every twin shows its
           pair's last title: changes/s = EDITS / (first edit -> converged).
           Edits of one item inside the scheduler's 1 s cooldown coalesce, so
           this counts human edits, not daemon jobs.
  latency  for each rate in LAT_RATES, LAT_SECONDS of title edits at that
           rate, round-robin (no item is edited twice within ITEMS / rate s,
           so a human's edits do not coalesce); from the simulators' request
           logs, the time from the edit reaching one simulator to the
           daemon's write reaching the other (time_ms: whole milliseconds,
           and it includes the simulator's webhook delivery).
API calls per change: the daemon's requests in a phase (the simulators' logs
minus the requests this script sent, a multiset difference on method, path and
status, as test/e2e/sim_harness.py does) / the edits of the phase."""
import collections
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
import sim_harness as H  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
ITEMS = int(os.environ.get("ITEMS", "200"))
EDITS = int(os.environ.get("EDITS", "2000"))
WORKERS = int(os.environ.get("WORKERS", "8"))
LAT_RATES = [float(r) for r in os.environ.get("LAT_RATES", "10 50").split()]
LAT_SECONDS = float(os.environ.get("LAT_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "8"))
LOG_LEVEL = os.environ.get("LOG_LEVEL", "warn")
PHASE_TIMEOUT = float(os.environ.get("PHASE_TIMEOUT", "120"))
# Webhook deliveries the simulators start at once per subscription (seed
# <service>.webhook.concurrency); real services deliver concurrently.
DELIVERY_CONCURRENCY = int(os.environ.get("DELIVERY_CONCURRENCY", "8"))


def seed_patch(seed):
    for svc in ("ado", "clickup"):
        seed[svc].setdefault("webhook", {})["concurrency"] = DELIVERY_CONCURRENCY

ADO_WRITE = re.compile(r"(?i)/_apis/wit/workitems/(\d+)$")
CU_WRITE = re.compile(r"(?i)/api/v2/task/([0-9a-z]+)$")


def log(msg):
    print(msg, flush=True)


# --- keep-alive clients that remember what they sent --------------------------------------

class Sender:
    """HTTP/1.1 keep-alive client of one simulator port, one connection per
    thread; records (method, normalised path, status) of every attempt, as
    sim_harness.Client does, so the daemon's requests can be told apart."""

    def __init__(self, port, headers):
        self.port = port
        self.headers = headers
        self.local = threading.local()
        self.lock = threading.Lock()
        self.sent = collections.Counter()

    def _record(self, method, path, status):
        with self.lock:
            self.sent[(method, H.norm_path(path), status)] += 1

    def send(self, method, path, body=None, ctype="application/json"):
        h = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = ctype
        p = path.split("?", 1)[0]
        for _ in range(40):
            c = getattr(self.local, "c", None)
            if c is None:
                c = self.local.c = http.client.HTTPConnection("127.0.0.1", self.port,
                                                              timeout=30)
            try:
                c.request(method, path, body=data, headers=h)
                r = c.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException):
                c.close()
                self.local.c = None
                self._record(method, p, 0)
                time.sleep(0.01)
                continue
            self._record(method, p, r.status)
            if r.status == 429 or r.status >= 500:
                time.sleep(0.05)
                continue
            return r.status, (json.loads(raw) if raw else None)
        raise RuntimeError("%s %s kept failing" % (method, path))


# --- one world: simulator + daemon ----------------------------------------------------------

class World:
    def __init__(self, daemon_bin):
        self.sim = H.Sim(seed_patch=seed_patch)
        i = self.sim.info
        self.port = H.free_port()
        self.dir = tempfile.mkdtemp(prefix="acs-bench-sync-")
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = {
            "server": {"listen": "127.0.0.1:%d" % self.port, "public_url": self.url},
            "database": {"url": "sqlite:" + os.path.join(self.dir, "sync.db")},
            "log": {"level": LOG_LEVEL},
            "ado": {"base_url": i["ado"]["base_url"], "organization": i["ado"]["organization"],
                    "project": i["ado"]["project"], "pat": i["ado"]["pat"],
                    "webhook_username": H.WEBHOOK_USER,
                    "webhook_password": H.WEBHOOK_PASSWORD},
            "clickup": {"base_url": i["clickup"]["base_url"], "token": i["clickup"]["token"],
                        "workspace_id": i["clickup"]["team_id"]},
            "sync": {"conflict": "newest", "sweep_interval": "24h",
                     "concurrency": str(CONCURRENCY)},
            "map bench": dict({"ado_project": i["ado"]["project"],
                               "clickup_list_id": i["clickup"]["list_ids"][0],
                               "ado_new_item_type": H.NEW_ITEM_TYPE},
                              **{"status." + k: v for k, v in H.STATUS_OF_STATE.items()}),
        }
        path = os.path.join(self.dir, "config.ini")
        with open(path, "w") as f:
            for sec, kv in cfg.items():
                f.write("[%s]\n" % sec)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
        self.log_path = os.path.join(self.dir, "daemon.log")
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen([daemon_bin, "serve", "-c", path],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        self.ado = H.AdoHuman(self.sim)
        self.cu = H.ClickUpHuman(self.sim)
        self.fast = {
            "ado": Sender(self.sim.port["ado"], {"Authorization": self.ado.auth}),
            "clickup": Sender(self.sim.port["clickup"], {"Authorization": self.cu.token}),
        }
        self.ado_prefix = "/%s/%s/_apis/" % (self.ado.org, urllib.parse.quote(self.ado.project))
        H.wait_until("the daemon to be ready", self.ready, timeout=30,
                     detail=self.daemon_log)
        H.wait_until("the daemon's webhooks", self.registered, timeout=30,
                     detail=self.daemon_log)

    def daemon_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("daemon exited:\n" + self.daemon_log())
        try:
            return H.http_request(self.port, "GET", "/api/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def registered(self):
        subs = [s for s in self.ado.subscriptions()
                if s.get("consumerInputs", {}).get("url", "").startswith(self.url)]
        events = {s.get("eventType") for s in subs}
        return {"workitem.created", "workitem.updated"} <= events and any(
            w.get("endpoint", "").startswith(self.url) for w in self.cu.webhooks())

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self.sim.kill()
            subprocess.run(["rm", "-rf", self.dir, self.sim.dir], check=False)

    # request accounting (see sim_harness.World.daemon_requests)
    def human_sent(self, svc):
        return self.ado.sent + self.fast["ado"].sent if svc == "ado" else \
            self.cu.sent + self.fast["clickup"].sent

    def mark(self):
        return {s: (len(self.sim.requests(s)), collections.Counter(self.human_sent(s)))
                for s in ("ado", "clickup")}

    def daemon_requests(self, since):
        """svc -> [log entry] the daemon sent since the mark."""
        out = {}
        for svc in ("ado", "clickup"):
            n, human = since[svc]
            mine = self.human_sent(svc) - human
            rest = []
            for e in self.sim.requests(svc)[n:]:
                key = (e["method"], H.norm_path(e["path"]), e.get("status"))
                if mine[key] > 0:
                    mine[key] -= 1
                else:
                    rest.append(e)
            out[svc] = rest
        return out

    def inbox_busy(self):
        """Inbox rows the daemon has yet to finish (read-only look at its database)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "sync.db"), uri=True,
                             timeout=5)
        try:
            return db.execute("SELECT count(*) FROM inbox WHERE state IN "
                              "('pending', 'processing')").fetchone()[0]
        finally:
            db.close()

    def wait_quiet(self, quiet=0.5):
        """Until no webhook is pending, the daemon's inbox is worked off and
        neither log grew for `quiet` s."""
        st = {"n": None, "since": time.time()}

        def cond():
            if self.sim.pending("ado") or self.sim.pending("clickup") or self.inbox_busy():
                st["n"] = None
                return False
            n = (len(self.sim.requests("ado")), len(self.sim.requests("clickup")))
            if n != st["n"]:
                st["n"], st["since"] = n, time.time()
                return False
            return time.time() - st["since"] >= quiet
        H.wait_until("quiescence", cond, timeout=PHASE_TIMEOUT, interval=0.05)

    # reads (bulk, cheap enough to poll)
    def ado_items(self, ids=None, expand="all"):
        """id -> work item (with relations, or only the title for expand=None);
        every item of the project when ids is None."""
        if ids is None:
            q = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project"
            st, r = self.fast["ado"].send("POST", self.ado_prefix + "wit/wiql?" + H.V,
                                          {"query": q})
            ids = [w["id"] for w in r["workItems"]]
        out = {}
        for k in range(0, len(ids), 200):
            q = {"ids": list(ids[k:k + 200])}
            q.update({"$expand": expand} if expand else {"fields": ["System.Title"]})
            st, r = self.fast["ado"].send("POST", self.ado_prefix + "wit/workitemsbatch?" + H.V,
                                          q)
            for wi in r["value"]:
                out[wi["id"]] = wi
        return out

    def cu_tasks(self, md=True):
        out, page = {}, 0
        while True:
            st, r = self.fast["clickup"].send(
                "GET", "/api/v2/list/%s/task?page=%d&include_closed=true%s"
                % (self.cu.list_id, page, "&include_markdown_description=true" if md else ""))
            for t in r["tasks"]:
                out[t["id"]] = t
            if r.get("last_page", True) or not r["tasks"]:
                return out
            page += 1

    # edits
    def edit_title(self, side, ident, title):
        if side == "clickup":
            st, _ = self.fast["clickup"].send("PUT", "/api/v2/task/%s" % ident, {"name": title})
        else:
            st, _ = self.fast["ado"].send(
                "PATCH", self.ado_prefix + "wit/workitems/%s?%s" % (ident, H.V),
                [{"op": "add", "path": "/fields/System.Title", "value": title}],
                ctype=H.PATCH_CT)
        if st != 200:
            raise RuntimeError("edit of %s %s: %s" % (side, ident, st))


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """CPU seconds (user + system) of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Cpu:
    """CPU use of the daemon, the simulator and this script over a phase."""

    def __init__(self, w):
        self.w = w
        self.t0 = time.time()
        self.c0 = self.now()

    def now(self):
        t = os.times()
        return (cpu_s(self.w.proc.pid), cpu_s(self.w.sim.proc.pid), t.user + t.system)

    def daemon_s(self):
        """CPU seconds the daemon used since the phase began."""
        return self.now()[0] - self.c0[0]

    def __str__(self):
        dt = time.time() - self.t0
        d = [(b - a) / dt * 100 for a, b in zip(self.c0, self.now())]
        return "cpu: daemon %.0f%%, sim %.0f%%, script %.0f%%" % tuple(d)


def run_parallel(n_workers, fn):
    """fn(worker index) in n_workers threads; re-raises the first error."""
    errs = []

    def body(w):
        try:
            fn(w)
        except BaseException as e:  # noqa: BLE001 - reported below
            errs.append(e)
    ts = [threading.Thread(target=body, args=(w,), daemon=True) for w in range(n_workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(PHASE_TIMEOUT)
    if errs:
        raise errs[0]
    if any(t.is_alive() for t in ts):
        raise RuntimeError("clients did not finish in %ss" % PHASE_TIMEOUT)


def calls(w, mark):
    reqs = w.daemon_requests(mark)
    out = {"total": 0, "writes": 0}
    for svc, rs in reqs.items():
        setup = [e for e in rs if H.SETUP_PATH.search(e["path"])]
        rs = [e for e in rs if e not in setup]
        out[svc] = len(rs)
        out["total"] += len(rs)
        out["writes"] += sum(1 for e in rs if H.is_write(e["method"], e["path"]))
    return out, reqs


# --- phases ----------------------------------------------------------------------------------

def phase_create(w):
    """Create ITEMS tasks, wait until all are paired both ways. Returns
    (pairs [(task id, work item id)], creates/s, calls)."""
    mark = w.mark()
    tids = [None] * ITEMS
    t0 = time.time()
    cpu = Cpu(w)

    def worker(k):
        for i in range(k, ITEMS, WORKERS):
            st, t = w.fast["clickup"].send("POST", "/api/v2/list/%s/task" % w.cu.list_id,
                                           {"name": "bench item %d" % i, "status": "to do",
                                            "priority": 3})
            if st != 200:
                raise RuntimeError("create: %s %s" % (st, t))
            tids[i] = t["id"]
    run_parallel(WORKERS, worker)
    want = set(tids)
    last = {}

    def paired():
        wis = w.ado_items()
        a2c = {wid: H.ado_link_of(wi) for wid, wi in wis.items()}
        linked = {c: a for a, c in a2c.items() if c in want}
        last["n"] = len(linked)
        if len(linked) < ITEMS:
            return None
        tasks = w.cu_tasks()
        back = sum(1 for tid in want if H.clickup_link_of(tasks[tid]) == linked[tid])
        last["back"] = back
        return linked if back == ITEMS else None
    linked = H.wait_until("%d twins" % ITEMS, paired, timeout=PHASE_TIMEOUT, interval=0.05,
                          detail=lambda: "%r\n%s" % (last, w.daemon_log()))
    dt = time.time() - t0
    load = str(cpu)
    w.wait_quiet()
    c, _ = calls(w, mark)
    c["cpu"] = load
    return [(tid, linked[tid]) for tid in tids], ITEMS / dt, c


def phase_burst(w, pairs):
    """EDITS title edits as fast as the clients go; time to convergence."""
    final = {}
    plan = collections.defaultdict(list)  # worker -> [(k, side, id, title)]
    for i in range(EDITS):
        k = i % ITEMS
        tid, wid = pairs[k]
        side = "clickup" if k % 2 == 0 else "ado"
        title = "bench %d edit %d" % (k, i)
        plan[k % WORKERS].append((k, side, tid if side == "clickup" else wid, title))
        final[k] = title
    mark = w.mark()
    t0 = time.time()
    cpu = Cpu(w)
    run_parallel(WORKERS, lambda n: [w.edit_title(s, ident, t) for _, s, ident, t in plan[n]])
    t_sent = time.time() - t0
    edited = {k for k in final}
    last = {"drained": None}

    def converged():
        # When the simulators' webhook queues ran empty: they deliver one at a
        # time per subscription, so this bounds the rate events can arrive.
        if last["drained"] is None and not w.sim.pending("ado") and \
                not w.sim.pending("clickup"):
            last["drained"] = time.time() - t0
        wis = w.ado_items([pairs[k][1] for k in edited if k % 2 == 0], expand=None)
        tasks = w.cu_tasks(md=False)
        bad = [k for k in edited if
               (wis[pairs[k][1]]["fields"]["System.Title"] if k % 2 == 0
                else tasks[pairs[k][0]]["name"]) != final[k]]
        last["bad"] = len(bad)
        return not bad
    H.wait_until("the edits to converge", converged, timeout=PHASE_TIMEOUT, interval=0.02,
                 detail=lambda: "%r\n%s" % (last, w.daemon_log()))
    dt = time.time() - t0
    load = str(cpu)
    w.wait_quiet()
    c, _ = calls(w, mark)
    c["cpu"] = load
    c["daemon_ms"] = cpu.daemon_s() * 1000 / EDITS  # until quiet: every job done
    c["sent_s"] = t_sent
    c["drained_s"] = last["drained"] if last["drained"] is not None else dt
    c["converged_s"] = dt
    return EDITS / dt, EDITS / t_sent, c


def phase_latency(w, pairs, rate, n):
    """n title edits at rate/s; the latency of each (ms), and calls."""
    time.sleep(1.2)  # past the scheduler's cooldown of the burst's last jobs
    mark = w.mark()
    edits = []
    t0 = time.time()
    cpu = Cpu(w)
    for j in range(n):
        due = t0 + j / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        k = j % ITEMS
        tid, wid = pairs[k]
        side = "clickup" if k % 2 == 0 else "ado"
        w.edit_title(side, tid if side == "clickup" else wid, "bench %d lat %d" % (k, j))
        edits.append((side, str(tid if side == "clickup" else wid),
                      str(wid if side == "clickup" else tid)))
    load = str(cpu)
    w.wait_quiet()
    c, reqs = calls(w, mark)
    c["cpu"] = load
    logs = {s: w.sim.requests(s)[mark[s][0]:] for s in ("ado", "clickup")}

    def writes(svc, rx, method):
        """id -> [time_ms] of the log's writes (method, path rx) in order."""
        out = collections.defaultdict(list)
        for e in logs[svc]:
            m = rx.search(e["path"])
            if m and e["method"] == method:
                out[m.group(1).lower()].append(e["time_ms"])
        return out
    ado_w = writes("ado", ADO_WRITE, "PATCH")
    cu_w = writes("clickup", CU_WRITE, "PUT")
    mine = collections.Counter()
    lat = []
    for side, src, twin in edits:
        src_w, twin_w = (cu_w, ado_w) if side == "clickup" else (ado_w, cu_w)
        # The pair's items are edited on one side only, so the writes to the
        # source item are this script's, in order, and those to the twin the
        # daemon's. An item's edits are ITEMS / rate s apart, so the first
        # write to the twin after an edit is the one carrying it (or, if the
        # daemon coalesced, a later edit with it).
        t_edit = src_w[src.lower()][mine[src]]
        mine[src] += 1
        after = [t for t in twin_w[twin.lower()] if t > t_edit]
        if after:
            lat.append(after[0] - t_edit)
    return lat, c


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


def one_run(daemon_bin, n):
    w = World(daemon_bin)
    try:
        pairs, cps, cc = phase_create(w)
        log("run %d: create  %7.0f pairs/s        %.2f API calls per pair (%d writes / %d); %s"
            % (n, cps, cc["total"] / ITEMS, cc["writes"], ITEMS, cc["cpu"]))
        tps, sps, bc = phase_burst(w, pairs)
        log("run %d: burst   %7.0f changes/s      %.2f API calls per change (%d, %d writes; "
            "ado %d, clickup %d); %s"
            % (n, tps, bc["total"] / EDITS, bc["total"], bc["writes"], bc["ado"],
               bc["clickup"], bc["cpu"]))
        log("        edits sent in %.2f s (%.0f/s), the simulators' webhook queues empty "
            "after %.2f s, converged after %.2f s; daemon CPU %.3f ms per change"
            % (bc["sent_s"], sps, bc["drained_s"], bc["converged_s"], bc["daemon_ms"]))
        res = {"create": cps, "create_calls": cc["total"] / ITEMS, "tput": tps,
               "burst_calls": bc["total"] / EDITS, "drained": bc["drained_s"],
               "daemon_ms": bc["daemon_ms"]}
        for rate in LAT_RATES:
            m = max(1, int(rate * LAT_SECONDS))
            lat, lc = phase_latency(w, pairs, rate, m)
            log("run %d: at %g edits/s: p50 %s ms, p99 %s ms, max %s ms (%d/%d edits matched); "
                "%.2f API calls per change (%d writes / %d); %s"
                % (n, rate, pct(lat, 50), pct(lat, 99), max(lat) if lat else "-", len(lat), m,
                   lc["total"] / m, lc["writes"], m, lc["cpu"]))
            res.update({("p50", rate): pct(lat, 50), ("p99", rate): pct(lat, 99),
                        ("max", rate): max(lat) if lat else float("nan"),
                        ("calls", rate): lc["total"] / m})
        return res
    finally:
        w.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "release")
    daemon = os.path.join(build, "daemon", "ado-clickup-sync")
    sim = os.path.join(build, "test", "sim", "ado-clickup-sim")
    if not (os.access(daemon, os.X_OK) and os.access(sim, os.X_OK)):
        if not os.path.exists(os.path.join(build, "build.ninja")):
            subprocess.run(["meson", "setup", build, ROOT, "-Dbuildtype=release",
                            "-Dtests=enabled", "--wrap-mode=nodownload"], check=True)
        subprocess.run(["ninja", "-C", build, "-j2", "daemon/ado-clickup-sync",
                        "test/sim/ado-clickup-sim"], check=True)
    H.SIM = sim
    # SIGTERM/SIGINT/SIGALRM unwind through the finally blocks (processes killed).
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(s, lambda *_: sys.exit(3))
    signal.alarm(int(RUNS * ((4 + len(LAT_RATES)) * PHASE_TIMEOUT + len(LAT_RATES) *
                             LAT_SECONDS + 60)))
    res = [one_run(daemon, n + 1) for n in range(RUNS)]
    med = {k: statistics.median(r[k] for r in res) for k in res[0]}
    log("median over %d runs (%d pairs, %d burst edits by %d clients, isolated edits for %gs "
        "at %s/s, [sync] concurrency %d, %d deliveries in flight per subscription, "
        "log level %s):"
        % (RUNS, ITEMS, EDITS, WORKERS, LAT_SECONDS, ", ".join("%g" % r for r in LAT_RATES),
           CONCURRENCY, DELIVERY_CONCURRENCY, LOG_LEVEL))
    log("  creates paired both ways:  %7.0f pairs/s, %.2f API calls per pair"
        % (med["create"], med["create_calls"]))
    log("  burst of edits:            %7.0f changes/s   (target >= 2000; ratio %.2f); "
        "webhook queues empty after %.2f s" % (med["tput"], med["tput"] / 2000, med["drained"]))
    log("  API calls per change:      %7.2f in the burst (coalesced)   (target <= 1.5)"
        % med["burst_calls"])
    log("  daemon CPU per change:     %7.3f ms in the burst (2,000 changes/s on 2 cores leave "
        "the daemon at most 1 ms with nothing else running)" % med["daemon_ms"])
    for r in LAT_RATES:
        log("  at %4g edits/s: edit -> twin written p50 %g ms, p99 %g ms, max %g ms "
            "(targets 3 / 10: ratios %.2f / %.2f); %.2f API calls per change"
            % (r, med[("p50", r)], med[("p99", r)], med[("max", r)], med[("p50", r)] / 3,
               med[("p99", r)] / 10, med[("calls", r)]))

if __name__ == "__main__":
    main()
