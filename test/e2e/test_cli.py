# SPDX-License-Identifier: MIT
"""End-to-end: the command line of the real binary (exit codes, messages,
check-config, hash-password, backup)."""
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon  # noqa: E402


def run(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([harness.DAEMON] + list(args), input=stdin, capture_output=True,
                       text=True, timeout=60, env=e)
    return p.returncode, p.stdout, p.stderr


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="acs-cli-")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version_and_help(self):
        rc, out, _ = run("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^ado-clickup-sync \d+\.\d+\.\d+")
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        for word in ("serve", "check-config", "demo", "hash-password", "backup"):
            self.assertIn(word, out)

    def test_usage_errors_exit_2(self):
        self.assertEqual(run("frobnicate")[0], 2)
        self.assertEqual(run("serve", "--bogus")[0], 2)
        self.assertEqual(run("demo", "--port", "99999")[0], 2)
        rc, _, err = run("serve", "-c")
        self.assertEqual(rc, 2)
        self.assertIn("needs a file", err)

    def test_check_config_ok(self):
        env = {"ADO_PAT": "pat-from-env-123456", "CLICKUP_API_TOKEN": "pk_1_ABCDEFGHIJKL",
               "WEBHOOK_SECRET": "hook-secret-123456"}
        path = self.write("ok.ini", "[server]\npublic_url = https://sync.example.com\n"
                          "[ado]\norganization = contoso\nproject = Fabrikam\n"
                          "[clickup]\nworkspace_id = 36226098\n"
                          "[map web]\nclickup_list_id = 901110236848\n")
        rc, out, err = run("check-config", "-c", path, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK (1 mapping)", out)
        # Without the secrets the same file is refused, naming each key.
        rc, out, err = run("check-config", "-c", path,
                           env={"ADO_PAT": "", "CLICKUP_API_TOKEN": "", "WEBHOOK_SECRET": ""})
        self.assertEqual(rc, 2)
        for key in ("ado.pat", "ado.webhook_password", "clickup.token"):
            self.assertIn(key + ": required", err)
        self.assertNotIn("pat-from-env", err)

    def test_check_config_example_needs_only_site_values(self):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "config.example.ini")
        env = {"ADO_PAT": "pat-from-env-123456", "CLICKUP_API_TOKEN": "pk_1_ABCDEFGHIJKL",
               "WEBHOOK_SECRET": "hook-secret-123456"}
        rc, _, err = run("check-config", "-c", example, env=env)
        self.assertEqual(rc, 2)
        missing = sorted(l.split(": ")[1] for l in err.strip().splitlines())
        self.assertEqual(missing, ["ado.organization", "clickup.workspace_id",
                                   "server.public_url"])

    def test_check_config_errors_name_file_line_key(self):
        path = self.write("bad.ini", "[server]\nlisten = 127.0.0.1:8080\nmax_connections = -3\n"
                          "[sync]\nconflict = sometimes\n")
        rc, out, err = run("check-config", "-c", path)
        self.assertEqual(rc, 2)
        self.assertIn(path + ":3: server.max_connections: ", err)
        self.assertIn(path + ":5: sync.conflict: ", err)

    def test_check_config_missing_file(self):
        rc, _, err = run("check-config", "-c", os.path.join(self.dir, "nope.ini"))
        self.assertEqual(rc, 2)
        self.assertIn("nope.ini", err)

    def test_serve_bad_config_exit_2(self):
        path = self.write("bad.ini", "[server]\nlisten = not-an-address\n")
        rc, _, err = run("serve", "-c", path)
        self.assertEqual(rc, 2)
        self.assertIn("server.listen", err)

    def test_serve_port_in_use_exit_1(self):
        d = Daemon().start()
        try:
            path = self.write("dup.ini", "[server]\nlisten = 127.0.0.1:%d\n[database]\n"
                              "url = sqlite:%s/x.db\n" % (d.port, self.dir))
            rc, _, err = run("serve", "-c", path)
            self.assertEqual(rc, 1)
            self.assertIn("cannot listen", err)
        finally:
            d.stop()
            d.cleanup()

    def test_hash_password(self):
        rc, out, _ = run("hash-password", stdin="correct horse battery staple\n")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("$argon2id$"), out)
        rc, _, err = run("hash-password", stdin="\n")
        self.assertEqual(rc, 2)

    def test_backup_while_running(self):
        d = Daemon().start()
        try:
            out = os.path.join(self.dir, "copy.db")
            rc, stdout, err = run("backup", "-c", d.config_path, out)
            self.assertEqual(rc, 0, err)
            self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
            con = sqlite3.connect(out)
            tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
            con.close()
            for t in ("project_map", "sync_map", "comment_map", "attachment_map", "inbox",
                      "sync_log"):
                self.assertIn(t, tables)
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()

    def test_demo_runs_daemon_and_simulators(self):
        import re
        import signal
        import socket
        import time
        import urllib.error
        import urllib.request
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        p = subprocess.Popen([harness.DAEMON, "demo", "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            lines = []
            while not any("Ctrl-C" in l for l in lines):
                line = p.stdout.readline()
                self.assertTrue(line, "demo exited early: %r" % lines)
                lines.append(line)
            out = "".join(lines)
            cu = re.search(r"ClickUp simulator: +(\S+)", out).group(1)
            ado = re.search(r"Azure DevOps simulator: +(\S+)", out).group(1)
            deadline = time.time() + 10
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/api/health" % port) as r:
                        self.assertEqual(r.status, 200)
                    break
                except OSError:
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.05)
            # Both simulators answer, and insist on credentials like the real APIs.
            for url in (cu + "/team", ado + "/_apis/wit/workitems/1?api-version=7.1"):
                with self.assertRaises(urllib.error.HTTPError) as e:
                    urllib.request.urlopen(url)
                self.assertEqual(e.exception.code, 401)
            data = re.search(r"data: +(\S+)", out).group(1)
            self.assertTrue(os.path.isfile(os.path.join(data, "sync.db")))
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=20), 0)
            # The throw-away database goes with the demo.
            self.assertFalse(os.path.exists(data))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()

    def test_register_webhooks(self):
        import json
        import re
        import urllib.request
        sim = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(harness.DAEMON))),
                           "test", "sim", "ado-clickup-sim")
        if not os.access(sim, os.X_OK):
            self.skipTest("ado-clickup-sim not built next to the daemon")
        p = subprocess.Popen([sim, "--ado-port", "0", "--clickup-port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            m = re.search(r"ado=(\d+) clickup=(\d+)", p.stdout.readline())
            self.assertIsNotNone(m)
            ado, cu = "http://127.0.0.1:" + m.group(1), "http://127.0.0.1:" + m.group(2)
            with urllib.request.urlopen(ado + "/_sim/info") as r:
                info = json.load(r)
            path = self.write("reg.ini", (
                "[server]\npublic_url = https://sync.example.com\n"
                "[database]\nurl = sqlite:%s/sync.db\n"
                "[ado]\nbase_url = %s\norganization = %s\nproject = %s\npat = %s\n"
                "webhook_username = hook\nwebhook_password = hook-password-123456\n"
                "[clickup]\nbase_url = %s\ntoken = %s\nworkspace_id = %s\n"
                "[map web]\nclickup_list_id = %s\n") % (
                self.dir, ado, info["ado"]["organization"], info["ado"]["project"],
                info["ado"]["pat"], info["clickup"]["base_url"], info["clickup"]["token"],
                info["clickup"]["team_id"], info["clickup"]["list_ids"][0]))
            # --check only reports (exit 1: repairs are due) and changes nothing.
            rc, out, err = run("register-webhooks", "-c", path, "--check")
            self.assertEqual(rc, 1, out + err)
            # A table: header, one row per subscription, then a verdict.
            lines = out.strip().splitlines()
            self.assertTrue(lines[0].startswith("SERVICE "), out)
            rows = [l for l in lines[1:] if l.startswith(("ado ", "clickup "))]
            self.assertEqual(len(rows), 6, out)
            self.assertTrue(all(re.search(r"\bmissing\b.*\bnever\s+create$", l) for l in rows),
                            out)
            self.assertIn("repairs are due", out)
            rc, out, err = run("register-webhooks", "-c", path)
            self.assertEqual(rc, 0, err)
            lines = out.strip().splitlines()
            self.assertEqual(len(lines), 6, out)
            self.assertIn("ado workitem.updated %s: created" % info["ado"]["project"], lines)
            self.assertIn("clickup webhook list %s: created" % info["clickup"]["list_ids"][0],
                          lines)
            req = urllib.request.Request(cu + "/api/v2/team/%s/webhook" %
                                         info["clickup"]["team_id"],
                                         headers={"Authorization": info["clickup"]["token"]})
            with urllib.request.urlopen(req) as r:
                secret = json.load(r)["webhooks"][0]["secret"]
            self.assertNotIn(secret, out + err)
            self.assertNotIn("hook-password-123456", out + err)
            # Idempotent.
            rc, out, err = run("register-webhooks", "-c", path)
            self.assertEqual(rc, 0, err)
            self.assertEqual([l.rsplit(": ", 1)[1] for l in out.strip().splitlines()],
                             ["unchanged"] * 6)
            rc, out, err = run("register-webhooks", "-c", path, "--check")
            self.assertEqual(rc, 0, out + err)
            rows = [l for l in out.splitlines() if l.startswith(("ado ", "clickup "))]
            self.assertEqual([l.split()[-1] for l in rows], ["none"] * 6, out)
            self.assertIn("all webhook subscriptions are healthy", out)
            rc, _, _ = run("check-config", "-c", path, "--check")
            self.assertEqual(rc, 2)
            # A service that refuses: exit 1, the failure named.
            with urllib.request.urlopen(urllib.request.Request(
                    cu + "/_sim/faults", data=b'{"path": "/webhook", "status": 503, '
                    b'"count": 100}', headers={"Content-Type": "application/json"})) as r:
                self.assertEqual(r.status, 200)
            rc, out, err = run("register-webhooks", "-c", path)
            self.assertEqual(rc, 1, out + err)
            self.assertIn(": failed: ", out)
        finally:
            p.terminate()
            p.wait(timeout=20)
            p.stdout.close()


class CheckConfigOnline(unittest.TestCase):
    """check-config --online against a real ado-clickup-sim: one line per
    check, exit 0 only when every check passed, 1 otherwise."""

    @classmethod
    def setUpClass(cls):
        sim = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(harness.DAEMON))),
                           "test", "sim", "ado-clickup-sim")
        if not os.access(sim, os.X_OK):
            raise unittest.SkipTest("ado-clickup-sim not built next to the daemon")
        import sim_harness
        sim_harness.SIM = sim
        cls.sim = sim_harness.Sim()
        cls.info = cls.sim.info

    @classmethod
    def tearDownClass(cls):
        cls.sim.kill()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="acs-cli-online-")

    # Secrets only from the file: an ADO_PAT in the caller's environment would win.
    NO_ENV = {"ADO_PAT": "", "CLICKUP_API_TOKEN": "", "WEBHOOK_SECRET": ""}

    def config(self, ado_base=None, pat=None, token=None, map_text=None):
        a, c = self.info["ado"], self.info["clickup"]
        if map_text is None:
            map_text = ("[map team]\nclickup_list_id = %s\nado_area_path = %s\\Web\n"
                        "ado_work_item_types = Task, Bug\nado_new_item_type = Task\n"
                        "status.New = to do\nstatus.Active = in progress\n"
                        "status.Closed = complete\n") % (c["list_ids"][0], a["project"])
        text = ("[server]\npublic_url = https://sync.example.com\n"
                "[database]\nurl = sqlite:%s/sync.db\n"
                "[ado]\nbase_url = %s\norganization = %s\nproject = %s\npat = %s\n"
                "webhook_username = hook\nwebhook_password = hook-password-123456\n"
                "[clickup]\nbase_url = %s\ntoken = %s\nworkspace_id = %s\n%s") % (
            self.dir, ado_base or a["base_url"], a["organization"], a["project"],
            pat or a["pat"], c["base_url"], token or c["token"], c["team_id"], map_text)
        path = os.path.join(self.dir, "online.ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path, want_rc):
        rc, out, err = run("check-config", "-c", path, "--online", env=self.NO_ENV)
        self.assertEqual(rc, want_rc, out + err)
        for secret in (self.info["ado"]["pat"], self.info["clickup"]["token"],
                       "hook-password-123456", "wrongpat0123456789"):
            self.assertNotIn(secret, out + err)
        return out, err

    def fails(self, out):
        return [l for l in out.splitlines() if l.startswith("FAIL ")]

    def test_all_ok(self):
        out, _ = self.check(self.config(), 0)
        lines = [l for l in out.splitlines() if l.startswith(("ok ", "FAIL ", "skip "))]
        self.assertTrue(all(l.startswith("ok ") for l in lines), out)
        self.assertGreaterEqual(len(lines), 10, out)
        self.assertIn("map team: ClickUp list %s" % self.info["clickup"]["list_ids"][0], out)
        self.assertIn("online checks passed", out)

    def test_without_online_no_request(self):
        before = len(self.sim.requests("ado")) + len(self.sim.requests("clickup"))
        rc, out, err = run("check-config", "-c", self.config(pat="wrongpat0123456789x"),
                           env=self.NO_ENV)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(self.sim.requests("ado")) + len(self.sim.requests("clickup")),
                         before)

    def test_wrong_pat(self):
        out, _ = self.check(self.config(pat="wrongpat0123456789abcdefghijklmnopqrstuvwxyz01"), 1)
        fails = self.fails(out)
        self.assertEqual(len(fails), 1, out)
        self.assertIn("ADO token", fails[0])
        self.assertIn("[ado] pat", fails[0])
        self.assertIn("skip  map team: ADO project", out)

    def test_wrong_clickup_token(self):
        out, _ = self.check(self.config(token="pk_1_WRONGTOKEN0123456789"), 1)
        fails = self.fails(out)
        self.assertEqual(len(fails), 1, out)
        self.assertIn("ClickUp token", fails[0])
        self.assertIn("[clickup] token", fails[0])

    def test_unknown_list(self):
        out, _ = self.check(self.config(map_text="[map team]\nclickup_list_id = 901\n"), 1)
        fails = self.fails(out)
        self.assertEqual(len(fails), 1, out)
        self.assertIn("ClickUp list 901 not found", fails[0])
        self.assertIn("check [map team] clickup_list_id", fails[0])

    def test_unknown_status(self):
        out, _ = self.check(self.config(map_text=(
            "[map team]\nclickup_list_id = %s\nstatus.Active = doing\n"
            % self.info["clickup"]["list_ids"][0])), 1)
        fails = self.fails(out)
        self.assertEqual(len(fails), 1, out)
        self.assertIn("'doing'", fails[0])
        self.assertIn("check [map team] status.Active", fails[0])

    def test_unreachable(self):
        import socket
        import time
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now: connection refused
        t0 = time.monotonic()
        out, err = self.check(self.config(ado_base="http://127.0.0.1:%d" % port), 1)
        self.assertLess(time.monotonic() - t0, 40)
        fails = self.fails(out)
        self.assertEqual(len(fails), 1, out)
        self.assertIn("cannot reach Azure DevOps", fails[0])
        self.assertIn("could not be reached", err)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        harness.DAEMON = sys.argv.pop(1)
    else:
        harness.DAEMON = os.environ["ACS_DAEMON"]
    unittest.main(verbosity=2)
