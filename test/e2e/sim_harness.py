# SPDX-License-Identifier: MIT
"""End-to-end sync harness: the real daemon against the real ado-clickup-sim over
loopback (stdlib only). A World is one simulator process, one recording webhook
proxy and one daemon on a temporary database; tests act as humans through the
simulators' REST APIs and judge the daemon by the simulators' state and logs.

WHO DID WHAT. The simulators log every request (/_sim/requests: method, path,
status) without saying who sent it. The human clients here record every request
they send, so the daemon's requests are the log minus the human ones (a multiset
difference on (method, path, status), taken between two marks). The ADO human uses its
own PAT (user Sam Ortiz) so ADO revisions name a different author than the
daemon's; the ClickUp simulator knows one token only, so both share it there.

CAPTURING WEBHOOKS. The daemon's public_url points at a small reverse proxy in
this process which forwards /webhooks/... to the daemon's listener unchanged
(body bytes, Authorization, X-Signature) and records each delivery. Replaying a
recorded delivery to the daemon is therefore byte-exact and correctly signed
(ClickUp's secret is only shown to the daemon when it creates its webhook, so
re-signing is not an option). In hold mode the proxy answers 200 itself and
keeps the deliveries for the test to release later in any order (late and
out-of-order delivery). A dead daemon shows up to the services as a 502 from
the proxy (ADO: transient, retried; ClickUp: a failed attempt, retried).

ENGINE PROBE. Until the sync engine is wired into the daemon there is no
POST /webhooks/ado route, so GET /webhooks/ado answers 404; with it, 405. main()
exits 77 (meson's SKIP) in the first case."""
import base64
import collections
import html.parser
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SIM = os.environ.get("ACS_SIM", "")
WRAPPER = os.environ.get("ACS_E2E_WRAPPER", "").split()
SLOW = 8 if WRAPPER else 1
SKIP = 77

HUMAN_PAT = "e2ehumanpat0123456789abcdefghijklmnopqrstuvwxyz0123"
HUMAN_EMAIL = "sam.ortiz@example.com"
WEBHOOK_USER = "acs-e2e"
WEBHOOK_PASSWORD = "e2e-webhook-password-0123456789"
V = "api-version=7.1"
PATCH_CT = "application/json-patch+json"

# The mapping every World uses ([map e2e]); ADO types with all four states.
STATUS_OF_STATE = {"New": "to do", "Active": "in progress", "Resolved": "review",
                   "Closed": "complete"}
STATE_OF_STATUS = {v: k for k, v in STATUS_OF_STATE.items()}
NEW_ITEM_TYPE = "User Story"
PRIORITY_NAMES = {1: "urgent", 2: "high", 3: "normal", 4: "low"}

# Requests the daemon makes to keep its webhooks, not to sync items.
SETUP_PATH = re.compile(r"/_apis/hooks/|/webhook(/|$)")
# POSTs that only read.
READ_POST = re.compile(r"(?i)/_apis/wit/(wiql|workitemsbatch)")
# An ADO work item reference inside a ClickUp field or description.
ADO_REF = re.compile(r"(?i)(?:_apis/wit/workitems/|_workitems/edit/|wi\.aspx\?[^\s)\]]*\bid=)"
                     r"(\d+)")
CLICKUP_REF = re.compile(r"/t/([0-9a-z]+)")


class Timeout(AssertionError):
    pass


