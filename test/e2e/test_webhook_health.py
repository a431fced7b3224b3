# SPDX-License-Identifier: MIT
"""Webhook health end to end: the real daemon against ado-clickup-sim with a
2 s [sync] webhook_check_interval. Registration is idempotent, subscriptions
the services disable (ADO disabledBySystem after failed deliveries, ClickUp
suspended) or a person deletes are back within one check interval,
GET /api/setup/webhooks (admin) shows states, last deliveries and repairs,
and `register-webhooks --check` reports the same and exits 1 only while a
repair is due.

usage: test_webhook_health.py DAEMON SIM (or ACS_DAEMON / ACS_SIM)."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import sim_harness as sh  # noqa: E402

PASSWORD = "webhook health admin password"
CHECK_S = 2  # [sync] webhook_check_interval
# One check interval plus what a check and the service calls take.
BACK_WITHIN = CHECK_S + 3
ADO_EVENTS = ["workitem.created", "workitem.updated", "workitem.commented", "workitem.deleted",
              "workitem.restored"]

W = None


def seed_patch(seed):
    # ADO: one quick resend, then no probation: a failed delivery disables
    # the subscription at once (as the seventh failed probation retry does).
    seed["ado"]["webhook"] = {"transient_delays_ms": [50], "probation_delays_ms": []}
    # ClickUp: an event dropped after two failed attempts suspends it.
    seed["clickup"]["webhook"].update(retry_delay_ms=50, max_attempts=2, suspend_after=1)


def hash_password(pw):
    out = subprocess.run([harness.DAEMON, "hash-password"], input=pw + "\n",
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def setUpModule():
    global W
    W = sh.World(sync={"webhook_check_interval": "%ds" % CHECK_S}, seed_patch=seed_patch,
                 config={"dashboard": {"admin_password_hash": hash_password(PASSWORD)}})
    W.start()


def tearDownModule():
    if W is not None:
        W.close()


def now_ms():
    return int(time.time() * 1000)


class Admin:
    """An admin session on the daemon's setup API."""

    def __init__(self):
        st, h, body = W.daemon.request("POST", "/api/login",
                                       body=json.dumps({"password": PASSWORD}).encode(),
                                       headers={"Content-Type": "application/json"})
        assert st == 200, (st, body)
        self.csrf = json.loads(body)["csrf_token"]
        self.cookie = h["set-cookie"].split(";")[0]

    def webhooks(self):
        st, _, body = W.daemon.request("GET", "/api/setup/webhooks",
                                       headers={"Cookie": self.cookie})
        assert st == 200, (st, body)
        return json.loads(body)

    def register(self):
        st, _, body = W.daemon.request("POST", "/api/setup/register-webhooks",
                                       headers={"Cookie": self.cookie,
                                                "X-CSRF-Token": self.csrf})
        assert st == 200, (st, body)
        return json.loads(body)


def item(report, label):
    for it in report["items"]:
        if it["label"] == label:
            return it
    raise AssertionError("no item %r in %s" % (label, json.dumps(report, indent=1)))


def ado_label(event):
    return "ado %s %s" % (event, W.sim.info["ado"]["project"])


def cu_label():
    return "clickup webhook list %s" % W.sim.info["clickup"]["list_ids"][0]


def ours_ado():
    return [s for s in W.ado.subscriptions()
            if s.get("consumerInputs", {}).get("url") == W.public_url + "/webhooks/ado"]


def ours_cu():
    return [w for w in W.cu.webhooks() if w.get("endpoint") == W.public_url + "/webhooks/clickup"]


def ado_sub(event):
    subs = [s for s in ours_ado() if s["eventType"] == event]
    return subs[0] if len(subs) == 1 else None


def cli(*args):
    return subprocess.run([harness.DAEMON, "register-webhooks", "-c", W.daemon.config_path]
                          + list(args), capture_output=True, text=True, timeout=60 * sh.SLOW)


def metric(name, **labels):
    st, _, body = W.daemon.request("GET", "/metrics")
    assert st == 200
    want = "%s{%s} " % (name, ",".join('%s="%s"' % kv for kv in labels.items()))
    for line in body.decode().splitlines():
        if line.startswith(want):
            return float(line[len(want):])
    return 0.0


