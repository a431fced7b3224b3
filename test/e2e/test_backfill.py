# SPDX-License-Identifier: MIT
"""End-to-end backfill: `ado-clickup-sync backfill` against ado-clickup-sim seeded with
500 work items and 500 tasks, 100 of them with the same title on both sides. A dry run
changes nothing; a run killed with SIGKILL halfway and run again creates exactly 400 + 400
twins (every item ends with exactly one twin, linked both ways); a third run writes
nothing; unknown mappings are usage errors; a daemon serving the database makes the
command refuse.

usage: test_backfill.py DAEMON SIM [unittest args]"""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import sim_harness as H  # noqa: E402

N_SHARED, N_ADO, N_CU = 100, 400, 400
ADMIN_PASSWORD = "backfill e2e password"
CONCURRENCY = 4
CREATE_DELAY_MS = 25  # per create answer: keeps the run long enough to kill it halfway


def seed_patch(seed):
    seed["ado"]["work_items"] = (
        [{"type": "User Story", "fields": {"System.Title": "Shared item %03d" % i}}
         for i in range(N_SHARED)] +
        [{"type": "Task", "fields": {"System.Title": "ADO item %03d" % i}}
         for i in range(N_ADO)])
    lst = seed["clickup"]["spaces"][0]["folders"][0]["lists"][0]["id"]
    seed["clickup"]["tasks"] = (
        [{"list": lst, "name": "Shared item %03d" % i} for i in range(N_SHARED)] +
        [{"list": lst, "name": "ClickUp item %03d" % i} for i in range(N_CU)])


def writes(reqs):
    return [r for r in reqs if H.is_write(r["method"], r["path"])]