def wait_until(what, cond, timeout=20, interval=0.02, detail=None):
    """Poll cond() until it returns something true (returned) or the deadline
    passes (AssertionError naming what, plus detail() when given)."""
    deadline = time.time() + timeout * SLOW
    while True:
        v = cond()
        if v:
            return v
        if time.time() >= deadline:
            extra = ""
            if detail is not None:
                try:
                    extra = "\n" + str(detail())
                except Exception as e:  # noqa: BLE001 - diagnostics only
                    extra = "\n(detail failed: %r)" % e
            raise Timeout("timed out after %ss waiting for %s%s" % (timeout * SLOW, what,
                                                                       extra))
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_request(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def is_write(method, path):
    if method in ("PUT", "PATCH", "DELETE"):
        return True
    return method == "POST" and not READ_POST.search(path)


def norm_path(path):
    return urllib.parse.unquote(path).lower()


# --- the simulator process ---------------------------------------------------------------

class Sim:
    """One ado-clickup-sim process with the built-in seed plus a human PAT and
    fast webhook retries. seed_patch(seed) may edit the seed further."""

    def __init__(self, seed_patch=None, clickup_rate_limit=1000000, args=None):
        self.dir = tempfile.mkdtemp(prefix="acs-sync-sim-")
        seed = json.loads(subprocess.run([SIM, "--print-seed"], capture_output=True,
                                         check=True, timeout=30).stdout)
        seed["ado"]["pats"] = {HUMAN_PAT: HUMAN_EMAIL}
        seed["ado"]["webhook"] = {"transient_delays_ms": [100, 200, 400, 800, 1600, 3200,
                                                          5000, 5000]}
        # Fast retries, and enough of them (8 instead of ClickUp's 5, ~13 s)
        # that a test pausing deliveries or killing the daemon for a moment
        # does not lose events: losing them is the sweep's business, tested
        # where the sweep is on.
        seed["clickup"].setdefault("webhook", {}).update(retry_delay_ms=100, max_attempts=8)
        if seed_patch:
            seed_patch(seed)
        self.seed = seed
        path = os.path.join(self.dir, "seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        cmd = WRAPPER + [SIM, "--ado-port", "0", "--clickup-port", "0", "--seed", path,
                         "--clickup-rate-limit", str(clickup_rate_limit)] + (args or [])
        self.err = open(os.path.join(self.dir, "stderr"), "w+b")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ado="):
            self.proc.wait(timeout=10)
            raise RuntimeError("sim did not start: " + line + self.stderr())
        parts = dict(p.split("=") for p in line.split())
        self.port = {"ado": int(parts["ado"]), "clickup": int(parts["clickup"])}
        self.info = self.ctl("ado", "GET", "info")

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def ctl(self, svc, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        st, _, raw = http_request(self.port[svc], method, "/_sim/" + path, data,
                                  {"Content-Type": "application/json"})
        if st >= 300:
            raise AssertionError("/_sim/%s on %s: %s %s" % (path, svc, st, raw[:300]))
        if path == "requests":
            return [json.loads(l) for l in raw.decode().splitlines() if l.strip()]
        return json.loads(raw) if raw else None

    def requests(self, svc):
        return self.ctl(svc, "GET", "requests")

    def pending(self, svc):
        return self.ctl(svc, "GET", "webhooks")["pending"]

    def deliver(self, on, svcs=("ado", "clickup")):
        for s in svcs:
            self.ctl(s, "POST", "webhooks", {"deliver": bool(on)})

    def fault(self, svc, **f):
        self.ctl(svc, "POST", "faults", f)

    def faults_pending(self, svc):
        r = self.ctl(svc, "GET", "faults")
        if isinstance(r, dict):
            r = r.get("faults", r.get("value", []))
        return sum(int(f.get("count", 1)) for f in r)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60 * SLOW)
        self.proc.stdout.close()
        self.err.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.err.close()
        if not os.environ.get("ACS_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# --- humans: REST clients that remember what they sent ------------------------------------

class Client:
    def __init__(self, sim, svc):
        self.sim = sim
        self.svc = svc
        self.port = sim.port[svc]
        self.sent = collections.Counter()  # (method, normalised path, status) -> n
        self.writes = 0

    def _send(self, method, path, body, headers, retry=True):
        """path may carry a query. Retries 429/5xx/dropped connections (a
        human would), every attempt recorded."""
        p = path.split("?", 1)[0]
        for attempt in range(40):
            if is_write(method, p):
                self.writes += 1
            try:
                st, hdrs, raw = http_request(self.port, method, path, body, headers)
            except (ConnectionError, http.client.HTTPException, socket.timeout):
                # The simulator logs a dropped connection with status 0.
                self.sent[(method, norm_path(p), 0)] += 1
                if not retry:
                    raise
                time.sleep(0.05)
                continue
            self.sent[(method, norm_path(p), st)] += 1
            if retry and (st == 429 or st >= 500):
                time.sleep(min(float(hdrs.get("retry-after", "0") or 0), 0.2) + 0.05)
                continue
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw
            return st, parsed
        raise AssertionError("%s %s kept failing" % (method, path))


class AdoHuman(Client):
    """Azure DevOps as a human edits it: JSON Patch, api-version 7.1, Basic PAT."""

    def __init__(self, sim, pat=HUMAN_PAT):
        super().__init__(sim, "ado")
        i = sim.info["ado"]
        self.org, self.project = i["organization"], i["project"]
        self.auth = "Basic " + base64.b64encode((":" + pat).encode()).decode()

    def api(self, method, path, body=None, ctype="application/json", project=True, **kw):
        h = {"Authorization": self.auth}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = ctype
        prefix = "/%s/%s/_apis/" % (self.org, urllib.parse.quote(self.project)) if project \
            else "/%s/_apis/" % self.org
        return self._send(method, prefix + path, data, h, **kw)

    @staticmethod
    def ops(fields, current=None):
        out = []
        for k, v in fields.items():
            if v is None:
                if current is None or k in current.get("fields", {}):
                    out.append({"op": "remove", "path": "/fields/" + k})
            else:
                out.append({"op": "add", "path": "/fields/" + k, "value": v})
        return out

    def create(self, wtype="User Story", **fields):
        st, wi = self.api("POST", "wit/workitems/$%s?%s" % (urllib.parse.quote(wtype), V),
                          self.ops(fields), ctype=PATCH_CT)
        assert st == 200, (st, wi)
        return wi

    def update(self, wid, fields):
        """fields: ref -> value (None removes the field when it is set). No
        test /rev op: a human's save simply wins."""
        cur = self.get(wid) if any(v is None for v in fields.values()) else None
        ops = self.ops(fields, cur)
        if not ops:
            return cur
        st, wi = self.api("PATCH", "wit/workitems/%s?%s" % (wid, V), ops, ctype=PATCH_CT)
        assert st == 200, (st, wi)
        return wi

    def get(self, wid):
        st, wi = self.api("GET", "wit/workitems/%s?%s&$expand=all" % (wid, V))
        assert st == 200, (st, wi)
        return wi

    def ids(self):
        q = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project " \
            "ORDER BY [System.Id]"
        st, r = self.api("POST", "wit/wiql?" + V, {"query": q})
        assert st == 200, (st, r)
        return [w["id"] for w in r["workItems"]]

    def all(self):
        """Every work item of the project, id -> work item (with relations)."""
        ids = self.ids()
        out = {}
        for i in range(0, len(ids), 200):
            st, r = self.api("POST", "wit/workitemsbatch?" + V,
                             {"ids": ids[i:i + 200], "$expand": "all"})
            assert st == 200, (st, r)
            for wi in r["value"]:
                out[wi["id"]] = wi
        return out

    def subscriptions(self):
        st, r = self.api("GET", "hooks/subscriptions?" + V, project=False)
        assert st == 200, (st, r)
        return r["value"]


class ClickUpHuman(Client):
    """ClickUp as a human edits it: pk_ token, PUT /task, tag endpoints."""

    def __init__(self, sim):
        super().__init__(sim, "clickup")
        i = sim.info["clickup"]
        self.token, self.team, self.list_id = i["token"], i["team_id"], i["list_ids"][0]
        self.users = {u["email"]: u["clickup_id"] for u in sim.info["users"]}

    def api(self, method, path, body=None, **kw):
        h = {"Authorization": self.token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        return self._send(method, "/api/v2" + path, data, h, **kw)

    def create(self, **body):
        st, t = self.api("POST", "/list/%s/task" % self.list_id, body)
        assert st == 200, (st, t)
        return t

    def update(self, tid, body):
        st, t = self.api("PUT", "/task/%s" % tid, body)
        assert st == 200, (st, t)
        return t

    def add_tag(self, tid, tag):
        st, r = self.api("POST", "/task/%s/tag/%s" % (tid, urllib.parse.quote(tag)))
        assert st == 200, (st, r)

    def remove_tag(self, tid, tag):
        st, r = self.api("DELETE", "/task/%s/tag/%s" % (tid, urllib.parse.quote(tag)))
        assert st == 200, (st, r)

    def set_tags(self, tid, tags, current=None):
        have = {t["name"].lower() for t in (current or self.get(tid))["tags"]}
        want = {t.lower() for t in tags}
        for t in sorted(have - want):
            self.remove_tag(tid, t)
        for t in sorted(want - have):
            self.add_tag(tid, t)

    def set_assignee(self, tid, email, current=None):
        cur = (current or self.get(tid))["assignees"]
        rem = [a["id"] for a in cur if (a.get("email") or "").lower() != (email or "")]
        add = [self.users[email]] if email and all(
            (a.get("email") or "").lower() != email for a in cur) else []
        if add or rem:
            return self.update(tid, {"assignees": {"add": add, "rem": rem}})
        return current

    def get(self, tid):
        st, t = self.api("GET", "/task/%s?include_markdown_description=true" % tid)
        assert st == 200, (st, t)
        return t

    def all(self):
        """Every task of the list, open or closed, id -> task."""
        out = {}
        page = 0
        while True:
            st, r = self.api("GET", "/list/%s/task?page=%d&include_closed=true&subtasks=true"
                             "&include_markdown_description=true" % (self.list_id, page))
            assert st == 200, (st, r)
            for t in r["tasks"]:
                out[t["id"]] = t
            if r.get("last_page", True) or not r["tasks"]:
                return out
            page += 1

    def webhooks(self):
        st, r = self.api("GET", "/team/%s/webhook" % self.team)
        assert st == 200, (st, r)
        return r["webhooks"]


# --- the recording webhook proxy -----------------------------------------------------------

class Proxy:
    """Reverse proxy for /webhooks/... in front of the daemon (see module doc)."""

    HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.captured = []  # every delivery: {"path", "headers", "body", "status"}
        self.held = []
        self.hold = False
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in outer.HOP}
                d = {"path": self.path, "headers": hdrs, "body": body, "status": None}
                with outer.lock:
                    outer.captured.append(d)
                    held = outer.hold
                    if held:
                        outer.held.append(d)
                status, data = (200, b"") if held else outer.forward(d)
                d["status"] = status
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, d):
        try:
            st, _, data = http_request(self.target_port, "POST", d["path"], d["body"],
                                       d["headers"], timeout=15)
            return st, data
        except (OSError, http.client.HTTPException):
            return 502, b""

    def set_hold(self, on):
        with self.lock:
            self.hold = on

    def take_held(self):
        with self.lock:
            h, self.held = self.held, []
        return h

    def deliveries(self, kind=None):
        with self.lock:
            return [d for d in self.captured if kind is None or d["path"].endswith(kind)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- canonical comparison under the mapping ---------------------------------------------------

class _HtmlToMd(html.parser.HTMLParser):
    """Just enough of HTML -> Markdown for the descriptions the tests write
    (paragraphs, bold, italic, code, links, bullet and numbered lists)."""

    INLINE = {"strong": "**", "b": "**", "em": "*", "i": "*", "code": "`"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks = []
        self.cur = []
        self.lists = []
        self.href = []

    def flush(self):
        text = re.sub(r"\s+", " ", "".join(self.cur)).strip()
        self.cur = []
        if text:
            if self.lists:
                kind, n = self.lists[-1]
                marker = "- " if kind == "ul" else "%d. " % n
                self.blocks.append(("li", marker + text))
            else:
                self.blocks.append(("p", text))

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "div", "h1", "h2", "h3", "blockquote"):
            self.flush()
        elif tag in ("ul", "ol"):
            self.flush()
            self.lists.append([tag, 0])
        elif tag == "li":
            self.flush()
            if self.lists:
                self.lists[-1][1] += 1
        elif tag == "br":
            self.cur.append(" ")
        elif tag in self.INLINE:
            self.cur.append(self.INLINE[tag])
        elif tag == "a":
            self.cur.append("[")
            self.href.append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        if tag in ("p", "div", "h1", "h2", "h3", "blockquote", "li"):
            self.flush()
        elif tag in ("ul", "ol"):
            self.flush()
            if self.lists:
                self.lists.pop()
        elif tag in self.INLINE:
            self.cur.append(self.INLINE[tag])
        elif tag == "a":
            self.cur.append("](%s)" % (self.href.pop() if self.href else ""))

    def handle_data(self, data):
        self.cur.append(data)

    def result(self):
        self.flush()
        out = []
        prev = None
        for kind, text in self.blocks:
            if out:
                out.append("\n" if kind == "li" and prev == "li" else "\n\n")
            out.append(text)
            prev = kind
        return "".join(out)


def html_to_md(h):
    p = _HtmlToMd()
    p.feed(h or "")
    p.close()
    return norm_md(p.result())


def norm_md(md):
    """Markdown spelled one way: '*em*', '**strong**', '- ' bullets, single
    blank lines between blocks, no trailing spaces."""
    md = (md or "").replace("\r\n", "\n")
    md = re.sub(r"__(\S(?:.*?\S)?)__", r"**\1**", md)
    md = re.sub(r"(?<![\w*])_(\S(?:.*?\S)?)_(?![\w*])", r"*\1*", md)
    md = re.sub(r"(?m)^[*+] ", "- ", md)
    md = "\n".join(l.rstrip() for l in md.split("\n"))
    md = re.sub(r"\n{3,}", "\n\n", md)
    # Tight lists: no blank line between two items.
    md = re.sub(r"(?m)^(- .*|\d+\. .*)\n\n(?=- |\d+\. )", r"\1\n", md)
    return md.strip()


def split_link_footer(md):
    """(body, footer) of a ClickUp description: the footer is the trailing
    blocks holding the work item's URL that the daemon may add (product.md
    section 1: 'link field or the description footer')."""
    blocks = re.split(r"\n{2,}", (md or "").strip())
    k = len(blocks)
    while k and (ADO_REF.search(blocks[k - 1]) or blocks[k - 1].strip() in ("---", "***", "")):
        k -= 1
    return "\n\n".join(blocks[:k]), "\n\n".join(blocks[k:])


def strip_link_footer(md):
    return split_link_footer(md)[0]


def _email(identity):
    if not identity:
        return ""
    if isinstance(identity, dict):
        return (identity.get("uniqueName") or "").lower()
    m = re.search(r"<([^>]+)>", identity)
    return (m.group(1) if m else identity).lower()


def _iso_s(s):
    """ISO-8601 UTC -> whole Unix seconds."""
    if not s:
        return 0
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d))?)?", s)
    y, mo, d, hh, mm, ss = (int(x) if x else 0 for x in m.groups())
    import calendar
    return calendar.timegm((y, mo, d, hh, mm, ss, 0, 0, 0))


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def canon_ado(wi):
    f = wi["fields"]
    tags = f.get("System.Tags") or ""
    return {
        "title": f.get("System.Title", ""),
        "description": html_to_md(f.get("System.Description", "")),
        "status": STATUS_OF_STATE.get(f.get("System.State"), "?" + str(f.get("System.State"))),
        "priority": int(f.get("Microsoft.VSTS.Common.Priority") or 0),
        "assignee": _email(f.get("System.AssignedTo")),
        "tags": sorted({t.strip().lower() for t in tags.split(";") if t.strip()}),
        "due": _iso_s(f.get("Microsoft.VSTS.Scheduling.DueDate")),
    }


