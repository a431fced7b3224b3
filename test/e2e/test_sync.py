# SPDX-License-Identifier: MIT
"""End-to-end sync scenarios: the real daemon against ado-clickup-sim.
Creates on either side, every mapped field edited on each side, edit bursts,
echo accounting from the simulators' request logs, conflict policies, and
replayed / duplicated / out-of-order webhooks.

usage: test_sync.py DAEMON SIM [unittest args]; exits 77 (skip) while the daemon
has no sync engine (see sim_harness.py). ACS_SYNC_QUIET: seconds without a
write that count as quiescence (default 0.6)."""
import os
import random
import json
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sim_harness as H  # noqa: E402
from sim_harness import FIELDS, World, canon_ado, canon_clickup, expected  # noqa: E402

QUIET = float(os.environ.get("ACS_SYNC_QUIET", "0.6"))
# Ten edits of one item within a second may reach the other side as at most
# this many writes (the first one can go out before the rest arrive; the
# others coalesce).
BURST_MAX_WRITES = 3
# Extra writes a create may cause on its own side: the link back (ADO
# Hyperlink relation; ClickUp link field(s) or description footer).
LINK_BACK_MAX = 2


def metric_sums(daemon):
    """GET /metrics as {metric name: sum of its samples}."""
    status, _, body = daemon.request("GET", "/metrics")
    assert status == 200, body
    sums = {}
    for line in body.decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def item_writes(writes, ident):
    return [w for w in writes if "/%s" % ident in w[1].lower()]


class SyncCase(unittest.TestCase):
    world = None
    sync = None
    config = None  # extra config sections for World

    def setUp(self):
        self.t0 = time.time()
        self.rng = random.Random(self.id())
        self.world = World(sync=self.sync, config=self.config).start()

    def tearDown(self):
        w, self.world = self.world, None
        if w is not None:
            w.close()
        print("(%.1fs) " % (time.time() - self.t0), end="", file=sys.stderr)

    def create_on_ado(self, rec, wtype=H.NEW_ITEM_TYPE):
        w = self.world
        wi = w.ado.create(wtype, **H.ado_fields({k: rec[k] for k in
                                                 ("title", "description_html", "status",
                                                  "priority", "assignee", "tags", "due")}))
        w.human_changes += 1
        return wi["id"]

    def create_on_clickup(self, rec):
        w = self.world
        t = w.cu.create(**H.clickup_create_body(rec, w.cu.users))
        w.human_changes += 1
        return t["id"]

    def paired_item(self):
        """A pair created on ADO and fully synced; the world is quiet after."""
        rec = H.rand_record(self.rng)
        wid = self.create_on_ado(rec)
        tid = self.world.twin_of_ado(wid)
        self.world.wait_pair_equal(wid, tid, want=expected(rec))
        self.world.wait_quiet(QUIET)
        return wid, tid, rec


