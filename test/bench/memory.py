#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Memory of the release daemon (VmRSS, VmHWM and where it goes), idle and with
PAIRS pairs in its store, against ado-clickup-sim; each RUNS times on a fresh
simulator and database; prints medians and the ratios to the targets of the
sync-engine issue (RSS <= 8 MB idle, <= 64 MB with 100,000 pairs).

usage: test/bench/memory.py [BUILD_DIR]     (default build/release)
env:   RUNS=3 PAIRS=100000 ITEMS=50 EDITS=500 SETTLE=3 LOG_LEVEL=warn

Per run:
  idle     the daemon started on a fresh database, its webhooks registered,
           ITEMS tasks created on ClickUp and paired, quiet for SETTLE s:
           VmRSS and VmHWM from /proc/PID/status.
  pairs    the daemon stopped, PAIRS more sync_map rows added with sqlite (copies
           of a real pair's row: same base and fingerprints, their own ids), the
           daemon started again on that database, EDITS title edits of the real
           pairs synced (lookups through the full table), then quiet for SETTLE s:
           VmRSS and VmHWM again (VmHWM covers the start-up and the edits).
For each it also prints RssAnon (the daemon's private memory: heap, stacks,
sqlite's page caches) and RssFile (pages of the shared libraries and the binary
that the process has touched; shared with every other process using them, and
inflated by the kernel's fault-around, which maps up to 64 KiB of a library
around each page touched) and Pss (RSS with each shared page divided among the
processes mapping it).
"""
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sync_throughput as T  # noqa: E402

H = T.H
RUNS = int(os.environ.get("RUNS", "3"))
PAIRS = int(os.environ.get("PAIRS", "100000"))
SETTLE = float(os.environ.get("SETTLE", "3"))
T.ITEMS = int(os.environ.get("ITEMS", "50"))
T.EDITS = int(os.environ.get("EDITS", "500"))
log = T.log


def mem(pid):
    """VmRSS, VmHWM, RssAnon, RssFile in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                out[k] = int(v.split()[0])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "Pss":
                out[k] = int(v.split()[0])
    return out


def fmt(m):
    return ("VmRSS %5.1f MB, VmHWM %5.1f MB (RssAnon %5.1f MB, RssFile %5.1f MB, Pss %5.1f MB,"
            " %d threads)" % (m["VmRSS"] / 1024, m["VmHWM"] / 1024, m["RssAnon"] / 1024,
                              m["RssFile"] / 1024, m["Pss"] / 1024, m["Threads"]))


def restart(w):
    """Stop the daemon (SIGTERM), run fill(db path) meanwhile, start it again."""
    w.proc.send_signal(signal.SIGTERM)
    w.proc.wait(timeout=30)
    db = os.path.join(w.dir, "sync.db")
    t0 = time.time()
    c = sqlite3.connect(db)
    (n0,) = c.execute("SELECT count(*) FROM sync_map").fetchone()
    # Copies of a real pair (same base and fingerprints), ids out of the simulators' range.
    c.execute("""
        WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ?)
        INSERT INTO sync_map (map_id, ado_id, clickup_id, ado_rev, clickup_rev,
                              ado_fingerprint, clickup_fingerprint, base, state,
                              created_at, updated_at)
        SELECT p.map_id, 10000000 + k.n, printf('fill%07d', k.n), p.ado_rev, p.clickup_rev,
               p.ado_fingerprint, p.clickup_fingerprint, p.base, 'active',
               p.created_at, p.updated_at
        FROM k, (SELECT * FROM sync_map ORDER BY id LIMIT 1) AS p""", (PAIRS,))
    c.commit()
    (n1,) = c.execute("SELECT count(*) FROM sync_map").fetchone()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    size = os.path.getsize(db)
    log("        filled sync_map %d -> %d rows in %.1f s (database %.1f MB)"
        % (n0, n1, time.time() - t0, size / 1e6))
    with open(w.log_path, "ab") as logf:
        w.proc = subprocess.Popen([w.proc.args[0], "serve", "-c",
                                   os.path.join(w.dir, "config.ini")],
                                  stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
    H.wait_until("the daemon to be ready again", w.ready, timeout=60, detail=w.daemon_log)


def one_run(daemon_bin, n):
    w = T.World(daemon_bin)
    try:
        pairs, _, _ = T.phase_create(w)
        time.sleep(SETTLE)
        idle = mem(w.proc.pid)
        log("run %d: idle, %d pairs:        %s" % (n, T.ITEMS, fmt(idle)))
        restart(w)
        T.phase_burst(w, pairs, "r%d " % n)
        w.wait_quiet()
        time.sleep(SETTLE)
        full = mem(w.proc.pid)
        log("run %d: %d pairs, %d edits: %s" % (n, PAIRS + T.ITEMS, T.EDITS, fmt(full)))
        return {"idle": idle, "full": full}
    finally:
        w.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(T.ROOT, "build", "release")
    daemon = os.path.join(build, "daemon", "ado-clickup-sync")
    H.SIM = os.path.join(build, "test", "sim", "ado-clickup-sim")
    if not (os.access(daemon, os.X_OK) and os.access(H.SIM, os.X_OK)):
        if not os.path.exists(os.path.join(build, "build.ninja")):
            subprocess.run(["meson", "setup", build, T.ROOT, "-Dbuildtype=release",
                            "-Dtests=enabled", "--wrap-mode=nodownload"], check=True)
        subprocess.run(["ninja", "-C", build, "-j2", "daemon/ado-clickup-sync",
                        "test/sim/ado-clickup-sim"], check=True)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(s, lambda *_: sys.exit(3))
    signal.alarm(int(RUNS * (4 * T.PHASE_TIMEOUT + 120)))
    res = [one_run(daemon, n + 1) for n in range(RUNS)]

    def med(phase, key):
        return statistics.median(r[phase][key] for r in res) / 1024
    log("median over %d runs (%d pairs idle; %d pairs after %d edits; settle %g s):"
        % (RUNS, T.ITEMS, PAIRS + T.ITEMS, T.EDITS, SETTLE))
    for phase, label, target in (("idle", "idle", 8), ("full", "%d pairs" % PAIRS, 64)):
        rss, hwm = med(phase, "VmRSS"), med(phase, "VmHWM")
        log("  %-13s VmRSS %5.1f MB, VmHWM %5.1f MB   (target <= %d MB; ratio %.2f / %.2f);"
            " RssAnon %.1f MB, RssFile %.1f MB, Pss %.1f MB"
            % (label, rss, hwm, target, rss / target, hwm / target, med(phase, "RssAnon"),
               med(phase, "RssFile"), med(phase, "Pss")))


if __name__ == "__main__":
    main()