def canon_clickup(t):
    md = t.get("markdown_description")
    if md is None:
        md = t.get("description") or ""
    pr = t.get("priority")
    return {
        "title": t.get("name", ""),
        "description": norm_md(strip_link_footer(md)),
        "status": (t.get("status") or {}).get("status", "").lower(),
        "priority": int(pr["id"]) if pr else 0,
        # Several assignees (a human and the daemon assigning at once) show
        # as "a|b"; see diff().
        "assignee": "|".join(sorted((a.get("email") or "").lower()
                                    for a in t.get("assignees") or [])),
        "tags": sorted({x["name"].strip().lower() for x in t.get("tags") or []}),
        "due": int(t["due_date"]) // 1000 if t.get("due_date") else 0,
    }


def same(k, a, b):
    """Equal under the mapping. A task with several assignees maps to the one
    the work item has when it is among them (mapper.h: the base's assignee
    when present), so adding a co-assignee in ClickUp is no change."""
    if k == "assignee" and isinstance(b, str) and "|" in b:
        return a in b.split("|")
    return a == b


def diff(a, b):
    """Fields where the ADO canon a and the ClickUp canon b differ."""
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
            if not same(k, a.get(k), b.get(k))}


def ado_link_of(wi):
    """The ClickUp task id the work item's Hyperlink relation points to."""
    for r in wi.get("relations") or []:
        if r.get("rel") == "Hyperlink":
            m = CLICKUP_REF.search(r.get("url", ""))
            if m:
                return m.group(1)
    return None