class Create(SyncCase):
    def check_create_writes(self, m, home, n_items, new_ids):
        """Writes after n_items creates on `home`: one create per item on the
        other side, at most LINK_BACK_MAX follow-up writes per item to the new
        items there and at most LINK_BACK_MAX link-back writes per item at
        home; nothing else."""
        w = self.world
        w.wait_quiet(QUIET)
        writes = w.daemon_writes(m)
        other = "clickup" if home == "ado" else "ado"
        creates = [x for x in writes[other] if x[0] == "POST" and
                   re.search(r"(?i)(/list/[^/]+/task|/workitems/\$[^/]+)$", x[1])]
        self.assertEqual(len(creates), n_items, writes)
        rest = [x for x in writes[other] if x not in creates]
        on_new = [x for x in rest if any(re.search(r"(?i)/%s(/|$)" % re.escape(str(i)), x[1])
                                         for i in new_ids)]
        self.assertEqual(rest, on_new, "writes to other items: %s" % writes)
        self.assertLessEqual(len(on_new), LINK_BACK_MAX * n_items, writes)
        self.assertLessEqual(len(writes[home]), LINK_BACK_MAX * n_items, writes)

    def test_ado_to_clickup(self):
        w = self.world
        m = w.mark()
        recs = [H.rand_record(self.rng, " ado-%d" % i) for i in range(2)]
        wids = [self.create_on_ado(recs[0], "User Story"), self.create_on_ado(recs[1], "Bug")]
        tids = []
        for wid, rec in zip(wids, recs):
            tid = w.twin_of_ado(wid)
            tids.append(tid)
            w.wait_pair_equal(wid, tid, want=expected(rec))
            t = w.cu.get(tid)
            self.assertEqual(t["list"]["id"], w.cu.list_id)
            self.assertEqual(H.clickup_link_of(t), wid)
        self.check_create_writes(m, "ado", 2, tids)
        ok, problems = w.converged()
        self.assertTrue(ok, problems)
        # The deliveries and the finished jobs show in the metrics.
        sums = metric_sums(w.daemon)
        self.assertGreater(sums.get("acs_events_received_total", 0), 0, sums)
        self.assertGreater(sums.get("acs_sync_latency_seconds_count", 0), 0, sums)
        self.assertGreater(sums.get("acs_api_requests_total", 0), 0, sums)
        self.assertEqual(sums.get("acs_sync_enabled"), 1, sums)

    def test_clickup_to_ado(self):
        w = self.world
        m = w.mark()
        recs = [H.rand_record(self.rng, " cu-%d" % i) for i in range(2)]
        tids = [self.create_on_clickup(r) for r in recs]
        wids = []
        for tid, rec in zip(tids, recs):
            wid = w.twin_of_task(tid)
            wids.append(wid)
            w.wait_pair_equal(wid, tid, want=expected(rec))
            wi = w.ado.get(wid)
            self.assertEqual(wi["fields"]["System.WorkItemType"], H.NEW_ITEM_TYPE)
            self.assertEqual(wi["fields"]["System.TeamProject"], w.ado.project)
        self.check_create_writes(m, "clickup", 2, wids)
        ok, problems = w.converged()
        self.assertTrue(ok, problems)

    def test_empty_optional_fields(self):
        """A bare item (title only) pairs with a bare twin: no description,
        tags, assignee or due date appear from nowhere."""
        w = self.world
        wi = w.ado.create("Bug", **{"System.Title": "bare ado item",
                                    "Microsoft.VSTS.Common.Priority": 3})
        t = w.cu.create(name="bare clickup task", priority=3, status="to do")
        w.human_changes += 2
        tid = w.twin_of_ado(wi["id"])
        wid = w.twin_of_task(t["id"])
        for a, c, title in ((wi["id"], tid, "bare ado item"), (wid, t["id"], "bare clickup task")):
            w.wait_pair_equal(a, c, want={"title": title, "description": "", "tags": [],
                                          "assignee": "", "due": 0, "priority": 3,
                                          "status": "to do"})


class Fields(SyncCase):
    def test_each_field_each_side(self):
        """Every mapped field edited on each side is mirrored, each human edit
        causes writes only to the other side (no echo), and as few as the
        field needs."""
        w = self.world
        wid, tid, rec = self.paired_item()
        cur = expected(rec)
        calls, changes = 0, 0
        for field in FIELDS:
            for side in ("ado", "clickup"):
                with self.subTest(field=field, side=side):
                    new = H.new_value(self.rng, field, cur[field])
                    m = w.mark()
                    old_tags = set(cur["tags"])
                    n_human = H.human_edit(w, side, wid, tid, field, new)
                    cur[field] = expected(new)[field]
                    w.wait_pair_equal(wid, tid, want={field: cur[field]})
                    w.wait_quiet(QUIET)
                    writes = w.daemon_writes(m)
                    other = "clickup" if side == "ado" else "ado"
                    self.assertEqual(writes[side], [], "echo write(s) to %s" % side)
                    # One write per human write request, except that ClickUp
                    # needs one request per tag added or removed.
                    budget = n_human
                    if field == "tags" and other == "clickup":
                        budget = len(old_tags ^ set(cur["tags"]))
                    self.assertGreaterEqual(len(writes[other]), 1, writes)
                    self.assertLessEqual(len(writes[other]), budget, writes)
                    calls += sum(len(v) for v in w.daemon_requests(m).values())
                    changes += 1
        print("\nfields: %d changes, %.1f API calls per synced change"
              % (changes, calls / changes), file=sys.stderr)
        ok, problems = w.converged()
        self.assertTrue(ok, problems)

    def test_several_fields_in_one_edit(self):
        """One ADO save changing five fields reaches ClickUp whole; one
        ClickUp PUT changing four reaches ADO whole."""
        w = self.world
        wid, tid, rec = self.paired_item()
        new = H.rand_record(self.rng)
        m = w.mark()
        w.ado.update(wid, H.ado_fields({k: new[k] for k in
                                        ("title", "description_html", "priority", "due",
                                         "assignee")}))
        want = {k: expected(new)[k] for k in ("title", "description", "priority", "due",
                                              "assignee")}
        w.wait_pair_equal(wid, tid, want=want)
        w.wait_quiet(QUIET)
        writes = w.daemon_writes(m)
        self.assertEqual(writes["ado"], [])
        self.assertEqual(len(writes["clickup"]), 1, writes)

        new = H.rand_record(self.rng)
        m = w.mark()
        w.cu.update(tid, {"name": new["title"], "markdown_content": new["description_md"],
                          "status": new["status"], "priority": new["priority"]})
        want = {k: expected(new)[k] for k in ("title", "description", "status", "priority")}
        w.wait_pair_equal(wid, tid, want=want)
        w.wait_quiet(QUIET)
        writes = w.daemon_writes(m)
        self.assertEqual(writes["clickup"], [])
        self.assertEqual(len(writes["ado"]), 1, writes)


