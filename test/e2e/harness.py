# SPDX-License-Identifier: MIT
"""Starts the real daemon binary on a free loopback port with a temporary
config, and gives tests raw-socket and HTTP helpers (stdlib only)."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DAEMON = os.environ.get("ACS_DAEMON", "")


class Daemon:
    """One daemon process. config: dict section -> dict key -> value."""

    def __init__(self, config=None, args=None, env=None):
        self.dir = tempfile.mkdtemp(prefix="acs-e2e-")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.config_path = os.path.join(self.dir, "config.ini")
        cfg = {
            "server": {"listen": "127.0.0.1:0"},
            "database": {"url": "sqlite:" + os.path.join(self.dir, "sync.db")},
            "log": {"level": "info"},
        }
        for sec, kv in (config or {}).items():
            cfg.setdefault(sec, {}).update(kv)
        with open(self.config_path, "w") as f:
            for sec, kv in cfg.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")
                f.write("\n")
        self.args = args or []
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.port = None

    def start(self, timeout=20):
        """Start (or restart, on the same config and database) the daemon and
        wait for its listening line in this run's part of the log."""
        start_off = len(self.log())
        logf = open(self.log_path, "ab")
        wrapper = os.environ.get("ACS_E2E_WRAPPER", "").split()
        self.proc = subprocess.Popen(
            wrapper + [DAEMON, "serve", "-c", self.config_path] + self.args,
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=self.env)
        logf.close()
        deadline = time.time() + timeout * (5 if wrapper else 1)
        while time.time() < deadline:
            m = re.search(r"msg=listening .*address=\S+:(\d+)", self.log()[start_off:])
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited early:\n" + self.log())
            time.sleep(0.02)
        raise RuntimeError("daemon did not start:\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal the daemon and return its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- clients ---------------------------------------------------------
    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def raw(self, data, timeout=10, shutdown=False):
        """Send raw bytes, return everything read until the server closes
        or timeout passes."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
            return read_all(s, timeout)
        finally:
            s.close()


def read_all(s, timeout):
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    return out


def parse_responses(data):
    """Split a byte stream into (status, headers, body) tuples (Content-Length
    bodies only, which is all the daemon sends outside streams)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def json_body(body):
    return json.loads(body.decode("utf-8"))