def clickup_link_of(t):
    """The ADO work item id a task links to: a custom field (number or URL) or
    the description footer."""
    for cf in t.get("custom_fields") or []:
        v = cf.get("value")
        if v is None or v == "":
            continue
        if cf.get("type") == "number" and re.fullmatch(r"\d+", str(v)):
            return int(v)
        m = ADO_REF.search(str(v))
        if m:
            return int(m.group(1))
    m = ADO_REF.search((t.get("markdown_description") or "") + "\n" + (t.get("description")
                                                                        or ""))
    return int(m.group(1)) if m else None


# --- random content ----------------------------------------------------------------------

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey").split()
TAGS = ("backend", "frontend", "urgent", "docs", "infra", "ux", "sync")
EMAILS = ("avery.chen@example.com", "sam.ortiz@example.com", "riley.park@example.com")


def rand_title(rng, tag=""):
    return "%s %s %s %d%s" % (rng.choice(WORDS).capitalize(), rng.choice(WORDS),
                              rng.choice(WORDS), rng.randrange(1000000), tag)


def rand_description(rng):
    """(markdown, html): the same formatted text in both languages (lower-case
    words, one of them bold, italic or code, sometimes a bullet list)."""
    words = [rng.choice(WORDS) for _ in range(rng.randrange(3, 8))]
    md_words, html_words = list(words), list(words)
    i = rng.randrange(len(words))
    style = rng.choice(["**", "*", "`"])
    tag = {"**": "strong", "*": "em", "`": "code"}[style]
    md_words[i] = style + words[i] + style
    html_words[i] = "<%s>%s</%s>" % (tag, words[i], tag)
    md = " ".join(md_words)
    ht = "<p>%s</p>" % " ".join(html_words)
    if rng.random() < 0.5:
        items = [rng.choice(WORDS) for _ in range(rng.randrange(2, 4))]
        md += "\n\n" + "\n".join("- " + x for x in items)
        ht += "<ul>" + "".join("<li>%s</li>" % x for x in items) + "</ul>"
    return md, ht