class Burst(SyncCase):
    def burst(self, side):
        w = self.world
        wid, tid, rec = self.paired_item()
        m = w.mark()
        t0 = time.time()
        titles = ["%s burst %d" % (rec["title"], i) for i in range(10)]
        for title in titles:
            if side == "ado":
                w.ado.update(wid, {"System.Title": title})
            else:
                w.cu.update(tid, {"name": title})
            w.human_changes += 1
        self.assertLess(time.time() - t0, 1.0 * H.SLOW, "the burst took over a second")
        w.wait_pair_equal(wid, tid, want={"title": titles[-1]})
        w.wait_quiet(QUIET)
        writes = w.daemon_writes(m)
        other = "clickup" if side == "ado" else "ado"
        self.assertEqual(writes[side], [], "echo writes")
        self.assertGreaterEqual(len(writes[other]), 1)
        self.assertLessEqual(len(writes[other]), BURST_MAX_WRITES,
                             "10 edits in a burst were not coalesced: %s" % writes[other])

    def test_burst_on_ado(self):
        self.burst("ado")

    def test_burst_on_clickup(self):
        self.burst("clickup")


class ConflictBase(SyncCase):
    """Same field (title) edited on both sides while deliveries are paused, so
    the daemon sees both changes together; a different field changed on each
    side is merged, not lost."""
    sync = None

    def concurrent(self, first):
        w = self.world
        wid, tid, rec = self.paired_item()
        t_ado, t_cu = rec["title"] + " (ado)", rec["title"] + " (clickup)"
        new = H.new_value(self.rng, "priority", rec["priority"])
        tags = sorted(set(rec["tags"]) ^ {"conflict"})
        w.sim.deliver(False)
        try:
            for side in (first, "clickup" if first == "ado" else "ado"):
                if side == "ado":
                    w.ado.update(wid, {"System.Title": t_ado,
                                       "Microsoft.VSTS.Common.Priority": new["priority"]})
                else:
                    w.cu.update(tid, {"name": t_cu})
                    w.cu.set_tags(tid, tags)
                w.human_changes += 2
                # Distinct modification times for "newest" (the services
                # keep milliseconds).
                time.sleep(0.05)
        finally:
            w.sim.deliver(True)
        return wid, tid, t_ado, t_cu, {"priority": new["priority"], "tags": tags}

    def check(self, first, winner):
        w = self.world
        wid, tid, t_ado, t_cu, merged = self.concurrent(first)
        want = dict(merged, title=t_ado if winner == "ado" else t_cu)
        w.wait_pair_equal(wid, tid, want=want)
        w.wait_quiet(QUIET)
        # Converged for good: no late write flips it back.
        self.assertEqual(H.diff(canon_ado(w.ado.get(wid)), canon_clickup(w.cu.get(tid))), {})
        self.assertEqual(canon_ado(w.ado.get(wid))["title"], want["title"])


class ConflictNewest(ConflictBase):
    sync = {"conflict": "newest"}

    def test_clickup_newer_wins(self):
        self.check(first="ado", winner="clickup")

    def test_ado_newer_wins(self):
        self.check(first="clickup", winner="ado")


