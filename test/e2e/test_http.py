# SPDX-License-Identifier: MIT
"""End-to-end: the real daemon binary on loopback. HTTP server limits and
statuses of product.md section 4, pipelining, keep-alive, concurrency,
X-Forwarded-For, logs, and a clean SIGTERM/SIGHUP lifecycle."""
import os
import selectors
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, json_body, parse_responses, read_all  # noqa: E402

PAT = "ado-pat-e2e-0123456789abcdefghij"
TOKEN = "pk_4242_E2ETOKENABCDEFGHIJKLMNOP"

D = None


def setUpModule():
    global D
    D = Daemon(config={
        "server": {
            "read_timeout": "1s",
            "idle_timeout": "3s",
            "max_body_bytes": "64K",
            "max_header_bytes": "4K",
            "trusted_proxies": "127.0.0.1",
        },
        "ado": {"organization": "contoso", "project": "Fabrikam", "pat": PAT},
        # No workspace_id: sync is not configured, so no engine (it would start on the
        # credentials alone and call the real services).
        "clickup": {"token": TOKEN},
    }).start()


def tearDownModule():
    if D is not None:
        rc = D.stop()
        log = D.log()
        D.cleanup()
        assert rc == 0, "daemon exit code %r\n%s" % (rc, log)


class Health(unittest.TestCase):
    def test_health(self):
        status, headers, body = D.request("GET", "/api/health")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        j = json_body(body)
        self.assertEqual(j["status"], "ok")
        self.assertTrue(j["version"])
        self.assertTrue(headers.get("x-request-id"))

    def test_ready(self):
        status, _, body = D.request("GET", "/api/ready")
        self.assertEqual(status, 200, body)
        j = json_body(body)
        self.assertEqual(j["status"], "ready")

    def test_head(self):
        status, headers, body = D.request("HEAD", "/api/health")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertGreater(int(headers["content-length"]), 0)

    def test_request_ids_unique(self):
        ids = {D.request("GET", "/api/health")[1]["x-request-id"] for _ in range(20)}
        self.assertEqual(len(ids), 20)


