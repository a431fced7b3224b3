#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end sync throughput and latency of the daemon against ado-clickup-sim (no
added latency), each RUNS times on a fresh simulator and database; prints medians
and the ratios to the targets of the sync-engine issue.

usage: test/bench/sync_throughput.py [BUILD_DIR]     (default build/release)
env:   RUNS=3 ITEMS=1000 EDITS=ITEMS BURSTS=3 WORKERS=8 LAT_RATES="10 50"
       LAT_SECONDS=10 CONCURRENCY=8 ([sync] concurrency) DELIVERY_CONCURRENCY=8
       (webhook deliveries in flight per subscription in the simulators)
       LOG_LEVEL=warn (debug: also the daemon's own "run timing" percentiles)
       PHASE_TIMEOUT=120 PERF_OUT= (perf record -g of the daemon per burst)
       PERF_CALLGRAPH=fp (or dwarf: call chains through libraries without frame pointers)
       PERF_SIM= (set: profile the simulator instead of the daemon)

Per run, with the daemon's webhooks pointing straight at its listener:
  create   ITEMS tasks created on ClickUp (WORKERS keep-alive clients), until
           every one has its ADO twin linked both ways: creates/s.
  burst    BURSTS times: EDITS title edits made inside the simulators
           (POST /_sim/churn, as fast as they go; even pairs edited on ClickUp,
           odd ones on ADO, round-robin, every value unique), until every twin
           shows its item's last value: changes/s = EDITS / (first edit -> the
           daemon's last twin write), on the simulator's µs clock; twin writes/s
           = the daemon's title writes over the same time. With EDITS <= ITEMS
           no edit coalesces.
  latency  for each rate in LAT_RATES, LAT_SECONDS of edits at that rate (two
           churns, rate/2 each): per edit, the simulator's µs clock before the
           edit -> the arrival of the daemon's write to its twin (includes the
           webhook delivery); edits without a write of their own before the
           item's next edit are counted apart.
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
ITEMS = int(os.environ.get("ITEMS", "1000"))
EDITS = int(os.environ.get("EDITS", str(ITEMS)))
WORKERS = int(os.environ.get("WORKERS", "8"))
LAT_RATES = [float(r) for r in os.environ.get("LAT_RATES", "10 50").split()]
LAT_SECONDS = float(os.environ.get("LAT_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "8"))
LOG_LEVEL = os.environ.get("LOG_LEVEL", "warn")
PHASE_TIMEOUT = float(os.environ.get("PHASE_TIMEOUT", "120"))
# Webhook deliveries the simulators start at once per subscription (seed
# <service>.webhook.concurrency); real services deliver concurrently.
DELIVERY_CONCURRENCY = int(os.environ.get("DELIVERY_CONCURRENCY", "8"))
BURSTS = int(os.environ.get("BURSTS", "3"))
PERF_OUT = os.environ.get("PERF_OUT")  # perf.data prefix: profile the daemon per burst


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

    def store_counts(self):
        """The store's counters from GET /metrics: write jobs, commits, reads."""
        st, _, body = H.http_request(self.port, "GET", "/metrics", timeout=5)
        out = collections.Counter()
        for line in body.decode().splitlines():
            for name, key in (('acs_store_write_jobs_total{result="committed"}', "writes"),
                              ('acs_store_commits_total{result="ok"}', "commits"),
                              ('acs_store_reads_total{result="ok"}', "reads")):
                if line.startswith(name + " "):
                    out[key] = float(line.split()[-1])
        return out

    def registered(self):
        subs = [s for s in self.ado.subscriptions()
                if s.get("consumerInputs", {}).get("url", "").startswith(self.url)]
        events = {s.get("eventType") for s in subs}
        return {"workitem.created", "workitem.updated"} <= events and any(
            w.get("endpoint", "").startswith(self.url) for w in self.cu.webhooks())

    def close(self):
        if os.environ.get("SAVE_LOG"):
            import shutil
            shutil.copy(self.log_path, os.environ["SAVE_LOG"])
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if os.environ.get("SAVE_DB"):  # after the daemon's last checkpoint
                import shutil
                shutil.copy(os.path.join(self.dir, "sync.db"), os.environ["SAVE_DB"])
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

    def log_rows(self, since_id=0):
        """(largest sync_log id, 'updated' rows after since_id): the daemon's own count
        of the changes it wrote, read from its database (costs the simulator nothing)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "sync.db"), uri=True,
                             timeout=5)
        try:
            top = db.execute("SELECT coalesce(max(id), 0) FROM sync_log").fetchone()[0]
            n = db.execute("SELECT count(*) FROM sync_log WHERE id > ? AND action = 'updated'",
                           (since_id,)).fetchone()[0]
            return top, n
        finally:
            db.close()

    def inbox_busy(self):
        """Inbox rows the daemon has yet to finish (read-only look at its database)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "sync.db"), uri=True,
                             timeout=5)
        try:
            return db.execute("SELECT (SELECT count(*) FROM inbox WHERE state = 'pending')"
                              " + (SELECT count(*) FROM inbox WHERE state = 'processing')"
                              ).fetchone()[0]
        finally:
            db.close()

    def first_sweep_done(self):
        """Whether the daemon's first reconciliation sweep (5 s after its start) has
        stored its watermarks (read-only look at its database)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "sync.db"), uri=True,
                             timeout=5)
        try:
            return db.execute("SELECT count(*) FROM meta WHERE key IN "
                              "('sweep.ado.watermark', 'sweep.clickup.watermark')"
                              ).fetchone()[0] == 2
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


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """CPU seconds (user + system) of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def sched(pid):
    """thread name -> (ns on a CPU, ns runnable but waiting for one), summed by name."""
    out = collections.defaultdict(lambda: [0, 0])
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open("%s/%s/comm" % (base, tid)) as f:
                name = f.read().strip()
            with open("%s/%s/schedstat" % (base, tid)) as f:
                run, wait = f.read().split()[:2]
        except OSError:
            continue
        out[name][0] += int(run)
        out[name][1] += int(wait)
    return out


