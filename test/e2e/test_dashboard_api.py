# SPDX-License-Identifier: MIT
"""End-to-end: the dashboard's admin API on the real daemon against
ado-clickup-sim. The session gate on every route, CSRF, pagination bounds, bad
JSON, mapping CRUD (and read-only file mappings), the live pickers compared
with what the simulators themselves answer, the error queue (an event failed
by an injected fault is retried from the API and succeeds once the fault is
gone), the overview stats, and server-sent events (a change made in the
simulator arrives as an `event: sync`; the stream ends cleanly when the daemon
drains)."""
import http.client
import json
import os
import queue
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import sim_harness  # noqa: E402
from sim_harness import SLOW, World, wait_until  # noqa: E402
from test_admin import hash_password  # noqa: E402

PASSWORD = "dashboard api test password"
W = None
SESSION = {}

PROTECTED = [
    ("GET", "/api/dashboard/stats"),
    ("GET", "/api/dashboard/project-maps"),
    ("POST", "/api/dashboard/project-maps"),
    ("GET", "/api/dashboard/project-maps/1"),
    ("PUT", "/api/dashboard/project-maps/1"),
    ("DELETE", "/api/dashboard/project-maps/1"),
    ("GET", "/api/dashboard/sync-log"),
    ("GET", "/api/dashboard/errors"),
    ("POST", "/api/dashboard/errors/retry"),
    ("POST", "/api/dashboard/errors/dismiss"),
    ("POST", "/api/dashboard/errors/1/retry"),
    ("POST", "/api/dashboard/errors/1/dismiss"),
    ("GET", "/api/dashboard/pickers/ado/projects"),
    ("GET", "/api/dashboard/pickers/ado/area-paths?project=x"),
    ("GET", "/api/dashboard/pickers/ado/types?project=x"),
    ("GET", "/api/dashboard/pickers/clickup/spaces"),
    ("GET", "/api/dashboard/pickers/clickup/folders?space=1"),
    ("GET", "/api/dashboard/pickers/clickup/lists?space=1"),
    ("GET", "/api/dashboard/pickers/clickup/statuses?list=1"),
    ("GET", "/api/events"),
]
STATE_CHANGING = [(m, p) for m, p in PROTECTED if m != "GET"]


def setUpModule():
    global W
    if not sim_harness.SIM:
        raise unittest.SkipTest("no simulator")
    # max_attempts 1: a failed job goes to the error queue at once.
    W = World(sync={"max_attempts": "1"},
              config={"dashboard": {"admin_password_hash": hash_password(PASSWORD)}})
    W.start()
    st, h, body = W.daemon.request("POST", "/api/login",
                                   body=json.dumps({"password": PASSWORD}).encode(),
                                   headers={"Content-Type": "application/json"})
    assert st == 200, (st, body)
    SESSION["cookie"] = h["set-cookie"].split(";")[0]
    SESSION["csrf"] = json.loads(body)["csrf_token"]


def tearDownModule():
    if W is None:
        return
    # An open event stream must not hold the drain up: it ends, and the
    # daemon exits 0 well before the 10 s drain timeout.
    conn, resp = open_events()
    t0 = time.time()
    try:
        W.daemon.proc.send_signal(15)
        data = resp.read()  # until the last chunk
        assert b"event:" in data or b":" in data
        rc = W.daemon.proc.wait(timeout=30 * SLOW)
        took = time.time() - t0
        log = W.daemon.log()
    finally:
        conn.close()
        W.close()
    if rc != 0:
        raise AssertionError("daemon exit %r:\n%s" % (rc, log[-5000:]))
    if took > 8 * SLOW:
        raise AssertionError("drain with an open event stream took %.1f s" % took)


def call(method, path, body=None, csrf=True, cookie=True, raw=None, headers=None):
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = SESSION["cookie"]
    if csrf and method != "GET":
        h["X-CSRF-Token"] = SESSION["csrf"]
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        h["Content-Type"] = "application/json"
    st, hdrs, out = W.daemon.request(method, path, body=data, headers=h)
    parsed = None
    if out:
        try:
            parsed = json.loads(out)
        except ValueError:
            parsed = out
    return st, hdrs, parsed