def rand_due(rng):
    """Noon UTC on a day in 2027: whole seconds, never midnight."""
    return 1798761600 + rng.randrange(365) * 86400 + 12 * 3600


# --- the world ---------------------------------------------------------------------------

class World:
    """Simulators + proxy + daemon. sync: extra [sync] keys; config: extra
    sections merged over the generated config."""

    def __init__(self, sync=None, config=None, seed_patch=None, clickup_rate_limit=1000000,
                 wait_webhooks=True, log_level="info"):
        self.sim = Sim(seed_patch=seed_patch, clickup_rate_limit=clickup_rate_limit)
        self.ado = AdoHuman(self.sim)
        self.cu = ClickUpHuman(self.sim)
        self.daemon_port = free_port()
        self.proxy = Proxy(self.daemon_port)
        self.public_url = "http://127.0.0.1:%d" % self.proxy.port
        i = self.sim.info
        cfg = {
            "server": {"listen": "127.0.0.1:%d" % self.daemon_port,
                       "public_url": self.public_url},
            "ado": {"base_url": i["ado"]["base_url"], "organization": i["ado"]["organization"],
                    "project": i["ado"]["project"], "pat": i["ado"]["pat"],
                    "webhook_username": WEBHOOK_USER, "webhook_password": WEBHOOK_PASSWORD},
            "clickup": {"base_url": i["clickup"]["base_url"], "token": i["clickup"]["token"],
                        "workspace_id": i["clickup"]["team_id"]},
            "sync": {"conflict": "newest", "sweep_interval": "5m"},
            "log": {"level": log_level},
            "map e2e": dict({"ado_project": i["ado"]["project"],
                             "clickup_list_id": i["clickup"]["list_ids"][0],
                             "ado_new_item_type": NEW_ITEM_TYPE},
                            **{"status." + k: v for k, v in STATUS_OF_STATE.items()}),
        }
        cfg["sync"].update(sync or {})
        for sec, kv in (config or {}).items():
            cfg.setdefault(sec, {}).update(kv)
        self.daemon = harness.Daemon(config=cfg)
        self.wait_webhooks = wait_webhooks
        self.human_changes = 0
        self.restarts = 0

    # lifecycle
    def start(self):
        self.daemon.start()
        wait_until("the daemon to be ready",
                   lambda: self.daemon.request("GET", "/api/ready")[0] == 200,
                   detail=lambda: self.daemon.log()[-3000:])
        if self.wait_webhooks:
            self.wait_registered()
        return self

    def has_engine(self):
        return self.daemon.request("GET", "/webhooks/ado")[0] != 404

    def wait_registered(self):
        """Until the daemon's webhooks exist on both services, pointing at public_url."""
        def ado_ok():
            subs = [s for s in self.ado.subscriptions()
                    if s.get("consumerInputs", {}).get("url", "").startswith(self.public_url)]
            events = {s.get("eventType") for s in subs}
            return {"workitem.created", "workitem.updated"} <= events

        def cu_ok():
            return any(w.get("endpoint", "").startswith(self.public_url)
                       for w in self.cu.webhooks())
        wait_until("the daemon's webhook subscriptions", lambda: ado_ok() and cu_ok(),
                   interval=0.05, detail=lambda: self.daemon.log()[-3000:])

    def kill(self):
        """kill -9 the daemon."""
        return self.daemon.stop(signal.SIGKILL)

    def restart(self):
        self.restarts += 1
        self.daemon.start()
        wait_until("the daemon to be ready again",
                   lambda: self.daemon.request("GET", "/api/ready")[0] == 200,
                   detail=lambda: self.daemon.log()[-3000:])

    def close(self, check_exit=True):
        """Stop everything; returns the daemon's exit code (SIGTERM: 0 expected)."""
        rc = None
        try:
            if self.daemon.proc is not None and self.daemon.proc.poll() is None:
                rc = self.daemon.stop()
        finally:
            log = self.daemon.log()
            if os.environ.get("ACS_E2E_KEEP"):
                if self.daemon.proc is not None and self.daemon.proc.poll() is None:
                    self.daemon.proc.kill()
                    self.daemon.proc.wait()
                print("\nkept %s (daemon) and %s (sim)" % (self.daemon.dir, self.sim.dir),
                      file=sys.stderr)
            else:
                self.daemon.cleanup()
            self.proxy.close()
            self.sim.kill()
        if check_exit and rc not in (None, 0):
            raise AssertionError("daemon exit code %r\n%s" % (rc, log[-5000:]))
        return rc

    # request accounting
    def mark(self):
        """A point in time for daemon_requests()."""
        return {"changes": self.human_changes,
                "log": {s: len(self.sim.requests(s)) for s in ("ado", "clickup")},
                "human": {"ado": collections.Counter(self.ado.sent),
                          "clickup": collections.Counter(self.cu.sent)}}

    def daemon_requests(self, since=None):
        """svc -> list of (method, path, status) the daemon sent since the mark
        (not the human clients). Webhook management calls are included."""
        out = {}
        for svc, human in (("ado", self.ado), ("clickup", self.cu)):
            log = self.sim.requests(svc)[since["log"][svc] if since else 0:]
            mine = human.sent - (since["human"][svc] if since else collections.Counter())
            rest = []
            for e in log:
                key = (e["method"], norm_path(e["path"]), e.get("status"))
                if mine[key] > 0:
                    mine[key] -= 1
                else:
                    rest.append((e["method"], e["path"], e.get("status")))
            out[svc] = rest
        return out

    def daemon_writes(self, since=None, setup=False, ok_only=True):
        """svc -> list of the daemon's item writes (2xx only unless ok_only is
        False; webhook management left out unless setup)."""
        out = {}
        for svc, reqs in self.daemon_requests(since).items():
            out[svc] = [(m, p, s) for m, p, s in reqs if is_write(m, p)
                        and (setup or not SETUP_PATH.search(p))
                        and (not ok_only or (s is not None and 200 <= s < 300))]
        return out

    def wait_quiet(self, quiet=1.0, timeout=30):
        """Until no webhook is pending on either service, the proxy holds no
        delivery in flight and the daemon sent no write for `quiet` seconds."""
        state = {"n": None, "since": time.time()}

        def cond():
            if self.sim.pending("ado") or self.sim.pending("clickup"):
                state["n"] = None
                return False
            n = sum(1 for s in ("ado", "clickup") for e in self.sim.requests(s)
                    if is_write(e["method"], e["path"]))
            if n != state["n"]:
                state["n"], state["since"] = n, time.time()
                return False
            return time.time() - state["since"] >= quiet * SLOW
        wait_until("quiescence", cond, timeout=timeout, interval=0.05)

    # pairing and convergence
    def snapshot(self):
        return self.ado.all(), self.cu.all()

    def pairs(self, snap=None):
        """(pairs {ado id: task id}, problems [str]): every item linked both ways
        to exactly one twin."""
        wis, tasks = snap or self.snapshot()
        problems = []
        a2c, c2a = {}, {}
        for wid, wi in wis.items():
            tid = ado_link_of(wi)
            if tid is None:
                problems.append("work item %s has no Hyperlink to a task" % wid)
            elif tid not in tasks:
                problems.append("work item %s links to missing task %s" % (wid, tid))
            else:
                a2c[wid] = tid
        for tid, t in tasks.items():
            wid = clickup_link_of(t)
            if wid is None:
                problems.append("task %s (%r) has no link to a work item" % (tid, t["name"]))
            elif wid not in wis:
                problems.append("task %s links to missing work item %s" % (tid, wid))
            else:
                c2a[tid] = wid
        for wid, tid in a2c.items():
            if c2a.get(tid) != wid:
                problems.append("work item %s -> task %s -> %s" % (wid, tid, c2a.get(tid)))
        if len(wis) != len(tasks):
            problems.append("%d work items but %d tasks" % (len(wis), len(tasks)))
        dup = [t for t, n in collections.Counter(a2c.values()).items() if n > 1]
        if dup:
            problems.append("tasks linked from several work items: %s" % dup)
        return a2c, problems

    def converged(self, snap=None):
        """(ok, report): every item paired one to one and equal under the mapping."""
        snap = snap or self.snapshot()
        wis, tasks = snap
        a2c, problems = self.pairs(snap)
        for wid, tid in a2c.items():
            d = diff(canon_ado(wis[wid]), canon_clickup(tasks[tid]))
            if d:
                problems.append("pair %s/%s differs: %s" % (wid, tid, d))
        return not problems, problems

    def wait_converged(self, timeout=30, expect_items=None):
        last = {"p": None}

        def cond():
            ok, problems = self.converged()
            last["p"] = problems
            if ok and expect_items is not None:
                n = len(self.ado.ids())
                if n != expect_items:
                    last["p"] = ["%d work items, %d expected" % (n, expect_items)]
                    return False
            return ok
        wait_until("both sides to converge", cond, timeout=timeout, interval=0.1,
                   detail=lambda: "\n".join(last["p"][:20]) + "\n--- daemon log tail ---\n"
                   + self.daemon.log()[-4000:])

    def twin_of_ado(self, wid, timeout=20):
        """Wait for the work item's twin task; returns its id (links checked both ways)."""
        def cond():
            tid = ado_link_of(self.ado.get(wid))
            if tid and clickup_link_of(self.cu.get(tid)) == wid:
                return tid
            return None
        return wait_until("the twin of work item %s" % wid, cond, timeout=timeout,
                          interval=0.05, detail=lambda: self.daemon.log()[-3000:])

    def twin_of_task(self, tid, timeout=20):
        def cond():
            wid = clickup_link_of(self.cu.get(tid))
            if wid and ado_link_of(self.ado.get(wid)) == tid:
                return wid
            return None
        return wait_until("the twin of task %s" % tid, cond, timeout=timeout, interval=0.05,
                          detail=lambda: self.daemon.log()[-3000:])

    def wait_pair_equal(self, wid, tid, timeout=20, want=None):
        """Until the pair is equal under the mapping (and, when given, the
        canonical fields in want hold on both sides)."""
        last = {}

        def cond():
            a, c = canon_ado(self.ado.get(wid)), canon_clickup(self.cu.get(tid))
            last["d"] = diff(a, c)
            if want:
                last["want"] = {k: (v, a.get(k), c.get(k)) for k, v in want.items()
                                if a.get(k) != v or not same(k, v, c.get(k))}
            return not last["d"] and not last.get("want")
        wait_until("pair %s/%s to be equal" % (wid, tid), cond, timeout=timeout, interval=0.05,
                   detail=lambda: "%r\n%s" % (last, self.daemon.log()[-3000:]))

    # replay
    def replay(self, deliveries):
        """POST recorded deliveries to the daemon again, byte for byte; returns
        the statuses."""
        out = []
        for d in deliveries:
            st, _, _ = http_request(self.daemon_port, "POST", d["path"], d["body"],
                                    d["headers"])
            out.append(st)
        return out