class Backfill(unittest.TestCase):
    def setUp(self):
        self.sim = H.Sim(seed_patch=seed_patch, clickup_rate_limit=1000000,
                         args=["--ado-rate-limit", "10000000"])
        i = self.sim.info
        cfg = {
            "server": {"listen": "127.0.0.1:%d" % H.free_port()},
            "ado": {"base_url": i["ado"]["base_url"], "organization": i["ado"]["organization"],
                    "project": i["ado"]["project"], "pat": i["ado"]["pat"]},
            "clickup": {"base_url": i["clickup"]["base_url"], "token": i["clickup"]["token"],
                        "workspace_id": i["clickup"]["team_id"]},
            "sync": {"conflict": "newest", "concurrency": str(CONCURRENCY)},
            "log": {"level": "info"},
            "map e2e": dict({"ado_project": i["ado"]["project"],
                             "clickup_list_id": i["clickup"]["list_ids"][0],
                             "ado_new_item_type": H.NEW_ITEM_TYPE},
                            **{"status." + k: v for k, v in H.STATUS_OF_STATE.items()}),
        }
        cfg["dashboard"] = {"admin_password_hash": subprocess.run(
            [harness.DAEMON, "hash-password"], input=ADMIN_PASSWORD + "\n",
            capture_output=True, text=True, check=True, timeout=60).stdout.strip()}
        self.daemon = harness.Daemon(config=cfg)
        self.ado = H.AdoHuman(self.sim)
        self.cu = H.ClickUpHuman(self.sim)

    def tearDown(self):
        self.daemon.cleanup()
        self.sim.kill()

    # --- helpers -------------------------------------------------------------------------
    def cmd(self, *args):
        return [harness.DAEMON, "backfill", "-c", self.daemon.config_path] + list(args)

    def run_cmd(self, *args, timeout=120):
        p = subprocess.run(self.cmd(*args), capture_output=True, timeout=timeout * H.SLOW,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def log_marks(self):
        return {s: len(self.sim.requests(s)) for s in ("ado", "clickup")}

    def writes_since(self, marks):
        return {s: writes(self.sim.requests(s)[marks[s]:]) for s in ("ado", "clickup")}

    def creates(self):
        ado = [r for r in self.sim.requests("ado")
               if r["method"] == "POST" and "/_apis/wit/workitems/$" in H.norm_path(r["path"])]
        cu = [r for r in self.sim.requests("clickup")
              if r["method"] == "POST" and re.search(r"/list/[^/]+/task$", r["path"])]
        return len(ado), len(cu)

    def check_world(self):
        """Every item has exactly one twin, linked both ways; titles are unique per side
        and each title is on both sides."""
        items = self.ado.all()
        tasks = self.cu.all()
        self.assertEqual(len(items), N_SHARED + N_ADO + N_CU)
        self.assertEqual(len(tasks), N_SHARED + N_ADO + N_CU)
        a_titles = [w["fields"]["System.Title"] for w in items.values()]
        c_titles = [t["name"] for t in tasks.values()]
        self.assertEqual(len(set(a_titles)), len(a_titles), "duplicate work items")
        self.assertEqual(len(set(c_titles)), len(c_titles), "duplicate tasks")
        self.assertEqual(set(a_titles), set(c_titles))
        by_title = {t["name"]: tid for tid, t in tasks.items()}
        linked_tasks = set()
        for wid, w in items.items():
            tid = H.ado_link_of(w)
            self.assertEqual(tid, by_title[w["fields"]["System.Title"]],
                             "work item %s links %s" % (wid, tid))
            linked_tasks.add(tid)
            self.assertEqual(H.clickup_link_of(tasks[tid]), wid,
                             "task %s does not link back to %s" % (tid, wid))
        self.assertEqual(linked_tasks, set(tasks))

    def dashboard_route(self):
        """The daemon's routes: admin only; a dry run started there reports its plan."""
        d = self.daemon
        st, _, _ = d.request("GET", "/api/dashboard/backfill")
        self.assertEqual(st, 401)
        st, h, body = d.request("POST", "/api/login",
                                body=json.dumps({"password": ADMIN_PASSWORD}).encode(),
                                headers={"Content-Type": "application/json"})
        self.assertEqual(st, 200, body)
        auth = {"Cookie": h["set-cookie"].split(";")[0],
                "X-CSRF-Token": json.loads(body)["csrf_token"],
                "Content-Type": "application/json"}
        st, _, body = d.request("GET", "/api/dashboard/backfill", headers=auth)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["phase"], "idle")
        st, _, body = d.request("POST", "/api/dashboard/project-maps/999/backfill",
                                body=b"{}", headers=auth)
        self.assertEqual(st, 404, body)
        marks = self.log_marks()
        st, _, body = d.request("POST", "/api/dashboard/project-maps/1/backfill",
                                body=b'{"dry_run": true}', headers=auth)
        self.assertEqual(st, 202, body)
        self.assertEqual(json.loads(body)["map"], "e2e")

        def progress():
            st, _, body = d.request("GET", "/api/dashboard/backfill", headers=auth)
            self.assertEqual(st, 200, body)
            return json.loads(body)
        H.wait_until("the dashboard's dry run", lambda: not progress()["running"])
        p = progress()
        self.assertEqual((p["phase"], p["dry_run"], p["error"]), ("done", True, None), p)
        self.assertEqual((p["total"], p["paired"], p["created_ado"], p["created_clickup"]),
                         (0, 0, 0, 0), p)
        self.assertEqual(self.writes_since(marks), {"ado": [], "clickup": []})

    # --- the scenario ----------------------------------------------------------------------
    def test_backfill(self):
        t0 = time.time()
        # Usage errors.
        rc, _, err = self.run_cmd("--map", "nope")
        self.assertEqual(rc, 2, err)
        self.assertIn("nope", err)
        rc, _, err = self.run_cmd()
        self.assertEqual(rc, 2, err)

        # A dry run reports the plan and changes nothing.
        marks = self.log_marks()
        rc, out, err = self.run_cmd("--map", "e2e", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertIn("would pair 100 (0 by back-link, 100 by title)", out)
        self.assertIn("would create 400 ClickUp tasks and 400 Azure DevOps work items", out)
        w = self.writes_since(marks)
        self.assertEqual(w, {"ado": [], "clickup": []})

        # Slow creates down a little, start, and kill -9 halfway through the creates.
        for svc, path in (("ado", "/_apis/wit/workitems/$"), ("clickup", "/task")):
            self.sim.fault(svc, path=path, method="POST", delay_ms=CREATE_DELAY_MS,
                           count=100000)
        with open(os.path.join(self.daemon.dir, "run1.err"), "wb") as errf:
            p = subprocess.Popen(self.cmd("--map", "e2e"), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errf)
        H.wait_until("half of the twins created",
                     lambda: sum(self.creates()) >= (N_ADO + N_CU) // 2 or
                     p.poll() is not None, timeout=60, interval=0.02)
        p.kill()
        p.wait()
        self.assertEqual(p.returncode, -9, "the first run finished before it was killed")
        a1, c1 = self.creates()
        self.assertLess(a1 + c1, N_ADO + N_CU)

        # The second run finishes the rest, with no duplicates.
        rc, out, err = self.run_cmd("--map", "e2e")
        self.assertEqual(rc, 0, err + out)
        self.assertNotIn("failed (see", out)
        self.assertIn("backfill e2e: ", out)
        self.assertRegex(err, r"backfill e2e: (syncing|done)")
        self.check_world()
        # Across both runs: exactly one create per missing twin (an interrupted create
        # may have been found and adopted, never repeated).
        a2, c2 = self.creates()
        self.assertEqual((a2, c2), (N_CU, N_ADO))

        # A third run does nothing: no writes at all.
        marks = self.log_marks()
        rc, out, err = self.run_cmd("--map", "e2e")
        self.assertEqual(rc, 0, err)
        self.assertIn("paired 0 (0 by back-link, 0 by title); created 0 ClickUp tasks and 0 "
                      "Azure DevOps work items; 1800 already paired", out)
        self.assertEqual(self.writes_since(marks), {"ado": [], "clickup": []})

        # A daemon serving the same database: the command refuses and names the route.
        self.daemon.start()
        rc, out, err = self.run_cmd("--map", "e2e")
        self.assertEqual(rc, 1, err)
        self.assertIn("dashboard", err)
        self.dashboard_route()
        self.assertEqual(self.daemon.stop(), 0)
        print("backfill e2e: %.1f s" % (time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    harness.DAEMON = os.path.abspath(sys.argv[1])
    H.SIM = os.path.abspath(sys.argv[2])
    del sys.argv[1:3]
    unittest.main(verbosity=2)