def open_events():
    conn = http.client.HTTPConnection("127.0.0.1", W.daemon.port, timeout=20 * SLOW)
    conn.request("GET", "/api/events", headers={"Cookie": SESSION["cookie"]})
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    return conn, resp


class EventReader(threading.Thread):
    """Parses a text/event-stream into (event, data) tuples on a queue."""

    def __init__(self, resp):
        super().__init__(daemon=True)
        self.resp = resp
        self.q = queue.Queue()

    def run(self):
        ev, data = None, []
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if ev or data:
                        self.q.put((ev or "message", "\n".join(data)))
                    ev, data = None, []
                elif line.startswith(":"):
                    self.q.put(("comment", line[1:].strip()))
                elif line.startswith("event:"):
                    ev = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # the test closed the connection
        self.q.put(("eof", ""))

    def wait_for(self, pred, timeout=20):
        deadline = time.time() + timeout * SLOW
        seen = []
        while time.time() < deadline:
            try:
                ev = self.q.get(timeout=max(0.05, deadline - time.time()))
            except queue.Empty:
                break
            seen.append(ev)
            if pred(ev):
                return ev
            if ev[0] == "eof":
                break
        raise AssertionError("event not seen; got %r" % seen[-10:])


_activity = {}


def activity():
    """One work item created in the simulator and synced (sync_log rows)."""
    if "wid" not in _activity:
        wi = W.ado.create(**{"System.Title": "dashboard activity"})
        _activity["wid"] = wi["id"]
        _activity["tid"] = W.twin_of_ado(wi["id"])
    return _activity["wid"], _activity["tid"]


class Gate(unittest.TestCase):
    def test_401_without_session(self):
        for method, path in PROTECTED:
            st, _, body = call(method, path, body={} if method in ("POST", "PUT") else None,
                               cookie=False, csrf=False)
            self.assertEqual(st, 401, (method, path, body))
            self.assertIn("error", body)

    def test_csrf_rejected(self):
        for method, path in STATE_CHANGING:
            st, _, body = call(method, path, body={}, csrf=False)
            self.assertEqual(st, 403, (method, path, body))
            st, _, body = call(method, path, body={}, csrf=False,
                               headers={"X-CSRF-Token": "0" * 64})
            self.assertEqual(st, 403, (method, path, body))

    def test_bad_json(self):
        maps = self.file_map()
        for method, path in [("POST", "/api/dashboard/project-maps"),
                             ("PUT", "/api/dashboard/project-maps/%d" % maps["id"]),
                             ("POST", "/api/dashboard/errors/retry"),
                             ("POST", "/api/dashboard/errors/dismiss")]:
            for raw in (b"{not json", b"[1, 2]", b""):
                st, _, body = call(method, path, raw=raw)
                self.assertEqual(st, 400, (method, path, raw, body))
                self.assertEqual(set(body), {"error", "detail"})

    def file_map(self):
        st, _, body = call("GET", "/api/dashboard/project-maps")
        self.assertEqual(st, 200)
        return [m for m in body["items"] if m["name"] == "e2e"][0]


