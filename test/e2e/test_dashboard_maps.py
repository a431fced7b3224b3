# SPDX-License-Identifier: MIT
"""End-to-end: a mapping created in the dashboard syncs at once, without a restart.
The simulator's seed gets a second ClickUp list ("Support"); the config maps only the
first. A mapping for Support created through the admin API makes the daemon widen its
ClickUp webhook to the new list, and a task created there gets its ADO twin (with the
mapping's priority table); deleting the mapping stops that.

usage: test_dashboard_maps.py DAEMON SIM [unittest args]; exits 77 (skip) while the
daemon has no sync engine (see sim_harness.py)."""
import http.client
import json
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sim_harness as H  # noqa: E402
from sim_harness import World, wait_until  # noqa: E402
from test_admin import hash_password  # noqa: E402
from test_dashboard_api import EventReader  # noqa: E402

PASSWORD = "dashboard maps test password"
SUPPORT = "901110236999"
AREA = "Support"


def add_support_list(seed):
    space = seed["clickup"]["spaces"][0]
    space["folders"][0]["lists"].append({"id": SUPPORT, "name": "Support"})


def login(test, daemon):
    """Sign in to the dashboard: (session cookie, CSRF token)."""
    st, h, body = daemon.request(
        "POST", "/api/login", body=json.dumps({"password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"})
    test.assertEqual(st, 200, body)
    return h["set-cookie"].split(";")[0], json.loads(body)["csrf_token"]


class DashboardMappings(unittest.TestCase):
    def setUp(self):
        self.t0 = time.time()
        self.world = World(seed_patch=add_support_list,
                           config={"dashboard": {"admin_password_hash":
                                                 hash_password(PASSWORD)}}).start()
        self.cookie, self.csrf = login(self, self.world.daemon)

    def tearDown(self):
        w, self.world = self.world, None
        if w is not None:
            w.close()
        print("(%.1fs) " % (time.time() - self.t0), end="", file=sys.stderr)

    def call(self, method, path, body=None):
        h = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        st, _, out = self.world.daemon.request(method, path, body=data, headers=h)
        return st, json.loads(out) if out else None

    def hook_covers_support(self):
        """The daemon's ClickUp webhook delivers Support's events (no list filter, or
        that list)."""
        for wh in self.world.cu.webhooks():
            if not wh.get("endpoint", "").startswith(self.world.public_url):
                continue
            if wh.get("list_id") in (None, "", SUPPORT) and \
                    (wh.get("health") or {}).get("status", "active") == "active":
                return True
        return False

    def support_task(self, name):
        st, t = self.world.cu.api("POST", "/list/%s/task" % SUPPORT,
                                  {"name": name, "priority": 2})
        self.assertEqual(st, 200, t)
        return t["id"]

    def test_created_mapping_syncs_without_restart(self):
        w = self.world
        i = w.sim.info
        self.assertFalse(self.hook_covers_support())
        st, item = self.call("POST", "/api/dashboard/project-maps", {
            "name": "support", "ado_project": i["ado"]["project"],
            "ado_work_item_types": ["Task", "Bug"], "ado_new_item_type": "Bug",
            "clickup_list_id": SUPPORT,
            "priority_map": {"1": "urgent", "2": "urgent", "3": "high", "4": "low"}})
        self.assertEqual(st, 201, item)
        # The registrar runs again for the new set: the webhook covers Support.
        wait_until("the ClickUp webhook to cover the new list", self.hook_covers_support,
                   timeout=20, interval=0.05, detail=lambda: w.daemon.log()[-3000:])
        tid = self.support_task("from support %s" % uuid.uuid4().hex)
        wid = w.twin_of_task(tid, timeout=20)
        wi = w.ado.get(wid)
        self.assertEqual(wi["fields"]["System.WorkItemType"], "Bug")
        # ClickUp "high" (2) is ADO 3 under this mapping's priority table.
        self.assertEqual(wi["fields"].get("Microsoft.VSTS.Common.Priority"), 3)
        # The first list still syncs through the file's mapping.
        t0 = w.cu.create(name="still mapped %s" % uuid.uuid4().hex)
        w.twin_of_task(t0["id"], timeout=20)

        # Deleted: once the registrar ran for the smaller set (the webhook is narrowed
        # to the first list again), a Support task stays alone.
        st, _ = self.call("DELETE", "/api/dashboard/project-maps/%d" % item["id"])
        self.assertEqual(st, 204)
        wait_until("the ClickUp webhook to leave the deleted list",
                   lambda: not self.hook_covers_support(), timeout=20, interval=0.05,
                   detail=lambda: w.daemon.log()[-3000:])
        tid2 = self.support_task("after delete %s" % uuid.uuid4().hex)
        time.sleep(2)  # an absence: give a (wrong) sync the time it took above
        self.assertIsNone(H.clickup_link_of(w.cu.get(tid2)))


def drop_file_mappings(daemon):
    """Rewrite the daemon's config without its [map ...] sections (before start)."""
    out, skip = [], False
    with open(daemon.config_path) as f:
        for line in f:
            if line.startswith("["):
                skip = line.startswith("[map ")
            if not skip:
                out.append(line)
    with open(daemon.config_path, "w") as f:
        f.writelines(out)


class DashboardOnly(unittest.TestCase):
    """No [map] section at all: the engine runs on the credentials alone, a mapping
    created in the dashboard syncs at once and backfills what its list and project
    already hold (product.md §1), and the event stream reports the backfill."""

    def setUp(self):
        self.t0 = time.time()
        self.world = World(seed_patch=add_support_list, wait_webhooks=False,
                           config={"dashboard": {"admin_password_hash":
                                                 hash_password(PASSWORD)},
                                   # ADO riley -> the ClickUp user 54098741 (override).
                                   "users": {"riley.park@example.com": "54098741"}})
        drop_file_mappings(self.world.daemon)
        self.world.start()
        self.cookie, self.csrf = login(self, self.world.daemon)

    tearDown = DashboardMappings.tearDown
    call = DashboardMappings.call
    hook_covers_support = DashboardMappings.hook_covers_support
    support_task = DashboardMappings.support_task

    def test_dashboard_only_mapping_backfills_and_syncs(self):
        w = self.world
        i = w.sim.info
        self.assertIn("sync running (0 mappings)", w.daemon.log())
        # Items that exist before the mapping does.
        old_tid = self.support_task("existed in clickup %s" % uuid.uuid4().hex)
        old_wi = w.ado.create("Bug", **{"System.Title": "existed in ado %s" % uuid.uuid4().hex,
                                        "System.AssignedTo": "riley.park@example.com"})
        # The event stream, open before the create.
        conn = http.client.HTTPConnection("127.0.0.1", w.daemon.port, timeout=60)
        conn.request("GET", "/api/events", headers={"Cookie": self.cookie})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        events = EventReader(resp)
        events.start()
        try:
            st, item = self.call("POST", "/api/dashboard/project-maps", {
                "name": "support", "ado_project": i["ado"]["project"],
                "ado_work_item_types": ["Task", "Bug"], "ado_new_item_type": "Bug",
                "clickup_list_id": SUPPORT})
            self.assertEqual(st, 201, item)
            # Backfilled without calling the backfill route: both get twins.
            wid = w.twin_of_task(old_tid, timeout=30)
            self.assertEqual(w.ado.get(wid)["fields"]["System.WorkItemType"], "Bug")
            tid = w.twin_of_ado(old_wi["id"], timeout=30)
            t = w.cu.get(tid)
            self.assertEqual(t["list"]["id"], SUPPORT)
            # [users] override: ADO riley is ClickUp user 54098741.
            self.assertEqual([a["id"] for a in t["assignees"]], [54098741])
            ev = events.wait_for(lambda e: e[0] == "backfill" and
                                 json.loads(e[1]).get("phase") == "done", timeout=30)
            done = json.loads(ev[1])
            self.assertEqual(done["map"], "support")
            self.assertFalse(done["running"])
            self.assertGreaterEqual(done["created_ado"] + done["created_clickup"], 2)
        finally:
            conn.close()
        # ClickUp -> ADO assignee: the ADO identity of the ClickUp user (by e-mail).
        avery = w.cu.users["avery.chen@example.com"]
        st, _ = w.cu.api("PUT", "/task/%s" % tid,
                         {"assignees": {"add": [avery], "rem": [54098741]}})
        self.assertEqual(st, 200)
        wait_until("the ADO assignee to follow ClickUp",
                   lambda: ((w.ado.get(old_wi["id"])["fields"].get("System.AssignedTo") or {})
                            .get("uniqueName") == "avery.chen@example.com"),
                   timeout=20, interval=0.05, detail=lambda: w.daemon.log()[-3000:])
        # The webhook now covers the list: a new task syncs at once.
        wait_until("the ClickUp webhook to cover the new list", self.hook_covers_support,
                   timeout=20, interval=0.05, detail=lambda: w.daemon.log()[-3000:])
        new_tid = self.support_task("new in clickup %s" % uuid.uuid4().hex)
        w.twin_of_task(new_tid, timeout=20)


if __name__ == "__main__":
    H.main()
