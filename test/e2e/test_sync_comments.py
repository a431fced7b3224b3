# SPDX-License-Identifier: MIT
"""End-to-end comments, deletes and moves: the real daemon against ado-clickup-sim.
Comments mirrored both ways with formatting, edits and deletes following, exactly one
daemon write per human comment (no echo), the on_delete policies, restore re-pairing,
moves out of the mapping, and a kill -9 while a comment is being mirrored.

usage: test_sync_comments.py DAEMON SIM [unittest args]; exits 77 (skip) while the
daemon has no sync engine (see sim_harness.py)."""
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sim_harness as H  # noqa: E402
from sim_harness import World, wait_until  # noqa: E402

QUIET = float(os.environ.get("ACS_SYNC_QUIET", "0.6"))
CV = "api-version=7.1-preview.4"
SECOND_LIST = "901110236849"
AREA = "Platform\\Integrations"  # the sim's project and one of its areas


def add_second_list(seed):
    """A second list in the mapped list's folder (no mapping names it)."""
    folder = seed["clickup"]["spaces"][0]["folders"][0]
    folder["lists"].append({"id": SECOND_LIST, "name": "Elsewhere"})


class Case(unittest.TestCase):
    config = None
    seed_patch = None

    def setUp(self):
        self.t0 = time.time()
        self.world = World(config=self.config, seed_patch=type(self).seed_patch).start()

    def tearDown(self):
        w, self.world = self.world, None
        if w is not None:
            w.close()
        print("(%.1fs) " % (time.time() - self.t0), end="", file=sys.stderr)

    # --- items ---
    def pair(self, title):
        w = self.world
        wi = w.ado.create("User Story", **{"System.Title": title,
                                           "System.AreaPath": AREA})
        tid = w.twin_of_ado(wi["id"])
        w.wait_quiet(QUIET)
        return wi["id"], tid

    def pair_state(self, wid):
        """sync_map.state of the work item's pair (read-only look at the database)."""
        db = os.path.join(self.world.daemon.dir, "sync.db")
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            row = con.execute("SELECT state FROM sync_map WHERE ado_id = ?", (wid,)).fetchone()
        finally:
            con.close()
        return row[0] if row else None

    def history(self):
        db = os.path.join(self.world.daemon.dir, "sync.db")
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            rows = con.execute("SELECT ado_id, clickup_id, action, status, message FROM "
                               "sync_log ORDER BY id DESC LIMIT 15").fetchall()
        finally:
            con.close()
        return "\n".join(map(str, reversed(rows)))

    # --- comments as humans write them ---
    def ado_comment(self, wid, html):
        st, c = self.world.ado.api("POST", "wit/workItems/%s/comments?%s" % (wid, CV),
                                   {"text": html})
        self.assertEqual(st, 200, c)
        return c["id"]

    def ado_comments(self, wid):
        st, r = self.world.ado.api("GET", "wit/workItems/%s/comments?%s&order=asc" % (wid, CV))
        self.assertEqual(st, 200, r)
        return r["comments"]

    def cu_comment(self, tid, text):
        st, r = self.world.cu.api("POST", "/task/%s/comment" % tid,
                                  {"comment_text": text, "notify_all": False})
        self.assertEqual(st, 200, r)
        return str(r["id"])

    def cu_comments(self, tid):
        st, r = self.world.cu.api("GET", "/task/%s/comment" % tid)
        self.assertEqual(st, 200, r)
        return list(reversed(r["comments"]))  # oldest first

    def comment_writes(self, m):
        """The daemon's comment writes since mark m: (ado, clickup) lists."""
        w = self.world.daemon_writes(m)
        return ([x for x in w["ado"] if "/comments" in x[1].lower()],
                [x for x in w["clickup"] if "comment" in x[1].lower()])