# --- ADO and ClickUp values of one canonical record ----------------------------------------

def ado_fields(c):
    """Canonical record (subset) -> ADO fields for create/update (None clears)."""
    f = {}
    if "title" in c:
        f["System.Title"] = c["title"]
    if "description_html" in c:
        f["System.Description"] = c["description_html"] or None
    if "status" in c:
        f["System.State"] = STATE_OF_STATUS[c["status"]]
    if "priority" in c:
        f["Microsoft.VSTS.Common.Priority"] = c["priority"]
    if "assignee" in c:
        f["System.AssignedTo"] = c["assignee"] or None
    if "tags" in c:
        f["System.Tags"] = "; ".join(c["tags"]) or None
    if "due" in c:
        f["Microsoft.VSTS.Scheduling.DueDate"] = iso(c["due"]) if c["due"] else None
    return f


def clickup_create_body(c, users):
    b = {"name": c["title"]}
    if c.get("description_md"):
        b["markdown_content"] = c["description_md"]
    if "status" in c:
        b["status"] = c["status"]
    if c.get("priority"):
        b["priority"] = c["priority"]
    if c.get("assignee"):
        b["assignees"] = [users[c["assignee"]]]
    if c.get("tags"):
        b["tags"] = list(c["tags"])
    if c.get("due"):
        b["due_date"] = c["due"] * 1000
        b["due_date_time"] = True
    return b