class Sched:
    """SCHED=1: per thread of the daemon and the simulator, CPU time and run-queue
    wait over the burst (until converged), in ms: is a thread or the machine the
    limit?"""

    def __init__(self, w):
        self.w = w
        self.a = self.now()
        self.t0 = time.time()

    def now(self):
        out = {}
        for who, pid in (("d", self.w.proc.pid), ("s", self.w.sim.proc.pid)):
            for name, v in sched(pid).items():
                out[who + ":" + name] = v
        return out

    def __str__(self):
        b, dt = self.now(), time.time() - self.t0
        parts = []
        for k in sorted(b):
            run = (b[k][0] - self.a.get(k, [0, 0])[0]) / 1e6
            wait = (b[k][1] - self.a.get(k, [0, 0])[1]) / 1e6
            if run > 1:
                parts.append("%s run %.0f wait %.0f" % (k, run, wait))
        return "sched over %.0f ms: %s" % (dt * 1000, "; ".join(parts))


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


def churn(w, svc, ids, edits, rate, prefix):
    """Start POST /_sim/churn on svc: edit i sets the title of ids[i % len] to
    "<prefix> <i>"; ADO edits are made as the human PAT's user."""
    body = {"ids": [str(x) for x in ids], "edits": int(edits), "rate": rate,
            "prefix": prefix}
    if svc == "ado":
        body["actor"] = H.HUMAN_PAT
    return w.sim.ctl(svc, "POST", "churn", body)


def churn_wait(w, svc):
    """Until the churn on svc made every edit; returns its GET /_sim/churn."""
    out = {}

    def done():
        out["r"] = w.sim.ctl(svc, "GET", "churn")
        return not out["r"]["running"]
    H.wait_until("the churn on " + svc, done, timeout=PHASE_TIMEOUT, interval=0.05)
    r = out["r"]
    if r["failed"]:
        raise RuntimeError("churn on %s: %d edits failed" % (svc, r["failed"]))
    return r


def twin_writes(reqs):
    """svc -> {item id (lowercase): [time_us of the daemon's writes to it]}."""
    out = {}
    for svc, rx, method in (("ado", ADO_WRITE, "PATCH"), ("clickup", CU_WRITE, "PUT")):
        d = collections.defaultdict(list)
        for e in reqs[svc]:
            m = rx.search(e["path"])
            if m and e["method"] == method and e.get("status") == 200:
                d[m.group(1).lower()].append(e["time_us"])
        for v in d.values():
            v.sort()
        out[svc] = d
    return out