class Comments(Case):
    def test_both_ways(self):
        w = self.world
        wid, tid = self.pair("Comments both ways")

        # ADO -> ClickUp: bold, link, list and code as Markdown under the author line.
        m = w.mark()
        a1 = self.ado_comment(wid, "<div>Hello <b>bold</b> and <a href=\"https://ex.example/"
                                   "p\">a link</a></div><ul><li>one</li><li>two</li></ul>"
                                   "<pre><code>x = 1;</code></pre>")
        got = wait_until("the ClickUp mirror", lambda: self.cu_comments(tid), timeout=15)
        text = got[0]["comment_text"]
        self.assertRegex(text, r"^\*\*[^\n]+\*\* \(Azure DevOps\):\n\n")
        for part in ("Hello **bold** and [a link](https://ex.example/p)", "- one\n- two",
                     "```\nx = 1;\n```"):
            self.assertIn(part, text)
        w.wait_quiet(QUIET)
        ado_w, cu_w = self.comment_writes(m)
        self.assertEqual((len(ado_w), len(cu_w)), (0, 1), (ado_w, cu_w))
        mirror_of_a1 = got[0]["id"]

        # ClickUp -> ADO: Markdown becomes HTML.
        m = w.mark()
        c1 = self.cu_comment(tid, "Reply: **strong**, `code`, [site](https://ex.example/q)\n\n"
                                  "1. first\n2. second")

        def ado_mirror():
            cs = [c for c in self.ado_comments(wid) if "(ClickUp):" in c["text"]]
            return cs[0] if cs else None
        mc = wait_until("the ADO mirror", ado_mirror, timeout=15)
        for part in ("<strong>strong</strong>", "<code>code</code>",
                     '<a href="https://ex.example/q">site</a>', "<ol>", "<li>second</li>"):
            self.assertIn(part, mc["text"])
        w.wait_quiet(QUIET)
        ado_w, cu_w = self.comment_writes(m)
        self.assertEqual((len(ado_w), len(cu_w)), (1, 0), (ado_w, cu_w))

        # Round trip: the ClickUp mirror's Markdown of the ADO comment parses back to the
        # same HTML structure on ADO (html -> md -> html keeps bold, link, list, code).
        self.assertEqual(H.norm_md(H.html_to_md(mc["text"]).split("\n\n", 1)[1]),
                         H.norm_md("Reply: **strong**, `code`, [site](https://ex.example/q)"
                                   "\n\n1. first\n2. second"))

        # Edits: ClickUp edit has an event; the ADO edit is found with the next event.
        st, _ = w.cu.api("PUT", "/comment/%s" % c1, {"comment_text": "Edited **here**",
                                                      "resolved": False})
        self.assertEqual(st, 200)
        wait_until("the ADO mirror edited",
                   lambda: "Edited <strong>here</strong>" in (ado_mirror() or {}).get("text", ""),
                   timeout=15)
        st, _ = w.ado.api("PATCH", "wit/workItems/%s/comments/%s?%s" % (wid, a1, CV),
                          {"text": "<p>Changed <i>in ADO</i></p>"})
        self.assertEqual(st, 200)
        self.cu_comment(tid, "poke")
        wait_until("the ClickUp mirror edited",
                   lambda: any(c["id"] == mirror_of_a1 and "Changed *in ADO*" in
                               c["comment_text"] for c in self.cu_comments(tid)), timeout=15)
        w.wait_quiet(QUIET)

        # Deletes: neither service sends an event; the next comment finds them.
        m = w.mark()
        st, _ = w.cu.api("DELETE", "/comment/%s" % c1)
        self.assertEqual(st, 200)
        st, _ = w.ado.api("DELETE", "wit/workItems/%s/comments/%s?%s" % (wid, a1, CV))
        self.assertEqual(st, 200)
        self.ado_comment(wid, "<p>after the deletes</p>")
        wait_until("both mirrors deleted",
                   lambda: not any("(ClickUp):" in c["text"] and "Edited" in c["text"]
                                   for c in self.ado_comments(wid)) and
                   not any(c["id"] == mirror_of_a1 for c in self.cu_comments(tid)),
                   timeout=15)
        w.wait_quiet(QUIET)
        ado_w, cu_w = self.comment_writes(m)
        self.assertEqual(sorted(x[0] for x in ado_w), ["DELETE"], ado_w)
        self.assertEqual(sorted(x[0] for x in cu_w), ["DELETE", "POST"], cu_w)
        # Every comment has exactly one counterpart: 'poke' and 'after the deletes'.
        ado_texts = [c["text"] for c in self.ado_comments(wid)]
        cu_texts = [c["comment_text"] for c in self.cu_comments(tid)]
        self.assertEqual(len(ado_texts), 2, ado_texts)
        self.assertEqual(len(cu_texts), 2, cu_texts)

    def test_kill_during_mirror(self):
        """kill -9 while the ClickUp comment POST is held: after the restart the mirror
        posted before the crash is adopted, never posted twice."""
        w = self.world
        wid, tid = self.pair("Crash while commenting")
        w.sim.fault("clickup", path="/comment", method="POST", delay_ms=1500, count=1)
        self.ado_comment(wid, "<p>survives a <b>crash</b></p>")
        wait_until("the mirror POST to reach ClickUp",
                   lambda: any(e["method"] == "POST" and "/comment" in e["path"]
                               for e in w.sim.requests("clickup")), timeout=15)
        w.kill()
        time.sleep(1.6 * H.SLOW)  # the held answer is lost with the daemon
        w.restart()
        # Another event of the pair makes the syncer look again.
        self.ado_comment(wid, "<p>second</p>")
        wait_until("both mirrors",
                   lambda: len(self.cu_comments(tid)) >= 2, timeout=20)
        w.wait_quiet(QUIET)
        texts = [c["comment_text"] for c in self.cu_comments(tid)]
        self.assertEqual(sum("crash" in t for t in texts), 1, texts)
        self.assertEqual(len(texts), 2, texts)
        self.assertEqual(len(self.ado_comments(wid)), 2)