class Metrics(unittest.TestCase):
    def test_metrics_exposition(self):
        import re
        status, headers, body = D.request("GET", "/metrics")
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"),
                        headers["content-type"])
        text = body.decode("utf-8")
        self.assertTrue(text.endswith("\n"))
        sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
                            r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                            r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})?'
                            r' (\S+)$')
        types, helps, values = {}, set(), {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name = line.split(" ", 3)[2]
                self.assertNotIn(name, helps, line)
                helps.add(name)
            elif line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                self.assertIn(kind, ("counter", "gauge", "histogram"), line)
                self.assertIn(name, helps, "TYPE before HELP: " + line)
                types[name] = kind
            else:
                m = sample.match(line)
                self.assertIsNotNone(m, "bad sample line: %r" % line)
                float(m.group(3).replace("Inf", "inf"))
                base = m.group(1)
                if base not in types:
                    base = re.sub(r"_(bucket|sum|count)$", "", base)
                self.assertIn(base, types, "sample without TYPE: " + line)
                values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        self.assertEqual(helps, set(types))
        self.assertGreater(values["acs_process_resident_memory_bytes"], 1 << 20)
        self.assertGreater(values["acs_process_open_fds"], 3)
        self.assertEqual(values['acs_inbox_events{state="pending"}'], 0)
        self.assertEqual(values["acs_sync_enabled"], 0)
        # No engine here: the sync metrics are simply absent.
        self.assertNotIn("acs_sync_latency_seconds", types)


class ErrorStatuses(unittest.TestCase):
    def check_error(self, status, body, want):
        self.assertEqual(status, want, body)
        j = json_body(body)
        self.assertIn("error", j)
        self.assertIn("detail", j)

    def test_404(self):
        status, _, body = D.request("GET", "/no/such/path")
        self.check_error(status, body, 404)

    def test_405(self):
        status, headers, body = D.request("DELETE", "/api/health")
        self.check_error(status, body, 405)
        self.assertIn("GET", headers["allow"])

    def test_400_garbage(self):
        out = D.raw(b"THIS IS NOT HTTP\r\n\r\n")
        resp = parse_responses(out)
        self.assertEqual(len(resp), 1, out)
        self.check_error(resp[0][0], resp[0][2], 400)

    def test_408_slow_headers(self):
        t0 = time.time()
        out = D.raw(b"GET /api/health HTTP/1.1\r\nHost: x\r\n", timeout=10)
        resp = parse_responses(out)
        self.assertEqual(len(resp), 1, out)
        self.check_error(resp[0][0], resp[0][2], 408)
        self.assertEqual(resp[0][1].get("connection"), "close")
        self.assertLess(time.time() - t0, 8)

    def test_408_slow_body(self):
        out = D.raw(b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
                    timeout=10)
        resp = parse_responses(out)
        self.assertEqual(len(resp), 1, out)
        self.assertEqual(resp[0][0], 408)

    def test_411(self):
        out = D.raw(b"POST /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = parse_responses(out)
        self.check_error(resp[0][0], resp[0][2], 411)

    def test_413_content_length(self):
        out = D.raw(b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        resp = parse_responses(out)
        self.check_error(resp[0][0], resp[0][2], 413)

    def test_413_chunked(self):
        chunk = b"%x\r\n%s\r\n" % (40000, b"a" * 40000)
        out = D.raw(b"POST /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + chunk + chunk + b"0\r\n\r\n")
        resp = parse_responses(out)
        self.check_error(resp[0][0], resp[0][2], 413)

    def test_413_expect_continue(self):
        out = D.raw(b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                    b"Expect: 100-continue\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out)

    def test_100_continue(self):
        s = socket.create_connection(("127.0.0.1", D.port), timeout=5)
        try:
            s.sendall(b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            first = s.recv(100)
            self.assertTrue(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first)
            s.sendall(b"ping")
            rest = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):] + s.recv(4096)
            self.assertTrue(rest.startswith(b"HTTP/1.1 405"), rest)
        finally:
            s.close()

    def test_431(self):
        big = b"X-Big: " + b"a" * 8000 + b"\r\n"
        out = D.raw(b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        resp = parse_responses(out)
        self.check_error(resp[0][0], resp[0][2], 431)


class Connections(unittest.TestCase):
    def test_pipelining(self):
        req = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
        bad = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /api/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = D.raw(req + bad + req + last)
        resp = parse_responses(out)
        self.assertEqual([r[0] for r in resp], [200, 404, 200, 200])
        self.assertEqual(json_body(resp[3][2])["status"], "ready")

    def test_keepalive_1000(self):
        c = D.conn()
        try:
            for _ in range(1000):
                c.request("GET", "/api/health")
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
        finally:
            c.close()
        # All 1,000 answers came over one connection.
        self.assertIsNone(c.sock)

    def test_chunked_body_accepted(self):
        out = D.raw(b"POST /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"4\r\nabcd\r\n0\r\n\r\n" b"GET /api/health HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n")
        resp = parse_responses(out)
        self.assertEqual([r[0] for r in resp], [405, 200])

    def test_500_concurrent(self):
        n = 500
        socks = []
        sel = selectors.DefaultSelector()
        try:
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", D.port), timeout=10)
                socks.append(s)
            for s in socks:
                s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, bytearray())
            done = 0
            deadline = time.time() + 60
            while done < n and time.time() < deadline:
                for key, _ in sel.select(timeout=1):
                    chunk = key.fileobj.recv(65536)
                    if chunk:
                        key.data.extend(chunk)
                    else:
                        sel.unregister(key.fileobj)
                        resp = parse_responses(bytes(key.data))
                        self.assertEqual(len(resp), 1)
                        self.assertEqual(resp[0][0], 200)
                        done += 1
            self.assertEqual(done, n)
        finally:
            for s in socks:
                s.close()

    def test_idle_keepalive_closed(self):
        s = socket.create_connection(("127.0.0.1", D.port), timeout=10)
        try:
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            t0 = time.time()
            out = read_all(s, 10)
            self.assertEqual(len(parse_responses(out)), 1)
            # The server closed the idle connection after idle_timeout (3 s).
            self.assertLess(time.time() - t0, 9)
        finally:
            s.close()


class Logging(unittest.TestCase):
    def test_access_log_and_forwarded_for(self):
        D.request("GET", "/api/health?probe=xff", headers={"X-Forwarded-For": "203.0.113.9"})
        time.sleep(0.2)
        lines = [l for l in D.log().splitlines() if "path=/api/health" in l and "status=200" in l]
        self.assertTrue(lines)
        line = lines[-1]
        for key in ("method=GET", "status=200", "bytes=", "us=", "rid="):
            self.assertIn(key, line)
        self.assertIn("client=203.0.113.9", line)

    def test_secrets_never_logged(self):
        # Secrets appear in requests too: the log must not echo them.
        D.request("GET", "/nope?token=" + TOKEN, headers={"Authorization": "Basic " + PAT})
        time.sleep(0.2)
        log = D.log()
        self.assertNotIn(PAT, log)
        self.assertNotIn(TOKEN, log)


class Lifecycle(unittest.TestCase):
    def test_untrusted_forwarded_for_and_max_connections(self):
        d = Daemon(config={"server": {"max_connections": "5"}}).start()
        try:
            d.request("GET", "/api/health?probe=untrusted",
                      headers={"X-Forwarded-For": "203.0.113.9"})
            time.sleep(0.2)
            line = [l for l in d.log().splitlines() if "msg=request" in l][-1]
            self.assertIn("client=127.0.0.1", line)
            held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(5)]
            for s in held:
                s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
            extra = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(20)]
            for s in extra:
                # Accepted and closed at once: EOF (or reset), never an answer.
                try:
                    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    self.assertEqual(read_all(s, 5), b"")
                except (ConnectionResetError, BrokenPipeError):
                    pass
                s.close()
            for s in held:
                s.close()
            time.sleep(0.3)
            status, _, _ = d.request("GET", "/api/health")
            self.assertEqual(status, 200)
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()

    def test_sigterm_drains_and_exits_zero(self):
        d = Daemon().start()
        try:
            idle = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            idle.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(idle.recv(4096).startswith(b"HTTP/1.1 200"))
            t0 = time.time()
            self.assertEqual(d.stop(signal.SIGTERM), 0)
            self.assertLess(time.time() - t0, 10)
            idle.close()
            log = d.log()
            self.assertIn("msg=stopping", log)
            self.assertIn("msg=stopped", log)
            self.assertNotIn("level=error", log)
            self.assertNotIn("level=crit", log)
        finally:
            d.cleanup()

    def test_sigint_exits_zero(self):
        d = Daemon().start()
        try:
            self.assertEqual(d.stop(signal.SIGINT), 0)
        finally:
            d.cleanup()

    def test_sighup_reopens_log_file(self):
        d = Daemon()
        logfile = os.path.join(d.dir, "file.log")
        d.args = ["--log-file", logfile]
        try:
            d.log_path = logfile
            d.start()
            os.rename(logfile, logfile + ".1")
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while not os.path.exists(logfile) and time.time() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(logfile))
            d.request("GET", "/api/health?after=hup")
            time.sleep(0.2)
            with open(logfile) as f:
                text = f.read()
            self.assertIn("log file reopened", text)
            self.assertIn("msg=request method=GET path=/api/health status=200", text)
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()

    def test_database_file_mode(self):
        mode = os.stat(os.path.join(D.dir, "sync.db")).st_mode & 0o777
        self.assertEqual(mode, 0o600)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        os.environ["ACS_DAEMON"] = sys.argv.pop(1)
    import harness
    harness.DAEMON = os.environ["ACS_DAEMON"]
    unittest.main(verbosity=2)