class Mappings(unittest.TestCase):
    def test_file_mapping_read_only(self):
        st, _, body = call("GET", "/api/dashboard/project-maps")
        self.assertEqual(st, 200, body)
        m = [x for x in body["items"] if x["name"] == "e2e"][0]
        i = W.sim.info
        self.assertEqual(m["source"], "file")
        self.assertEqual(m["ado_project"], i["ado"]["project"])
        self.assertEqual(m["clickup_list_id"], i["clickup"]["list_ids"][0])
        self.assertEqual(m["status_map"], sim_harness.STATUS_OF_STATE)
        self.assertEqual(m["priority_map"],
                         {"1": "urgent", "2": "high", "3": "normal", "4": "low"})
        for key in ("id", "name", "ado_area_path", "ado_work_item_types",
                    "ado_new_item_type", "custom_map", "on_delete",
                    "copy_existing_comments", "created_at", "updated_at"):
            self.assertIn(key, m)
        st, _, body = call("PUT", "/api/dashboard/project-maps/%d" % m["id"],
                           body={"on_delete": "ignore"})
        self.assertEqual(st, 403, body)
        self.assertIn("config", body["detail"])
        st, _, body = call("DELETE", "/api/dashboard/project-maps/%d" % m["id"])
        self.assertEqual(st, 403, body)
        st, _, body = call("GET", "/api/dashboard/project-maps/%d" % m["id"])
        self.assertEqual((st, body["on_delete"]), (200, m["on_delete"]))

    def test_crud(self):
        i = W.sim.info
        new = {"name": "dash-crud", "ado_project": i["ado"]["project"],
               "ado_area_path": i["ado"]["project"],
               "ado_work_item_types": ["Bug", "Task"], "ado_new_item_type": "Bug",
               "clickup_list_id": i["clickup"]["list_ids"][0],
               "status_map": {"New": "to do", "Closed": "complete"},
               "priority_map": {"1": "urgent", "2": "urgent", "3": "normal", "4": "low"},
               "on_delete": "delete", "copy_existing_comments": False}
        st, _, item = call("POST", "/api/dashboard/project-maps", body=new)
        self.assertEqual(st, 201, item)
        for k, v in new.items():
            self.assertEqual(item[k], v, k)
        self.assertEqual(item["source"], "db")
        mid = item["id"]

        st, _, body = call("POST", "/api/dashboard/project-maps", body=new)
        self.assertEqual(st, 409, body)
        bad = dict(new, name="dash-bad", priority_map={"9": "low"})
        st, _, body = call("POST", "/api/dashboard/project-maps", body=bad)
        self.assertEqual(st, 400, body)
        self.assertTrue(body["detail"].startswith("priority_map:"), body)
        st, _, body = call("POST", "/api/dashboard/project-maps",
                           body={"name": "dash-bad", "ado_project": "P"})
        self.assertEqual(st, 400, body)
        self.assertTrue(body["detail"].startswith("clickup_list_id:"), body)

        st, _, body = call("GET", "/api/dashboard/project-maps")
        self.assertIn(mid, [m["id"] for m in body["items"]])
        st, _, got = call("GET", "/api/dashboard/project-maps/%d" % mid)
        self.assertEqual((st, got), (200, item))

        st, _, upd = call("PUT", "/api/dashboard/project-maps/%d" % mid,
                          body={"status_map": {"Active": "in progress"},
                                "copy_existing_comments": True})
        self.assertEqual(st, 200, upd)
        self.assertEqual(upd["status_map"], {"Active": "in progress"})
        self.assertTrue(upd["copy_existing_comments"])
        self.assertEqual(upd["ado_new_item_type"], "Bug")
        self.assertGreaterEqual(upd["updated_at"], item["updated_at"])
        st, _, got = call("GET", "/api/dashboard/project-maps/%d" % mid)
        self.assertEqual(got, upd)

        st, _, body = call("PUT", "/api/dashboard/project-maps/%d" % mid,
                           body={"on_delete": "archive"})
        self.assertEqual(st, 400)
        self.assertTrue(body["detail"].startswith("on_delete:"))

        st, _, body = call("DELETE", "/api/dashboard/project-maps/%d" % mid)
        self.assertEqual(st, 204, body)
        st, _, _ = call("GET", "/api/dashboard/project-maps/%d" % mid)
        self.assertEqual(st, 404)
        st, _, _ = call("DELETE", "/api/dashboard/project-maps/%d" % mid)
        self.assertEqual(st, 404)
        st, _, _ = call("PUT", "/api/dashboard/project-maps/999999", body={"name": "x"})
        self.assertEqual(st, 404)