class DeleteClose(Case):
    """Default on_delete = close."""

    def test_delete_close_and_restore(self):
        w = self.world
        wid, tid = self.pair("Close on delete")
        st, _ = w.ado.api("DELETE", "wit/workitems/%s?api-version=7.1" % wid)
        self.assertEqual(st, 200)
        wait_until("the task closed",
                   lambda: w.cu.get(tid)["status"]["status"] == "complete", timeout=15)
        w.wait_quiet(QUIET)
        self.assertEqual(self.pair_state(wid), "ended")
        m = w.mark()
        st, _ = w.ado.api("PATCH", "wit/recyclebin/%s?api-version=7.1" % wid,
                          {"isDeleted": False})
        self.assertEqual(st, 200)
        wait_until("the task reopened",
                   lambda: w.cu.get(tid)["status"]["status"] == "to do", timeout=15)
        # Paired again: an edit flows.
        w.ado.update(wid, {"System.Title": "Back again"})
        wait_until("the title synced", lambda: w.cu.get(tid)["name"] == "Back again",
                   timeout=15)
        self.assertEqual(self.pair_state(wid), "active")
        w.wait_quiet(QUIET)
        self.assertEqual(w.daemon_writes(m)["ado"], [])

    def test_moves(self):
        w = self.world
        # ClickUp task moved to a list no mapping names: the work item is closed.
        wid, tid = self.pair("Moving out")
        st, _ = w.cu._send("PUT", "/api/v3/workspaces/%s/tasks/%s/home_list/%s"
                           % (w.cu.team, tid, SECOND_LIST), b"{}",
                           {"Authorization": w.cu.token, "Content-Type": "application/json"})
        self.assertEqual(st, 200)
        wait_until("the work item closed",
                   lambda: w.ado.get(wid)["fields"]["System.State"] == "Closed", timeout=15)
        # ADO item moved to another area: the task is closed.
        wid2, tid2 = self.pair("Area hop")
        w.ado.update(wid2, {"System.AreaPath": "Platform\\Web"})
        wait_until("the task closed",
                   lambda: w.cu.get(tid2)["status"]["status"] == "complete", timeout=15,
                   detail=self.history)
        w.wait_quiet(QUIET)
        # Ended pairs stay ended: an edit of the moved task is not synced.
        m = w.mark()
        w.cu.update(tid, {"name": "not synced"})
        w.wait_quiet(QUIET)
        self.assertEqual(w.daemon_writes(m)["ado"], [])


DeleteClose.seed_patch = staticmethod(add_second_list)
DeleteClose.config = {"map e2e": {"ado_area_path": AREA}}


class DeletePolicies(Case):
    config = {"map e2e": {"on_delete": "delete"}}

    def test_delete(self):
        w = self.world
        wid, tid = self.pair("Delete both")
        st, _ = w.cu.api("DELETE", "/task/%s" % tid)
        self.assertEqual(st, 204)
        wait_until("the work item deleted",
                   lambda: w.ado.api("GET", "wit/workitems/%s?api-version=7.1" % wid)[0] == 404,
                   timeout=15)
        wait_until("the pair ended", lambda: self.pair_state(wid) == "ended", timeout=10)


class IgnorePolicy(Case):
    config = {"map e2e": {"on_delete": "ignore"}}

    def test_ignore(self):
        w = self.world
        wid, tid = self.pair("Leave me")
        m = w.mark()
        st, _ = w.ado.api("DELETE", "wit/workitems/%s?api-version=7.1" % wid)
        self.assertEqual(st, 200)
        w.wait_quiet(QUIET)
        time.sleep(0.3)
        self.assertEqual(w.daemon_writes(m), {"ado": [], "clickup": []})
        self.assertEqual(w.cu.get(tid)["status"]["status"], "to do")
        self.assertEqual(self.pair_state(wid), "ended")


if __name__ == "__main__":
    H.main()
