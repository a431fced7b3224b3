# SPDX-License-Identifier: MIT
"""End-to-end: the dashboard foundation on the real daemon binary. Embedded
assets (security headers, ETag and 304, gzip), admin login and logout with
the session cookie and CSRF token, the login rate limit, the session gate of
admin routes, and a daemon without an admin password hash."""
import gzip
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, json_body  # noqa: E402

PASSWORD = "correct horse battery staple"
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

D = None


def hash_password(pw):
    out = subprocess.run([harness.DAEMON, "hash-password"], input=pw + "\n",
                         capture_output=True, text=True, check=True, timeout=60)
    h = out.stdout.strip()
    assert h.startswith("$argon2id$"), out
    return h


def setUpModule():
    global D
    D = Daemon(config={
        "dashboard": {"admin_password_hash": hash_password(PASSWORD)},
        # Lets tests pose as distinct clients so rate limits stay apart.
        "server": {"trusted_proxies": "127.0.0.1"},
    }).start()


def tearDownModule():
    if D is not None:
        rc = D.stop()
        log = D.log()
        D.cleanup()
        if rc != 0:
            raise AssertionError("daemon exit %r:\n%s" % (rc, log))


_client_seq = [0]


def new_client():
    """A fresh client address (X-Forwarded-For from the trusted loopback)."""
    _client_seq[0] += 1
    return "198.51.100.%d" % _client_seq[0]


def login(pw, client=None, cookie=None):
    h = {"Content-Type": "application/json",
         "X-Forwarded-For": client or new_client()}
    if cookie:
        h["Cookie"] = cookie
    body = json.dumps({"password": pw}).encode()
    return D.request("POST", "/api/login", body=body, headers=h)


def session_of(headers):
    sc = headers["set-cookie"]
    first = sc.split(";")[0]
    name, _, value = first.partition("=")
    return name, value, sc


class SecurityHeaders:
    def assertSecurity(self, h):
        self.assertEqual(h.get("content-security-policy"), CSP)
        self.assertEqual(h.get("x-content-type-options"), "nosniff")
        self.assertEqual(h.get("referrer-policy"), "no-referrer")
        self.assertEqual(h.get("x-frame-options"), "DENY")


class Assets(unittest.TestCase, SecurityHeaders):
    def test_index(self):
        st, h, body = D.request("GET", "/")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertRegex(body, rb'"/assets/v-[0-9a-f]{16}/app\.js"')
        self.assertIn(b'action="/api/login"', body)
        self.assertSecurity(h)
        self.assertEqual(h.get("cache-control"), "no-cache")
        etag = h["etag"]
        self.assertRegex(etag, r'^"[0-9a-f]{16,}"$')
        # No external request of any kind: nothing points off this origin.
        self.assertNotIn(b"http://", body)
        self.assertNotIn(b"https://", body)

        st, h2, body2 = D.request("GET", "/", headers={"If-None-Match": etag})
        self.assertEqual(st, 304)
        self.assertEqual(body2, b"")
        self.assertEqual(h2["etag"], etag)
        self.assertSecurity(h2)
        st, _, _ = D.request("GET", "/", headers={"If-None-Match": '"other", W/' + etag})
        self.assertEqual(st, 304)
        st, _, body3 = D.request("GET", "/", headers={"If-None-Match": '"other"'})
        self.assertEqual(st, 200)
        self.assertEqual(body3, body)

    def test_gzip(self):
        for path in ["/", "/assets/app.js", "/assets/style.css"]:
            st, h, plain = D.request("GET", path)
            self.assertEqual(st, 200)
            self.assertNotIn("content-encoding", h)
            st, hz, z = D.request("GET", path, headers={"Accept-Encoding": "gzip, deflate"})
            self.assertEqual(st, 200, path)
            self.assertEqual(hz.get("content-encoding"), "gzip", path)
            self.assertEqual(hz.get("vary"), "Accept-Encoding")
            self.assertEqual(hz["etag"], h["etag"])
            self.assertLess(len(z), len(plain))
            self.assertEqual(gzip.decompress(z), plain, path)
            st, h0, p0 = D.request("GET", path, headers={"Accept-Encoding": "gzip;q=0"})
            self.assertNotIn("content-encoding", h0)
            self.assertEqual(p0, plain)

    def test_assets(self):
        st, h, body = D.request("GET", "/assets/app.js")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/javascript; charset=utf-8")
        self.assertIn(b"/api/login", body)
        self.assertNotIn(b"http://", body)
        self.assertNotIn(b"https://", body)
        self.assertSecurity(h)
        st, h, _ = D.request("GET", "/assets/style.css")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/css; charset=utf-8")
        for bad in ["/assets/nope.js", "/assets/", "/assets/../index.html",
                    "/assets/x/app.js"]:
            st, h, body = D.request("GET", bad)
            self.assertEqual(st, 404, bad)
            self.assertEqual(json_body(body)["error"], "not found")

    def test_versioned(self):
        # index.html names assets under the build's version: cached for good there,
        # revalidated under the plain name or a stale version.
        _, _, index = D.request("GET", "/")
        ref = re.search(rb'"(/assets/v-[0-9a-f]{16}/)app\.js"', index).group(1).decode()
        st, h, body = D.request("GET", ref + "app.js")
        self.assertEqual(st, 200)
        self.assertEqual(h["cache-control"], "public, max-age=31536000, immutable")
        self.assertSecurity(h)
        _, hp, plain = D.request("GET", "/assets/app.js")
        self.assertEqual(body, plain)
        self.assertEqual(hp["cache-control"], "no-cache")
        self.assertEqual(h["etag"], hp["etag"])
        st, hs, stale = D.request("GET", "/assets/v-0123456789abcdef/app.js")
        self.assertEqual(st, 200)
        self.assertEqual(hs["cache-control"], "no-cache")
        self.assertEqual(stale, plain)
        for bad in [ref + "nope.js", ref, ref + "x/app.js", "/assets/v-/x"]:
            st, _, _ = D.request("GET", bad)
            self.assertEqual(st, 404, bad)

    def test_head(self):
        st, h, body = D.request("HEAD", "/assets/app.js")
        self.assertEqual(st, 200)
        self.assertEqual(body, b"")
        self.assertIn("etag", h)