class Pickers(unittest.TestCase):
    def get(self, path):
        st, _, body = call("GET", "/api/dashboard/pickers/" + path)
        self.assertEqual(st, 200, (path, body))
        return body["items"]

    def test_ado(self):
        i = W.sim.info["ado"]
        projects = self.get("ado/projects")
        self.assertIn(i["project"], [p["name"] for p in projects])
        self.assertTrue(all(p["id"] for p in projects))

        q = urllib.parse.quote(i["project"])
        st, nodes = W.ado.api("GET", "wit/classificationnodes/Areas?$depth=20&api-version=7.1")
        self.assertEqual(st, 200)

        def flat(n, prefix=None):
            p = n["name"] if prefix is None else prefix + "\\" + n["name"]
            return [p] + [x for c in n.get("children", []) for x in flat(c, p)]
        areas = [a["path"] for a in self.get("ado/area-paths?project=" + q)]
        self.assertEqual(areas, flat(nodes))
        self.assertEqual(areas[0], i["project"])

        types = {t["name"]: t for t in self.get("ado/types?project=" + q)}
        for name in ("Task", "Bug", "User Story"):
            self.assertIn(name, types)
        st, sim_states = W.ado.api("GET", "wit/workitemtypes/%s/states?api-version=7.1" %
                                   urllib.parse.quote("User Story"))
        self.assertEqual(st, 200)
        self.assertEqual(types["User Story"]["states"],
                         [{"name": s["name"], "category": s["category"]}
                          for s in sim_states["value"]])

        st, _, body = call("GET", "/api/dashboard/pickers/ado/types")
        self.assertEqual(st, 400, body)
        st, _, body = call("GET", "/api/dashboard/pickers/ado/types?project=NoSuchProject")
        self.assertEqual(st, 502, body)
        self.assertIn("NoSuchProject", body["detail"])

    def test_clickup(self):
        i = W.sim.info["clickup"]
        spaces = self.get("clickup/spaces")
        self.assertIn(i["space_id"], [s["id"] for s in spaces])
        folders = self.get("clickup/folders?space=" + i["space_id"])
        st, sim_folders = W.cu.api("GET", "/space/%s/folder" % i["space_id"])
        self.assertEqual(st, 200)
        self.assertEqual([(f["id"], f["name"]) for f in folders],
                         [(f["id"], f["name"]) for f in sim_folders["folders"]])
        lists = []
        for f in folders:
            lists += self.get("clickup/lists?space=%s&folder=%s" % (i["space_id"], f["id"]))
        lists += self.get("clickup/lists?space=" + i["space_id"])
        self.assertIn(i["list_ids"][0], [x["id"] for x in lists])
        statuses = self.get("clickup/statuses?list=" + i["list_ids"][0])
        self.assertEqual([s["status"] for s in statuses],
                         ["to do", "in progress", "review", "complete"])
        self.assertEqual([s["orderindex"] for s in statuses], [0, 1, 2, 3])
        self.assertTrue(all(s["type"] for s in statuses))

        st, _, body = call("GET", "/api/dashboard/pickers/clickup/statuses?list=999999999")
        self.assertEqual(st, 502, body)
        self.assertIn("ClickUp", body["detail"])
        st, _, body = call("GET", "/api/dashboard/pickers/clickup/folders")
        self.assertEqual(st, 400, body)