class ConflictAdo(ConflictBase):
    sync = {"conflict": "ado"}

    def test_ado_wins_although_older(self):
        self.check(first="ado", winner="ado")


class ConflictClickUp(ConflictBase):
    sync = {"conflict": "clickup"}

    def test_clickup_wins_although_older(self):
        self.check(first="clickup", winner="clickup")


class ApiConcurrency(SyncCase):
    """[sync] concurrency is also how many calls each service may have in flight
    (config.example.ini says so); the governor's own preset (4) held half the job
    slots back when a burst called one service."""
    sync = {"concurrency": "3"}

    def test_cap_follows_sync_concurrency(self):
        _, _, body = self.world.daemon.request("GET", "/metrics")
        caps = dict(re.findall(r'^acs_api_max_in_flight\{service="(\w+)"\} (\S+)$',
                               body.decode("utf-8"), re.M))
        self.assertEqual(caps, {"ado": "3", "clickup": "3"})


class Replay(SyncCase):
    def test_out_of_order_then_replayed_and_duplicated(self):
        """Deliveries held back and handed to the daemon in reverse order end
        at the newest values; afterwards every delivery ever captured (human
        edits, creates and the echoes of the daemon's own writes), replayed
        twice in random order, changes nothing and writes nothing."""
        w = self.world
        wid, tid, rec = self.paired_item()
        tid2 = self.create_on_clickup(H.rand_record(self.rng, " second"))
        wid2 = w.twin_of_task(tid2)
        w.wait_quiet(QUIET)

        w.proxy.set_hold(True)
        titles = ["%s v%d" % (rec["title"], i) for i in range(3)]
        prios = [p for p in (1, 2, 3, 4) if p != rec["priority"]]
        for title, prio in zip(titles, prios):
            w.cu.update(tid, {"name": title})
            w.ado.update(wid, {"Microsoft.VSTS.Common.Priority": prio})
            w.human_changes += 2
        wait = H.wait_until
        wait("the held deliveries", lambda: len(w.proxy.held) >= 6 and
             not w.sim.pending("ado") and not w.sim.pending("clickup"))
        w.proxy.set_hold(False)
        held = w.proxy.take_held()
        statuses = w.replay(list(reversed(held)))
        self.assertTrue(all(200 <= s < 300 for s in statuses), statuses)
        w.wait_pair_equal(wid, tid, want={"title": titles[-1], "priority": prios[2]})
        w.wait_quiet(QUIET)

        before = w.snapshot()
        m = w.mark()
        everything = w.proxy.deliveries()
        self.assertTrue(any(d["path"].endswith("/ado") for d in everything))
        self.assertTrue(any(d["path"].endswith("/clickup") for d in everything))
        replays = everything * 2
        random.Random(7).shuffle(replays)
        statuses = w.replay(replays)
        self.assertTrue(all(200 <= s < 300 for s in statuses), statuses)
        w.wait_quiet(QUIET)
        self.assertEqual(w.daemon_writes(m), {"ado": [], "clickup": []})
        after = w.snapshot()
        for a, b in ((wid, tid), (wid2, tid2)):
            self.assertEqual(canon_ado(before[0][a]), canon_ado(after[0][a]))
            self.assertEqual(canon_clickup(before[1][b]), canon_clickup(after[1][b]))
        ok, problems = w.converged(after)
        self.assertTrue(ok, problems)

    def test_bad_credentials_rejected(self):
        """A replay without the right Basic auth / signature is refused and
        writes nothing."""
        w = self.world
        wid, tid, rec = self.paired_item()
        w.cu.update(tid, {"name": rec["title"] + " signed"})
        w.ado.update(wid, {"Microsoft.VSTS.Common.Priority": 1 + rec["priority"] % 4})
        w.human_changes += 2
        w.wait_quiet(QUIET)
        kinds = {d["path"].rsplit("/", 1)[-1] for d in w.proxy.deliveries()}
        self.assertEqual(kinds, {"ado", "clickup"})
        m = w.mark()
        for d in w.proxy.deliveries():
            # Only the body and its type: no credential header of any kind.
            bad = dict(d)
            hdrs = {k: v for k, v in d["headers"].items() if k.lower() == "content-type"}
            if d["path"].endswith("/clickup"):
                hdrs["X-Signature"] = "0" * 64
            else:
                hdrs["Authorization"] = "Basic " + H.base64.b64encode(
                    (H.WEBHOOK_USER + ":wrong-password").encode()).decode()
            bad["headers"] = hdrs
            st = w.replay([bad])[0]
            self.assertIn(st, (401, 403), d["path"])
        w.wait_quiet(QUIET)
        self.assertEqual(w.daemon_writes(m), {"ado": [], "clickup": []})