def rand_record(rng, tag=""):
    md, ht = rand_description(rng)
    return {"title": rand_title(rng, tag), "description_md": md, "description_html": ht,
            "status": rng.choice(list(STATE_OF_STATUS)), "priority": rng.randrange(1, 5),
            "assignee": rng.choice(EMAILS), "tags": sorted(rng.sample(TAGS, rng.randrange(0, 3))),
            "due": rand_due(rng)}


def expected(rec):
    """The canonical form both sides must show for a record."""
    return {"title": rec["title"], "description": norm_md(rec["description_md"]),
            "status": rec["status"], "priority": rec["priority"],
            "assignee": rec["assignee"], "tags": sorted(rec["tags"]), "due": rec["due"]}


def human_edit(world, side, wid, tid, field, rec):
    """One human edit of one field on one side (rec holds the new value).
    Returns the number of write requests it took."""
    before = (world.ado.writes, world.cu.writes)
    if side == "ado":
        if field == "description":
            world.ado.update(wid, {"System.Description": rec["description_html"]})
        else:
            world.ado.update(wid, ado_fields({field: rec[field]}))
    else:
        if field == "title":
            world.cu.update(tid, {"name": rec["title"]})
        elif field == "description":
            # As in ClickUp's editor: the text changes, a link footer the
            # daemon put there stays.
            cur = world.cu.get(tid)
            footer = split_link_footer(cur.get("markdown_description") or "")[1]
            world.cu.update(tid, {"markdown_content": rec["description_md"] +
                                  ("\n\n" + footer if footer else "")})
        elif field == "status":
            world.cu.update(tid, {"status": rec["status"]})
        elif field == "priority":
            world.cu.update(tid, {"priority": rec["priority"]})
        elif field == "due":
            world.cu.update(tid, {"due_date": rec["due"] * 1000, "due_date_time": True})
        elif field == "assignee":
            world.cu.set_assignee(tid, rec["assignee"])
        elif field == "tags":
            world.cu.set_tags(tid, rec["tags"])
        else:
            raise ValueError(field)
    world.human_changes += 1
    return world.ado.writes + world.cu.writes - sum(before)