class SyncLog(unittest.TestCase):
    def test_bounds(self):
        for q in ("limit=0", "limit=201", "page=0", "page=-1", "limit=x", "status=done",
                  "direction=sideways", "map=abc"):
            st, _, body = call("GET", "/api/dashboard/sync-log?" + q)
            self.assertEqual(st, 400, (q, body))
            self.assertEqual(set(body), {"error", "detail"})
        for q in ("limit=0", "limit=201", "page=0"):
            st, _, body = call("GET", "/api/dashboard/errors?" + q)
            self.assertEqual(st, 400, (q, body))

    def test_pages_and_filters(self):
        wid, tid = activity()
        wait_until("two sync log rows", lambda: call(
            "GET", "/api/dashboard/sync-log?limit=1")[2]["total"] >= 2)
        st, _, first = call("GET", "/api/dashboard/sync-log?limit=200")
        self.assertEqual(st, 200)
        total = first["total"]
        self.assertEqual(len(first["items"]), min(total, 200))
        limit = total - 1
        st, _, last = call("GET", "/api/dashboard/sync-log?limit=%d&page=2" % limit)
        self.assertEqual((st, last["page"], last["limit"]), (200, 2, limit))
        self.assertEqual(len(last["items"]), 1)  # the last page is partial
        self.assertEqual(last["items"][0]["id"], first["items"][-1]["id"])

        st, _, mine = call("GET", "/api/dashboard/sync-log?q=%d" % wid)
        self.assertGreaterEqual(mine["total"], 1)
        it = [x for x in mine["items"] if x["ado_id"] == wid][0]
        for key in ("id", "ts", "map_id", "map_name", "sync_id", "ado_id", "clickup_id",
                    "ado_url", "clickup_url", "direction", "action", "status", "fields",
                    "message"):
            self.assertIn(key, it)
        self.assertEqual(it["map_name"], "e2e")
        self.assertTrue(it["ado_url"].endswith("/_workitems/edit/%d" % wid), it)
        st, _, by_task = call("GET", "/api/dashboard/sync-log?q=" + tid)
        self.assertIn(tid, [x["clickup_id"] for x in by_task["items"]])
        self.assertTrue(any(x["clickup_url"] and x["clickup_url"].endswith("/t/" + tid)
                            for x in by_task["items"]))
        st, _, by_map = call("GET", "/api/dashboard/sync-log?map=%d&status=ok"
                             "&direction=ado_to_clickup" % it["map_id"])
        self.assertTrue(by_map["items"])
        self.assertTrue(all(x["status"] == "ok" and x["direction"] == "ado_to_clickup"
                            and x["map_id"] == it["map_id"] for x in by_map["items"]))
        st, _, none = call("GET", "/api/dashboard/sync-log?q=%25%25no_such%25")
        self.assertEqual(none["total"], 0)


class Stats(unittest.TestCase):
    def test_stats(self):
        activity()
        st, h, s = call("GET", "/api/dashboard/stats")
        self.assertEqual(st, 200, s)
        self.assertEqual(h.get("cache-control"), "no-store")
        self.assertGreaterEqual(s["pairs"], 1)
        self.assertIsInstance(s["pairs_ended"], int)
        self.assertEqual(len(s["events_per_minute"]), 60)
        self.assertEqual(len(s["pushes_per_minute"]), 60)
        self.assertGreaterEqual(sum(s["events_per_minute"]), 1)
        self.assertGreaterEqual(sum(s["pushes_per_minute"]), 1)
        self.assertIsInstance(s["last_sync"]["ado_to_clickup"], int)
        self.assertIn("clickup_to_ado", s["last_sync"])
        for svc in ("ado", "clickup"):
            self.assertEqual(set(s["budget"][svc]), {"remaining", "limit"})
        self.assertGreaterEqual(s["webhooks"]["total"], 2)
        self.assertEqual(s["webhooks"]["healthy"], s["webhooks"]["total"])
        self.assertIsInstance(s["version"], str)
        self.assertIsInstance(s["errors"], int)
        self.assertIsInstance(s["queue"], int)