class Login(unittest.TestCase, SecurityHeaders):
    def test_wrong_then_right(self):
        client = new_client()
        st, h, body = login("wrong", client)
        self.assertEqual(st, 401)
        self.assertEqual(json_body(body)["error"], "unauthorized")
        self.assertNotIn("set-cookie", h)
        self.assertSecurity(h)

        st, h, body = login(PASSWORD, client)
        self.assertEqual(st, 200, body)
        self.assertSecurity(h)
        self.assertEqual(h.get("cache-control"), "no-store")
        csrf = json_body(body)["csrf_token"]
        self.assertRegex(csrf, r"^[0-9a-f]{64}$")
        name, sid, sc = session_of(h)
        self.assertEqual(name, "acs_session")
        self.assertRegex(sid, r"^[0-9a-f]{64}$")
        attrs = [a.strip() for a in sc.split(";")[1:]]
        self.assertIn("HttpOnly", attrs)
        self.assertIn("SameSite=Strict", attrs)
        self.assertIn("Path=/", attrs)
        self.assertNotIn("Secure", attrs)  # public_url is not https here
        cookie = "acs_session=" + sid

        st, _, body = D.request("GET", "/api/dashboard/whoami", headers={"Cookie": cookie})
        self.assertEqual(st, 200)
        self.assertEqual(json_body(body), {"authenticated": True, "csrf_token": csrf})

        # Logout needs the CSRF token.
        st, h, body = D.request("POST", "/api/logout", headers={"Cookie": cookie})
        self.assertEqual(st, 403)
        self.assertEqual(json_body(body)["error"], "forbidden")
        st, _, _ = D.request("POST", "/api/logout",
                             headers={"Cookie": cookie, "X-CSRF-Token": "0" * 64})
        self.assertEqual(st, 403)
        st, _, _ = D.request("GET", "/api/dashboard/whoami", headers={"Cookie": cookie})
        self.assertEqual(st, 200)

        st, h, body = D.request("POST", "/api/logout",
                                headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(st, 200)
        self.assertSecurity(h)
        name, value, sc = session_of(h)
        self.assertEqual((name, value), ("acs_session", ""))
        self.assertIn("Max-Age=0", sc)
        st, _, body = D.request("GET", "/api/dashboard/whoami", headers={"Cookie": cookie})
        self.assertEqual(st, 401)
        st, _, _ = D.request("POST", "/api/logout",
                             headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(st, 401)

    def test_relogin_replaces_session(self):
        client = new_client()
        st, h, _ = login(PASSWORD, client)
        self.assertEqual(st, 200)
        old = "acs_session=" + session_of(h)[1]
        st, h, _ = login(PASSWORD, client, cookie=old)
        self.assertEqual(st, 200)
        new = "acs_session=" + session_of(h)[1]
        self.assertNotEqual(old, new)
        self.assertEqual(D.request("GET", "/api/dashboard/whoami",
                                   headers={"Cookie": old})[0], 401)
        self.assertEqual(D.request("GET", "/api/dashboard/whoami",
                                   headers={"Cookie": new})[0], 200)

    def test_concurrent_logins(self):
        # Password checks run off the loop, at most a few at once: parallel
        # logins each get a real answer (200, or 503 busy with Retry-After)
        # and the daemon keeps serving meanwhile.
        import threading
        results = []

        def one():
            st, h, _ = login(PASSWORD)
            results.append((st, h.get("retry-after")))

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        self.assertEqual(D.request("GET", "/api/health")[0], 200)
        for t in threads:
            t.join(30)
        self.assertEqual(len(results), 6)
        self.assertIn(200, [st for st, _ in results])
        for st, retry in results:
            self.assertIn(st, (200, 503))
            if st == 503:
                self.assertEqual(retry, "1")

    def test_malformed(self):
        for body in [b"", b"{", b'{"password": 5}', b'{"password": ""}', b"[]"]:
            st, h, resp = D.request("POST", "/api/login", body=body,
                                    headers={"X-Forwarded-For": new_client()})
            self.assertEqual(st, 400, body)
            self.assertEqual(json_body(resp)["error"], "malformed")

    def test_rate_limit(self):
        client = new_client()
        for _ in range(5):
            st, _, _ = login("wrong", client)
            self.assertEqual(st, 401)
        st, h, body = login("wrong", client)
        self.assertEqual(st, 429)
        self.assertGreaterEqual(int(h["retry-after"]), 1)
        self.assertLessEqual(int(h["retry-after"]), 60)
        self.assertEqual(json_body(body)["error"], "too many requests")
        # Even the right password waits: the limit is checked first.
        st, _, _ = login(PASSWORD, client)
        self.assertEqual(st, 429)
        # Another client is not affected.
        st, _, _ = login(PASSWORD, new_client())
        self.assertEqual(st, 200)
        self.assertRegex(D.log(), r"login rate limited.*client=%s" % re.escape(client))


class Gate(unittest.TestCase, SecurityHeaders):
    def test_protected_route(self):
        st, h, body = D.request("GET", "/api/dashboard/whoami")
        self.assertEqual(st, 401)
        self.assertEqual(json_body(body)["error"], "unauthorized")
        self.assertSecurity(h)
        for cookie in ["acs_session=" + "a" * 64, "acs_session=", "other=1",
                       "acs_session=" + "a" * 500]:
            st, _, _ = D.request("GET", "/api/dashboard/whoami", headers={"Cookie": cookie})
            self.assertEqual(st, 401, cookie)

    def test_setup_routes_without_sync(self):
        for m, path in (("GET", "/api/setup/webhooks"),
                        ("POST", "/api/setup/register-webhooks")):
            st, h, body = D.request(m, path)
            self.assertEqual(st, 401, path)
            self.assertEqual(json_body(body)["error"], "unauthorized")
        st, h, body = login(PASSWORD)
        self.assertEqual(st, 200, body)
        csrf = json_body(body)["csrf_token"]
        cookie = "acs_session=" + session_of(h)[1]
        st, _, _ = D.request("POST", "/api/setup/register-webhooks", headers={"Cookie": cookie})
        self.assertEqual(st, 403)
        # This daemon has no [map] section: no engine, so nothing to show.
        for m, hdrs in (("GET", {"Cookie": cookie}),
                        ("POST", {"Cookie": cookie, "X-CSRF-Token": csrf})):
            path = "/api/setup/webhooks" if m == "GET" else "/api/setup/register-webhooks"
            st, _, body = D.request(m, path, headers=hdrs)
            self.assertEqual(st, 503, body)
            j = json_body(body)
            self.assertEqual(j["error"], "sync not configured")
            self.assertIn("sync disabled", j["detail"])


class NoHash(unittest.TestCase):
    def test_disabled(self):
        d = Daemon()
        try:
            d.start()
            self.assertIn("dashboard disabled", d.log())
            self.assertIn("hash-password", d.log())
            st, h, body = d.request("GET", "/")
            self.assertEqual(st, 200)
            self.assertTrue(h["content-type"].startswith("text/html"))
            self.assertIn(b"disabled", body)
            self.assertIn(b"ado-clickup-sync hash-password", body)
            self.assertIn(b"admin_password_hash", body)
            self.assertEqual(h.get("content-security-policy"), CSP)
            st, h, body = d.request("POST", "/api/login", body=b'{"password": "x"}')
            self.assertEqual(st, 503)
            err = json_body(body)
            self.assertEqual(err["error"], "dashboard disabled")
            self.assertIn("hash-password", err["detail"])
            st, _, _ = d.request("GET", "/api/dashboard/whoami")
            self.assertEqual(st, 401)
            # The assets stay reachable (the explanation page uses style.css).
            self.assertEqual(d.request("GET", "/assets/style.css")[0], 200)
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()


class Demo(unittest.TestCase):
    def test_demo_prints_a_working_password(self):
        import http.client
        import signal
        import socket
        import time
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        p = subprocess.Popen([harness.DAEMON, "demo", "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            lines = []
            while not any("Ctrl-C" in line for line in lines):
                line = p.stdout.readline()
                self.assertTrue(line, "demo exited early: %r" % lines)
                lines.append(line)
            pw = re.search(r"admin password: +(\S+)", "".join(lines)).group(1)
            self.assertRegex(pw, r"^[0-9a-f]{16}$")

            def post(password):
                deadline = time.time() + 10
                while True:
                    try:
                        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        c.request("POST", "/api/login", body=json.dumps({"password": password}))
                        r = c.getresponse()
                        return r.status, r.read()
                    except OSError:
                        self.assertLess(time.time(), deadline)
                        time.sleep(0.05)
                    finally:
                        c.close()

            self.assertEqual(post("not-" + pw)[0], 401)
            st, body = post(pw)
            self.assertEqual(st, 200)
            self.assertIn("csrf_token", json_body(body))
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=20), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        os.environ["ACS_DAEMON"] = sys.argv.pop(1)
    harness.DAEMON = os.environ["ACS_DAEMON"]
    unittest.main(verbosity=2)