def new_value(rng, field, cur):
    """A value for field different from the canonical cur."""
    for _ in range(50):
        r = rand_record(rng)
        if field == "description":
            if norm_md(r["description_md"]) != cur:
                return r
        elif r[field] != cur:
            return r
    raise AssertionError("no new value for " + field)


FIELDS = ("title", "description", "status", "priority", "assignee", "tags", "due")


# --- entry point -----------------------------------------------------------------------------

def probe_engine():
    """True when the daemon has the sync engine (see module doc)."""
    w = World(wait_webhooks=False)
    try:
        w.start()
        return w.has_engine()
    finally:
        w.close(check_exit=False)


def main():
    """usage: test_sync*.py DAEMON SIM [unittest args...] (or ACS_DAEMON / ACS_SIM)."""
    global SIM
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        os.environ["ACS_DAEMON"] = sys.argv.pop(1)
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        os.environ["ACS_SIM"] = sys.argv.pop(1)
    harness.DAEMON = os.environ.get("ACS_DAEMON", "")
    SIM = os.environ.get("ACS_SIM", "")
    if not harness.DAEMON or not SIM:
        print("usage: %s DAEMON SIM [TEST...]" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    if not probe_engine():
        print("SKIP: the daemon has no sync engine yet (GET /webhooks/ado answers 404)")
        sys.exit(SKIP)
    unittest.main(module="__main__", verbosity=2)