class WebhookHealth(unittest.TestCase):
    """Steps share one world and run in name order."""

    def test_1_registration_twice_one_per_event(self):
        admin = Admin()
        sh.wait_until("the first registration in the report",
                      lambda: admin.webhooks()["time"] is not None)
        for _ in range(2):
            r = cli()
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = admin.register()
        self.assertEqual(r["failed"], 0)
        self.assertEqual({it["outcome"] for it in r["items"]}, {"unchanged"})
        subs = ours_ado()
        self.assertEqual(sorted(s["eventType"] for s in subs), sorted(ADO_EVENTS))
        self.assertEqual(len(ours_cu()), 1)
        report = admin.webhooks()
        for ev in ADO_EVENTS:
            it = item(report, ado_label(ev))
            self.assertEqual((it["service"], it["state"], it["action"], it["events"]),
                             ("ado", "enabled", "none", [ev]))
            self.assertIn(it["id"], {s["id"] for s in subs})
            self.assertIsNone(it["fail_count"])
        it = item(report, cu_label())
        self.assertEqual((it["service"], it["state"], it["fail_count"], it["action"]),
                         ("clickup", "active", 0, "none"))
        self.assertEqual(it["id"], ours_cu()[0]["id"])
        self.assertIn("taskUpdated", it["events"])
        r = cli("--check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"SERVICE\s+WHERE\s+EVENTS\s+ID\s+STATE\s+FAILS\s+"
                         r"LAST DELIVERY\s+ACTION")
        self.assertIn("all webhook subscriptions are healthy", r.stdout)

    def test_2_last_delivery(self):
        admin = Admin()
        t0 = now_ms()
        W.ado.create(**{"System.Title": "health: a delivery from ADO"})
        W.cu.create(name="health: a delivery from ClickUp")

        def delivered():
            rep = admin.webhooks()
            a = item(rep, ado_label("workitem.created"))["last_delivery"]
            c = item(rep, cu_label())["last_delivery"]
            return a and c and a >= t0 and c >= t0 and (a, c)
        a, c = sh.wait_until("last deliveries in the report", delivered)
        self.assertLessEqual(max(a, c), now_ms())
        # Deliveries only ever came from ours: every other item has none.
        rep = admin.webhooks()
        self.assertIsNone(item(rep, ado_label("workitem.restored"))["last_delivery"])

    def _repaired(self, admin, label, from_state, action, since):
        """Until the report holds a repair of label after `since` (Unix ms)."""
        def done():
            rep = item(admin.webhooks(), label)["last_repair"]
            return rep and rep["time"] >= since and rep["from_state"] == from_state and rep
        return sh.wait_until("%s repaired (%s, from %s)" % (label, action, from_state), done,
                             timeout=BACK_WITHIN + 5, interval=0.05,
                             detail=lambda: W.daemon.log()[-2000:])

    def test_3_ado_disabled_by_system_is_re_enabled(self):
        admin = Admin()
        before = metric("acs_webhook_repairs_total", service="ado", action="re-enable")
        sid = ado_sub("workitem.created")["id"]
        W.sim.deliver(False, ("ado",))
        try:
            t0 = now_ms()
            W.ado.create(**{"System.Title": "health: this delivery fails"})
            seen = {}

            def back():
                s = ado_sub("workitem.created")
                st = s.get("status", "enabled") if s else None
                if st == "disabledBySystem":
                    seen["disabled"] = True
                return seen.get("disabled") and st == "enabled" and s
            # Observed disabled by the service, then enabled again by the
            # daemon, in place, within one check interval of the failure.
            s = sh.wait_until("workitem.created disabled, then enabled again", back,
                              timeout=BACK_WITHIN + 5, interval=0.05,
                              detail=lambda: W.daemon.log()[-2000:])
            took = now_ms() - t0
        finally:
            W.sim.deliver(True, ("ado",))
        self.assertEqual(s["id"], sid)
        self.assertLess(took, BACK_WITHIN * 1000 * sh.SLOW)
        rep = self._repaired(admin, ado_label("workitem.created"), "disabledBySystem",
                             "re-enable", t0)
        self.assertEqual((rep["action"], rep["outcome"]), ("re-enable", "updated"))
        it = item(admin.webhooks(), ado_label("workitem.created"))
        self.assertEqual((it["state"], it["action"]), ("enabled", "none"))
        self.assertGreaterEqual(metric("acs_webhook_repairs_total", service="ado",
                                       action="re-enable"), before + 1)
        # Logged once: one registrar line for this repair.
        lines = [ln for ln in W.daemon.log().splitlines()
                 if "webhook registration" in ln and "disabledBySystem" in ln]
        self.assertEqual(len(lines), 1, lines)

    def test_4_clickup_suspended_is_re_activated(self):
        admin = Admin()
        wid = ours_cu()[0]["id"]
        W.sim.deliver(False, ("clickup",))
        try:
            t0 = now_ms()
            W.cu.create(name="health: this delivery fails")
            seen = {}

            def back():
                w = [x for x in ours_cu() if x["id"] == wid]
                st = w[0]["health"]["status"] if w else None
                if st == "suspended":
                    seen["suspended"] = True
                return seen.get("suspended") and st == "active" and w[0]
            w = sh.wait_until("the ClickUp webhook suspended, then active again", back,
                              timeout=BACK_WITHIN + 5, interval=0.05,
                              detail=lambda: W.daemon.log()[-2000:])
            took = now_ms() - t0
        finally:
            W.sim.deliver(True, ("clickup",))
        self.assertEqual(w["health"]["fail_count"], 0)
        self.assertLess(took, BACK_WITHIN * 1000 * sh.SLOW)
        rep = self._repaired(admin, cu_label(), "suspended", "re-enable", t0)
        self.assertEqual((rep["action"], rep["outcome"], rep["from_fail_count"]),
                         ("re-enable", "updated", 1))
        self.assertEqual(item(admin.webhooks(), cu_label())["state"], "active")

    def test_5_deleted_come_back(self):
        admin = Admin()
        sid = ado_sub("workitem.updated")["id"]
        wid = ours_cu()[0]["id"]
        t0 = now_ms()
        st, r = W.ado.api("DELETE", "hooks/subscriptions/%s?%s" % (sid, sh.V), project=False)
        self.assertLess(st, 300, r)
        st, r = W.cu.api("DELETE", "/webhook/%s" % wid)
        self.assertEqual(st, 200, r)

        def back():
            s, w = ado_sub("workitem.updated"), ours_cu()
            return s and len(w) == 1 and (s, w[0])
        s, w = sh.wait_until("both deleted subscriptions back", back, timeout=BACK_WITHIN + 5,
                             interval=0.05, detail=lambda: W.daemon.log()[-2000:])
        self.assertLess(now_ms() - t0, BACK_WITHIN * 1000 * sh.SLOW)
        self.assertNotEqual(s["id"], sid)
        self.assertNotEqual(w["id"], wid)
        rep = self._repaired(admin, ado_label("workitem.updated"), None, "create", t0)
        self.assertEqual((rep["action"], rep["outcome"]), ("create", "created"))
        rep = self._repaired(admin, cu_label(), None, "recreate", t0)
        self.assertEqual((rep["action"], rep["outcome"]), ("recreate", "recreated"))
        self.assertEqual(sorted(x["eventType"] for x in ours_ado()), sorted(ADO_EVENTS))
        # The new webhook's secret is known: its deliveries are accepted.
        t1 = now_ms()
        W.cu.create(name="health: delivered through the new webhook")
        sh.wait_until("a delivery through the new webhook",
                      lambda: (item(admin.webhooks(), cu_label())["last_delivery"] or 0) >= t1)

    def test_6_check_cli(self):
        # Stopped daemon: nothing repairs behind the check's back, and the
        # last deliveries it recorded are in the database. Quiet first: a
        # delivery meeting the stopped daemon would leave ClickUp failing.
        W.wait_quiet()
        self.assertEqual(W.daemon.stop(), 0)
        sid = ado_sub("workitem.commented")["id"]
        sub = ado_sub("workitem.commented")
        sub["status"] = "disabledByUser"
        st, r = W.ado.api("PUT", "hooks/subscriptions/%s?%s" % (sid, sh.V), sub, project=False)
        self.assertEqual(st, 200, r)
        r = cli("--check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rows = {ln.split()[2]: ln for ln in r.stdout.splitlines()
                if ln.startswith("ado ")}
        self.assertRegex(rows["workitem.commented"], r"\bdisabledByUser\b.*\bre-enable\b")
        self.assertRegex(rows["workitem.created"], r"\benabled\s+-\s+\d{4}-\d\d-\d\d .* none$")
        self.assertRegex(rows["workitem.restored"], r"\bnever\s+none$")
        cu_row = [ln for ln in r.stdout.splitlines() if ln.startswith("clickup ")]
        self.assertEqual(len(cu_row), 1)
        self.assertRegex(cu_row[0], r"\b11 events\b.*\bactive\s+0\s+\d{4}-.*\bnone$")
        self.assertIn("repairs are due", r.stdout)
        self.assertEqual(ado_sub("workitem.commented")["status"], "disabledByUser")
        r = cli()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = cli("--check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotRegex(r.stdout, r"re-enable|recreate|create\b")


if __name__ == "__main__":
    sh.main()