def split_sides(pairs):
    """(ClickUp task ids of the even pairs, their ADO twins, ADO ids of the odd
    pairs, their ClickUp twins)."""
    ev = pairs[0::2]
    od = pairs[1::2]
    return ([t for t, _ in ev], [str(a) for _, a in ev], [str(a) for _, a in od],
            [t for t, _ in od])


def finals(ids, edits, prefix):
    """id -> the value its last edit of a churn set."""
    out = {}
    for i in range(edits):
        out[ids[i % len(ids)]] = "%s %d" % (prefix, i)
    return out


def phase_burst(w, pairs, tag):
    """EDITS title edits made inside the simulators (POST /_sim/churn, rate 0),
    spread round-robin over the pairs (even pairs edited on ClickUp, odd ones on
    ADO); until every twin shows its item's last value."""
    cu_ids, cu_twins, ado_ids, ado_twins = split_sides(pairs)
    n_cu = EDITS // 2
    n_ado = EDITS - n_cu
    want_ado = {cu_twins[cu_ids.index(k)]: v for k, v in
                finals(cu_ids, n_cu, tag + "c").items()}   # on ADO twins
    want_cu = {ado_twins[ado_ids.index(k)]: v for k, v in
               finals(ado_ids, n_ado, tag + "a").items()}  # on ClickUp twins
    mark = w.mark()
    log_top, _ = w.log_rows()
    prof = None
    if PERF_OUT:  # perf record -g of the daemon over this burst
        graph = os.environ.get("PERF_CALLGRAPH", "fp")  # dwarf: through -O2 libraries
        prof = subprocess.Popen(["perf", "record", "--call-graph", graph, "-q", "-o", "%s.%s" % (
            PERF_OUT, tag.strip().replace(" ", "_")), "-p",
            str(w.sim.proc.pid if os.environ.get("PERF_SIM") else w.proc.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    cpu = Cpu(w)
    sch = Sched(w) if os.environ.get("SCHED") else None
    store0 = w.store_counts()
    t0 = time.time()
    a = churn(w, "clickup", cu_ids, n_cu, 0, tag + "c") if n_cu else None
    b = churn(w, "ado", ado_ids, n_ado, 0, tag + "a") if n_ado else None
    ra = churn_wait(w, "clickup") if a else None
    rb = churn_wait(w, "ado") if b else None
    t_first = min(r["t0_us"] for r in (ra, rb) if r) / 1e6
    t_made = max(max(r["t_us"]) for r in (ra, rb) if r) / 1e6
    last = {}

    def converged():
        # Cheap checks first: listing every task and work item is real work
        # for the simulator, which serves the daemon at the same time.
        if w.sim.pending("ado") or w.sim.pending("clickup") or w.inbox_busy():
            return False
        # Not before the daemon logged a write per edited item: the listing below
        # would take the simulator's time from the burst on this 2-core machine.
        if (w.log_rows(log_top)[1] < min(EDITS, ITEMS) and
                time.time() - t0 < PHASE_TIMEOUT / 2):
            return False
        wis = w.ado_items([int(x) for x in want_ado], expand=None)
        tasks = w.cu_tasks(md=False)
        bad = [k for k, v in want_ado.items() if wis[int(k)]["fields"]["System.Title"] != v]
        bad += [k for k, v in want_cu.items() if tasks[k]["name"] != v]
        last["bad"] = len(bad)
        return not bad
    H.wait_until("the edits to converge", converged, timeout=PHASE_TIMEOUT, interval=0.2,
                 detail=lambda: "%r\n%s" % (last, w.daemon_log()))
    load = str(cpu)
    if sch:
        log("        " + str(sch))
    w.wait_quiet()
    if prof:
        prof.send_signal(signal.SIGINT)
        prof.wait(timeout=60)
    c, reqs = calls(w, mark)
    c["cpu"] = load
    c["daemon_ms"] = cpu.daemon_s() * 1000 / EDITS  # until quiet: every job done
    store = w.store_counts()
    c["store"] = {k: (store[k] - store0[k]) / EDITS for k in ("writes", "commits", "reads")}
    tw = twin_writes(reqs)
    writes = [t for svc in tw.values() for v in svc.values() for t in v]
    # The last write to a twin carries its item's final value (checked above).
    t_last = max(writes) / 1e6
    dt = t_last - t_first
    c["made_s"] = t_made - t_first
    c["converged_s"] = dt
    c["title_writes"] = len(writes)
    c["wall_s"] = time.time() - t0
    return EDITS / dt, len(writes) / dt, c


def phase_latency(w, pairs, rate, seconds, tag):
    """Title edits at `rate`/s for `seconds`, made inside the simulators (half
    on ClickUp, half on ADO, round-robin over the pairs: one item is edited
    every ITEMS / rate s). Per edit: simulator clock (µs) just before the edit
    -> arrival of the daemon's write to its twin. Returns (latencies in ms,
    unmatched edits, calls)."""
    time.sleep(1.2)  # past the scheduler's cooldown of the last jobs
    cu_ids, cu_twins, ado_ids, ado_twins = split_sides(pairs)
    n = max(2, int(rate * seconds))
    n_cu, n_ado = n // 2, n - n // 2
    mark = w.mark()
    cpu = Cpu(w)
    churn(w, "clickup", cu_ids, n_cu, rate / 2, tag + "c")
    churn(w, "ado", ado_ids, n_ado, rate / 2, tag + "a")
    runs = {"clickup": churn_wait(w, "clickup"), "ado": churn_wait(w, "ado")}
    load = str(cpu)
    w.wait_quiet()
    c, reqs = calls(w, mark)
    c["cpu"] = load
    tw = twin_writes(reqs)
    lat, unmatched = [], []
    for svc, ids, twins in (("clickup", cu_ids, cu_twins), ("ado", ado_ids, ado_twins)):
        t_us = runs[svc]["t_us"]
        other = tw["ado" if svc == "clickup" else "clickup"]
        for i, t in enumerate(t_us):
            k = i % len(ids)
            nxt = t_us[i + len(ids)] if i + len(ids) < len(t_us) else float("inf")
            mine = [x for x in other[twins[k].lower()] if t < x < nxt]
            if mine:
                lat.append((mine[0] - t) / 1000.0)
            else:
                unmatched.append((svc, ids[k], i))
    c["unmatched"] = unmatched
    return lat, n, c


TIMING_RX = re.compile(r"run timing: .*queued (-?\d+) ms, twin written after (-?[\d.]+) ms, "
                       r"done after ([\d.]+) ms")


def run_timing(w, since):
    """The daemon's own "run timing" debug lines (LOG_LEVEL=debug) after byte offset
    since: [(queued ms, start -> twin written ms, start -> done ms)] of the runs
    that wrote a twin."""
    out = []
    with open(w.log_path, errors="replace") as f:
        f.seek(since)
        for line in f:
            m = TIMING_RX.search(line)
            if m and float(m.group(2)) >= 0:
                out.append((int(m.group(1)), float(m.group(2)), float(m.group(3))))
    return out


def timing_line(t):
    if not t:
        return None
    q = [x[0] for x in t]
    wr = [x[1] for x in t]
    d = [x[2] for x in t]
    return ("daemon's own timing (%d runs): queued p50 %g / p99 %g ms (1 ms resolution), run "
            "start -> twin written p50 %.3f / p99 %.3f ms, run start -> done p50 %.3f / p99 "
            "%.3f ms" % (len(t), pct(q, 50), pct(q, 99), pct(wr, 50), pct(wr, 99), pct(d, 50),
                         pct(d, 99)))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


def one_run(daemon_bin, n):
    w = World(daemon_bin)
    try:
        pairs, cps, cc = phase_create(w)
        log("run %d: create  %7.0f pairs/s        %.2f API calls per pair (%d writes / %d); %s"
            % (n, cps, cc["total"] / ITEMS, cc["writes"], ITEMS, cc["cpu"]))
        res = collections.defaultdict(list)
        res["create"].append(cps)
        # The first sweep lists every item the create phase changed and stores an
        # event for each: a thousand echo jobs, each starting its item's cooldown.
        # Landing in a burst, it measured that one-off, not the burst.
        H.wait_until("the first sweep", w.first_sweep_done, timeout=PHASE_TIMEOUT,
                     interval=0.1)
        w.wait_quiet()
        for b in range(BURSTS):
            time.sleep(1.2)  # past the cooldown of the previous jobs
            off = os.path.getsize(w.log_path)
            tps, wps, bc = phase_burst(w, pairs, "r%db%d " % (n, b))
            log("run %d: burst %d %7.0f changes/s  %7.0f twin writes/s  %.2f API calls per "
                "change (%d; ado %d, clickup %d); %s"
                % (n, b + 1, tps, wps, bc["total"] / EDITS, bc["total"], bc["ado"],
                   bc["clickup"], bc["cpu"]))
            log("        %d edits made in %.3f s, last twin written after %.3f s "
                "(%d title writes); daemon CPU %.3f ms per change; per change: %.2f store "
                "writes in %.2f commits, %.2f reads"
                % (EDITS, bc["made_s"], bc["converged_s"], bc["title_writes"],
                   bc["daemon_ms"], bc["store"]["writes"], bc["store"]["commits"],
                   bc["store"]["reads"]))
            res["tput"].append(tps)
            res["wps"].append(wps)
            res["burst_calls"].append(bc["total"] / EDITS)
            res["daemon_ms"].append(bc["daemon_ms"])
            tl = timing_line(run_timing(w, off))
            if tl:
                log("        " + tl)
        for rate in LAT_RATES:
            off = os.path.getsize(w.log_path)
            lat, m, lc = phase_latency(w, pairs, rate, LAT_SECONDS, "r%dl%g " % (n, rate))
            tm = run_timing(w, off)
            um = lc["unmatched"]
            log("run %d: at %g edits/s: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d/%d edits "
                "written before their item's next edit); %.2f API calls per change "
                "(%d writes / %d); %s"
                % (n, rate, pct(lat, 50), pct(lat, 99), max(lat) if lat else float("nan"),
                   len(lat), m, lc["total"] / m, lc["writes"], m, lc["cpu"]))
            if um:
                log("        without a write of their own: %s%s"
                    % (um[:10], " ..." if len(um) > 10 else ""))
            if tm:
                log("        " + timing_line(tm))
                res[("own_p50", rate)].append(pct([x[1] for x in tm], 50))
                res[("own_p99", rate)].append(pct([x[1] for x in tm], 99))
            res[("p50", rate)].append(pct(lat, 50))
            res[("p99", rate)].append(pct(lat, 99))
            res[("max", rate)].append(max(lat) if lat else float("nan"))
            res[("calls", rate)].append(lc["total"] / m)
            res[("unmatched", rate)].append(len(um))
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
    signal.alarm(int(RUNS * ((4 + 2 * BURSTS + len(LAT_RATES)) * PHASE_TIMEOUT +
                             len(LAT_RATES) * LAT_SECONDS + 60)))
    log("load average at start: %s" % open("/proc/loadavg").read().split()[:3])
    res = collections.defaultdict(list)
    for n in range(RUNS):
        for k, v in one_run(daemon, n + 1).items():
            res[k] += v
    med = {k: statistics.median(v) for k, v in res.items()}
    log("medians over %d runs x %d bursts (%d pairs, %d edits per burst made in the "
        "simulators, latency %gs at %s/s, [sync] concurrency %d, %d deliveries in flight per "
        "subscription, log level %s; load average now %s):"
        % (RUNS, BURSTS, ITEMS, EDITS, LAT_SECONDS, ", ".join("%g" % r for r in LAT_RATES),
           CONCURRENCY, DELIVERY_CONCURRENCY, LOG_LEVEL,
           open("/proc/loadavg").read().split()[:3]))
    log("  creates paired both ways:  %7.0f pairs/s" % med["create"])
    if BURSTS:
        log("  burst:                     %7.0f changes/s  (target >= 2000; ratio %.2f), "
            "%.0f twin writes/s" % (med["tput"], med["tput"] / 2000, med["wps"]))
        log("  API calls per change:      %7.2f in the burst   (target <= 1.5)"
            % med["burst_calls"])
        log("  daemon CPU per change:     %7.3f ms in the burst" % med["daemon_ms"])
    for r in LAT_RATES:
        log("  at %4g edits/s: edit -> twin write p50 %.3f ms, p99 %.3f ms, max %.3f ms "
            "(targets 3 / 10: ratios %.2f / %.2f); %.2f API calls per change; "
            "%g edits without their own write"
            % (r, med[("p50", r)], med[("p99", r)], med[("max", r)], med[("p50", r)] / 3,
               med[("p99", r)] / 10, med[("calls", r)], med[("unmatched", r)]))
        if ("own_p50", r) in med:
            log("                  daemon's run start -> twin written p50 %.3f ms, p99 %.3f ms"
                % (med[("own_p50", r)], med[("own_p99", r)]))


if __name__ == "__main__":
    main()