class Errors(unittest.TestCase):
    def errors(self):
        st, _, body = call("GET", "/api/dashboard/errors?limit=200")
        self.assertEqual(st, 200, body)
        return body

    def fail_one_create(self, title):
        """Create a work item while ClickUp refuses task creation: its event
        lands in the error queue. Returns (work item id, error row)."""
        lst = W.sim.info["clickup"]["list_ids"][0]
        W.sim.fault("clickup", path="/list/%s/task" % lst, method="POST", status=500,
                    count=1000)
        try:
            wid = W.ado.create(**{"System.Title": title})["id"]
            row = wait_until("the failed event in the error queue", lambda: next(
                (e for e in self.errors()["items"] if e["item_key"] == "ado:%d" % wid),
                None), timeout=60)
        finally:
            W.sim.ctl("clickup", "DELETE", "faults")
        return wid, row

    def test_retry_succeeds_after_fault_cleared(self):
        wid, row = self.fail_one_create("dashboard retry me")
        for key in ("id", "source", "event_type", "item_key", "attempts", "last_error",
                    "received_at"):
            self.assertIn(key, row)
        self.assertEqual(row["source"], "ado")
        self.assertTrue(row["last_error"])
        st, _, s = call("GET", "/api/dashboard/stats")
        self.assertGreaterEqual(s["errors"], 1)

        st, _, body = call("POST", "/api/dashboard/errors/%d/retry" % row["id"])
        self.assertEqual((st, body), (200, {"ok": True}))
        tid = W.twin_of_ado(wid, timeout=30)
        self.assertTrue(tid)
        wait_until("the row to leave the error queue", lambda: row["id"] not in
                   [e["id"] for e in self.errors()["items"]])
        st, _, body = call("POST", "/api/dashboard/errors/%d/retry" % row["id"])
        self.assertEqual(st, 404, body)
        st, _, body = call("POST", "/api/dashboard/errors/999999/dismiss")
        self.assertEqual(st, 404, body)

    def test_bulk_dismiss(self):
        _, row = self.fail_one_create("dashboard dismiss me")
        st, _, body = call("POST", "/api/dashboard/errors/dismiss",
                           body={"ids": [row["id"], 999999]})
        self.assertEqual((st, body), (200, {"count": 1}))
        self.assertNotIn(row["id"], [e["id"] for e in self.errors()["items"]])
        st, _, body = call("POST", "/api/dashboard/errors/retry", body={"all": True})
        self.assertEqual(st, 200, body)
        self.assertIsInstance(body["count"], int)
        for bad in ({"ids": "1"}, {"ids": [0]}, {"ids": [1.5]}, {"all": "yes"}, {}):
            st, _, body = call("POST", "/api/dashboard/errors/retry", body=bad)
            self.assertEqual(st, 400, (bad, body))


class Events(unittest.TestCase):
    def test_sync_event_after_simulator_edit(self):
        conn, resp = open_events()
        try:
            self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
            r = EventReader(resp)
            r.start()
            ev = r.wait_for(lambda e: e[0] == "stats")
            stats = json.loads(ev[1])
            self.assertEqual(len(stats["events_per_minute"]), 60)
            # The stream knows where the log ended once its first stats came
            # (the first poll runs before the first stats read finishes): a
            # row of the edit below must come through.
            wi = W.ado.create(**{"System.Title": "dashboard live event"})
            ev = r.wait_for(lambda e: e[0] == "sync" and json.loads(e[1]).get("ado_id")
                            == wi["id"], timeout=30)
            item = json.loads(ev[1])
            for key in ("id", "ts", "map_name", "ado_url", "clickup_url", "direction",
                        "action", "status", "fields", "message"):
                self.assertIn(key, item)
            # And a second stats event follows on the 2 s period.
            r.wait_for(lambda e: e[0] == "stats")
        finally:
            conn.close()

    def test_stream_limit(self):
        conns = []
        try:
            for _ in range(32):
                conns.append(open_events())
            st, h, body = call("GET", "/api/events")
            self.assertEqual(st, 503, body)
        finally:
            for c, _ in conns:
                c.close()
        # Closed streams free their slots.
        wait_until("a free stream slot", lambda: self.try_open())

    def try_open(self):
        conn = http.client.HTTPConnection("127.0.0.1", W.daemon.port, timeout=10)
        try:
            conn.request("GET", "/api/events", headers={"Cookie": SESSION["cookie"]})
            return conn.getresponse().status == 200
        finally:
            conn.close()


if __name__ == "__main__":
    sim_harness.main()