class Sweep(SyncCase):
    """With webhook delivery turned off on both simulators, edits on both sides
    still converge: the reconciliation sweep (every 2 s here) finds them."""
    sync = {"conflict": "newest", "sweep_interval": "2s"}

    def test_converges_without_webhooks(self):
        w = self.world
        wid, tid, rec = self.paired_item()
        title = rec["title"] + " (swept)"
        tags = sorted(set(rec["tags"]) ^ {"swept"})
        # Past the scheduler's cooldown: no late job of the pairing may pick
        # the edits below up by reading the item.
        w.wait_quiet(1.5)
        w.sim.deliver(False)
        w.ado.update(wid, {"System.Title": title})
        w.cu.set_tags(tid, tags)
        w.human_changes += 2
        # Deliveries stay off: only the sweep can bring these over.
        w.wait_pair_equal(wid, tid, timeout=20, want={"title": title, "tags": tags})
        self.assertEqual(H.diff(canon_ado(w.ado.get(wid)), canon_clickup(w.cu.get(tid))), {})
        self.assertTrue(w.sim.pending("ado") or w.sim.pending("clickup"))
        self.assertRegex(w.daemon.log(), r'mod=sweep msg="sweep done".* queued=[1-9]')


ADMIN_PASSWORD = "setup webhooks e2e password"


def hash_password(pw):
    out = subprocess.run([H.harness.DAEMON, "hash-password"], input=pw + "\n",
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


class SetupWebhooks(SyncCase):
    """GET /api/setup/webhooks and POST /api/setup/register-webhooks: admin
    only (POST with CSRF), the last registrar run and a fresh one."""

    def setUp(self):
        self.config = {"dashboard": {"admin_password_hash": hash_password(ADMIN_PASSWORD)}}
        super().setUp()

    def login(self):
        d = self.world.daemon
        st, h, body = d.request("POST", "/api/login",
                                body=json.dumps({"password": ADMIN_PASSWORD}).encode(),
                                headers={"Content-Type": "application/json"})
        self.assertEqual(st, 200, body)
        cookie = h["set-cookie"].split(";")[0]
        return cookie, json.loads(body)["csrf_token"]

    def test_gate_list_and_register(self):
        d = self.world.daemon
        st, _, _ = d.request("GET", "/api/setup/webhooks")
        self.assertEqual(st, 401)
        st, _, _ = d.request("POST", "/api/setup/register-webhooks")
        self.assertEqual(st, 401)
        cookie, csrf = self.login()
        st, _, _ = d.request("POST", "/api/setup/register-webhooks", headers={"Cookie": cookie})
        self.assertEqual(st, 403)

        # The start-up run (wait_registered saw its subscriptions; its
        # result is recorded a moment later).
        def last():
            st, _, body = d.request("GET", "/api/setup/webhooks", headers={"Cookie": cookie})
            self.assertEqual(st, 200, body)
            return json.loads(body)
        H.wait_until("the first registrar run", lambda: last()["time"] is not None)
        j = last()
        self.assertEqual(j["failed"], 0)
        self.assertEqual(len(j["items"]), 6, j)
        self.assertEqual(sorted({i["service"] for i in j["items"]}), ["ado", "clickup"])
        for i in j["items"]:
            self.assertIn(i["outcome"], ("unchanged", "created"), i)
            self.assertTrue(i["id"], i)
        self.assertFalse(any("secret" in i for i in j["items"]))

        st, _, body = d.request("POST", "/api/setup/register-webhooks",
                                headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(st, 200, body)
        r = json.loads(body)
        self.assertEqual(r["failed"], 0)
        self.assertEqual([i["outcome"] for i in r["items"]], ["unchanged"] * 6, r)
        self.assertGreaterEqual(r["time"], j["time"])


if __name__ == "__main__":
    H.main()
