# SPDX-License-Identifier: MIT
"""End-to-end tests of ado-clickup-sim's Azure DevOps half, driving the real
binary over loopback.

usage: test_sim_ado.py SIM_BINARY FIXTURES_DIR [TEST_NAME...]
Each test starts its own simulator on free ports. ACS_E2E_WRAPPER (e.g.
"valgrind --error-exitcode=1 ...") wraps the binary; its exit code on SIGTERM
must be 0. Stdlib only."""
import base64
import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

SIM = sys.argv[1] if len(sys.argv) > 1 else "build/test/sim/ado-clickup-sim"
FIX = sys.argv[2] if len(sys.argv) > 2 else "test/fixtures/ado"
WRAPPER = os.environ.get("ACS_E2E_WRAPPER", "").split()
SLOW = 8 if WRAPPER else 1
PAT = "simadopat0123456789abcdefghijklmnopqrstuvwxyz0123"
ORG, PROJECT = "contoso", "Platform"
PROJECT_ID = "5c1d2f7a-8b3e-4d6f-9a21-0e7b4c9d3f58"
AVERY = ("Avery Chen", "avery.chen@example.com")
SAM = ("Sam Ortiz", "sam.ortiz@example.com")
RILEY = ("Riley Park", "riley.park@example.com")
V = "api-version=7.1"
VC = "api-version=7.1-preview.4"
PATCH_CT = "application/json-patch+json"



def iso_ms(s):
    """Unix ms of an ADO ISO-8601 timestamp (any number of fraction digits)."""
    import datetime
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)

def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return json.load(f)


def basic(pat, user=""):
    return "Basic " + base64.b64encode(f"{user}:{pat}".encode()).decode()


class Sim:
    """One ado-clickup-sim process; seed: a full seed document or None."""

    def __init__(self, args=None, seed=None):
        self.dir = tempfile.mkdtemp(prefix="acs-sim-ado-")
        cmd = WRAPPER + [SIM, "--ado-port", "0", "--clickup-port", "0"] + (args or [])
        if seed is not None:
            path = os.path.join(self.dir, "seed.json")
            with open(path, "w") as f:
                json.dump(seed, f)
            cmd += ["--seed", path]
        self.err = open(os.path.join(self.dir, "stderr"), "w+b")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ado="):
            self.proc.wait(timeout=10)
            raise RuntimeError("sim did not start: " + line + self.stderr())
        parts = dict(p.split("=") for p in line.split())
        self.port = int(parts["ado"])
        self.base = f"http://127.0.0.1:{self.port}"

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60 * SLOW)
        self.proc.stdout.close()
        if rc != 0:
            raise AssertionError(f"sim exited {rc}:\n{self.stderr()}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.err.close()

    def raw(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30 * SLOW)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def api(self, method, path, body=None, pat=PAT, ctype="application/json", headers=None,
            project=True):
        """path is relative to /{org}/{project}/_apis/ (or /{org}/_apis/ when
        project is False) and carries its own query string."""
        h = dict(headers or {})
        if pat is not None:
            h["Authorization"] = basic(pat)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = ctype
        prefix = f"/{ORG}/{PROJECT}/_apis/" if project is True else \
            f"/{ORG}/_apis/" if project is False else f"/{ORG}/{project}/_apis/"
        status, hdrs, raw = self.raw(method, prefix + path, data, h)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return status, hdrs, parsed

    def ctl(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        status, _, raw = self.raw(method, "/_sim/" + path, data,
                                  {"Content-Type": "application/json"})
        if path == "requests":
            return status, [json.loads(l) for l in raw.decode().splitlines() if l]
        return status, json.loads(raw)

    def create(self, wtype="Task", pat=PAT, **fields):
        fields.setdefault("System.Title", "A work item")
        ops = [{"op": "add", "path": "/fields/" + k, "value": v} for k, v in fields.items()]
        st, _, wi = self.api("POST", f"wit/workitems/${urllib.parse.quote(wtype)}?{V}", ops,
                             ctype=PATCH_CT, pat=pat)
        assert st == 200, (st, wi)
        return wi

    def patch(self, wid, ops, query=""):
        return self.api("PATCH", f"wit/workitems/{wid}?{V}{query}", ops, ctype=PATCH_CT)

    def get(self, wid, query=""):
        st, _, wi = self.api("GET", f"wit/workitems/{wid}?{V}{query}")
        assert st == 200, (st, wi)
        return wi

    def wiql(self, query, qs="", pat=PAT):
        return self.api("POST", f"wit/wiql?{V}{qs}", {"query": query}, pat=pat)

    def wiql_ids(self, query, qs=""):
        st, _, r = self.wiql(query, qs)
        assert st == 200, (st, r, query)
        return [w["id"] for w in r["workItems"]]

    def sub(self, sid):
        st, _, s = self.api("GET", f"hooks/subscriptions/{sid}?{V}", project=False)
        assert st == 200, (st, s)
        return s

    def subscribe(self, event, url, **inputs):
        body = fixture("ado-create-subscription-request.json")
        body["eventType"] = event
        body["publisherInputs"]["projectId"] = PROJECT_ID
        body["consumerInputs"]["url"] = url
        body["consumerInputs"]["messagesToSend"] = ""
        body["consumerInputs"]["detailedMessagesToSend"] = ""
        body["consumerInputs"].update(inputs.pop("consumer", {}))
        body["publisherInputs"].update(inputs)
        st, _, s = self.api("POST", f"hooks/subscriptions?{V}", body, project=False)
        assert st == 200, (st, s)
        return s

    def wait_until(self, what, cond, timeout=15):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.01)
        raise AssertionError("timed out waiting for " + what)


class Receiver:
    """Webhook receiver on 127.0.0.1:0; statuses: answers in turn (the last
    one repeats)."""

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.got = []
        self.cond = threading.Condition()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.cond:
                    i = len(outer.got)
                    outer.got.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body})
                    outer.cond.notify_all()
                status = outer.statuses[min(i, len(outer.statuses) - 1)]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/webhooks/ado"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=15):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.got) >= n, timeout * SLOW)
        assert ok, f"expected {n} deliveries, got {len(self.got)}"
        return self.got[:n]

    def events(self, n):
        return [json.loads(d["body"]) for d in self.wait(n)]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def same_shape(ours, ref, path="$", exact_keys=True):
    """Same JSON value types, recursively; with exact_keys the same key sets,
    else ref's keys must be present. Lists: element-wise on the common prefix."""
    assert kind(ours) == kind(ref), f"{path}: {kind(ours)} {ours!r} vs {kind(ref)} {ref!r}"
    if isinstance(ref, dict):
        if exact_keys:
            assert set(ours) == set(ref), \
                f"{path}: extra {set(ours) - set(ref)}, missing {set(ref) - set(ours)}"
        else:
            assert set(ref) <= set(ours), f"{path}: missing {set(ref) - set(ours)}"
        for k in ref:
            same_shape(ours[k], ref[k], f"{path}.{k}", exact_keys)
    elif isinstance(ref, list):
        for i in range(min(len(ours), len(ref))):
            same_shape(ours[i], ref[i], f"{path}[{i}]", exact_keys)


def common_types(ours, ref, path="$"):
    """Fields present in both have the same types (field sets differ)."""
    for k in set(ours) & set(ref):
        same_shape(ours[k], ref[k], f"{path}.{k}", exact_keys=True)


def default_seed():
    return json.loads(subprocess.run([SIM, "--print-seed"], capture_output=True,
                                     check=True).stdout)


def seed_with(**ado):
    seed = default_seed()
    seed.setdefault("ado", {}).update(ado)
    return seed


def identity_string(who):
    return f"{who[0]} <{who[1]}>"


def check_error(body, type_key=None, status_ref=None):
    same_shape(body, fixture("ado-error.json"))
    if type_key:
        assert body["typeKey"] == type_key, body


# --- tests -------------------------------------------------------------------

def t_auth(sim):
    st, h, body = sim.api("GET", f"wit/workitems/1?{V}", pat=None)
    assert st == 401 and h["www-authenticate"].startswith("Basic realm="), (st, h)
    check_error(body, "UnauthorizedRequestException")
    assert body["message"].startswith("TF400813")
    st, _, body = sim.api("GET", f"wit/workitems/1?{V}", pat="wrong-pat")
    assert st == 401
    # A non-canonical encoding (stray '=') is refused, as the real service does.
    bad = basic(PAT) + "="
    st, _, _ = sim.api("GET", f"projects?{V}", pat=None, headers={"Authorization": bad},
                       project=False)
    assert st == 401
    st, _, _ = sim.api("GET", f"projects?{V}", pat=None,
                       headers={"Authorization": "Bearer " + PAT}, project=False)
    assert st == 401
    # Any user name is accepted with the PAT as password.
    st, _, r = sim.api("GET", f"projects?{V}", pat=None,
                       headers={"Authorization": basic(PAT, "anything")}, project=False)
    assert st == 200 and r["count"] == 1 and r["value"][0]["id"] == PROJECT_ID, r
    # Attachments and unknown paths need auth too.
    st, _, _ = sim.raw("GET", f"/{ORG}/_apis/wit/attachments/x?{V}")
    assert st == 401


def t_api_version(sim):
    st, _, body = sim.api("GET", "projects", project=False)
    assert st == 400, st
    check_error(body, "VssVersionNotSpecifiedException")
    st, _, body = sim.api("GET", "projects?api-version=8.0", project=False)
    assert st == 400 and body["typeKey"] == "VssVersionOutOfRangeException", body
    st, _, body = sim.api("GET", "projects?api-version=bogus", project=False)
    assert st == 400
    st, _, _ = sim.api("GET", "projects", project=False,
                       headers={"Accept": "application/json; api-version=7.1"})
    assert st == 200
    st, _, _ = sim.api("GET", "projects?api-version=7.1-preview.1", project=False)
    assert st == 200
    wi = sim.create()
    st, _, body = sim.api("GET", f"wit/workItems/{wi['id']}/comments?{V}")
    assert st == 400 and body["typeKey"] == "VssInvalidPreviewVersionException", body
    assert "-preview flag must be supplied" in body["message"]
    st, _, body = sim.api("GET", f"wit/workItems/{wi['id']}/comments?{VC}")
    assert st == 200, body
    st, _, body = sim.api("GET", f"wit/workItems/{wi['id']}/comments?api-version=7.1-preview.3")
    assert st == 400
    # Routes are case-insensitive; the project may be its GUID.
    st, _, _ = sim.api("GET", f"WIT/WorkItems/{wi['id']}?{V}", project=PROJECT_ID)
    assert st == 200
    st, _, body = sim.api("GET", f"wit/workitems/{wi['id']}?{V}", project="Nope")
    assert st == 404 and body["message"].startswith("TF200016"), body
    st, _, _ = sim.api("GET", f"wit/nothing?{V}")
    assert st == 404
    st, _, _ = sim.api("PUT", f"wit/workitems/{wi['id']}?{V}", {})
    assert st == 405


def t_roundtrip(sim):
    desc = "<div>Comments <b>both</b> ways &amp; more.</div><ul><li>x</li></ul>"
    ops = fixture("ado-workitem-create-request.json")
    for op in ops:
        if op["path"] == "/fields/System.AssignedTo":
            op["value"] = SAM[1]
        if op["path"] == "/fields/System.Description":
            op["value"] = desc
    ops += [
        {"op": "add", "path": "/fields/System.AreaPath", "value": "Platform\\Integrations"},
        {"op": "add", "path": "/fields/System.IterationPath", "value": "platform\\sprint 1"},
        {"op": "add", "path": "/fields/Microsoft.VSTS.Scheduling.DueDate",
         "value": "2026-01-21"},
        {"op": "add", "path": "/fields/Microsoft.VSTS.Scheduling.StoryPoints", "value": 3.5},
        {"op": "add", "path": "/fields/System.State", "value": "Active"},
    ]
    st, _, wi = sim.api("POST", f"wit/workitems/$User%20Story?{V}", ops, ctype=PATCH_CT)
    assert st == 200, wi
    f = wi["fields"]
    assert wi["rev"] == 1 and f["System.WorkItemType"] == "User Story"
    assert f["System.Title"] == "Sync ADO comments both ways"
    assert f["System.Description"] == desc
    assert f["System.Tags"] == "backend; sync"
    assert f["Microsoft.VSTS.Common.Priority"] == 2
    assert f["System.State"] == "Active" and f["System.Reason"] == "Implementation started"
    assert f["System.AreaPath"] == "Platform\\Integrations"
    assert f["System.IterationPath"] == "Platform\\Sprint 1"
    assert f["Microsoft.VSTS.Scheduling.DueDate"] == "2026-01-21T00:00:00Z"
    assert f["Microsoft.VSTS.Scheduling.StoryPoints"] == 3.5
    assert f["System.TeamProject"] == PROJECT and f["System.CommentCount"] == 0
    ref = fixture("ado-workitem.json")
    # Identity refs on REST reads, with the fixture's keys.
    for k in ("System.AssignedTo", "System.CreatedBy", "System.ChangedBy"):
        same_shape(f[k], ref["fields"]["System.AssignedTo"], f"$.fields.{k}")
    assert f["System.AssignedTo"]["uniqueName"] == SAM[1]
    assert f["System.AssignedTo"]["displayName"] == SAM[0]
    assert f["System.CreatedBy"]["uniqueName"] == AVERY[1]
    got = sim.get(wi["id"], "&$expand=all")
    assert set(got) == {"id", "rev", "fields", "_links", "url"}, set(got)  # no relations yet
    same_shape(got["_links"], ref["_links"])
    common_types(got["fields"], ref["fields"], "$.fields")
    # Plain GET has _links, no relations; fields selection.
    sel = sim.get(wi["id"], "&fields=System.Id,System.Title,System.Rev,System.Tags")
    assert sel["fields"] == {"System.Id": wi["id"], "System.Title": f["System.Title"],
                             "System.Rev": 1, "System.Tags": "backend; sync"}, sel
    st, _, body = sim.api("GET", f"wit/workitems/{wi['id']}?{V}&fields=Nope.Field")
    assert st == 400 and body["message"].startswith("TF51535"), body
    st, _, body = sim.api("GET", f"wit/workitems/{wi['id']}?{V}&fields=System.Title"
                          "&$expand=all")
    assert st == 400
    # Update: every kind of change bumps rev, ChangedDate and ChangedBy.
    before = got["fields"]["System.ChangedDate"]
    st, _, up = sim.patch(wi["id"], [
        {"op": "test", "path": "/rev", "value": 1},
        {"op": "replace", "path": "/fields/System.Title", "value": "Renamed"},
        {"op": "add", "path": "/fields/System.AssignedTo", "value": identity_string(RILEY)},
        {"op": "replace", "path": "/fields/System.Tags", "value": "sync;  Zeta ;backend;SYNC"},
        {"op": "remove", "path": "/fields/Microsoft.VSTS.Scheduling.DueDate"},
        {"op": "replace", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": 1},
    ])
    assert st == 200, up
    u = up["fields"]
    assert up["rev"] == 2 and u["System.Title"] == "Renamed"
    assert u["System.AssignedTo"]["uniqueName"] == RILEY[1]
    assert u["System.Tags"] == "sync; Zeta; backend", u["System.Tags"]
    assert "Microsoft.VSTS.Scheduling.DueDate" not in u
    # Compare instants: ADO trims trailing zeros of the fraction, so the strings
    # do not sort ("…38.1Z" is later than "…38.101Z" as text).
    assert iso_ms(u["System.ChangedDate"]) > iso_ms(before)
    assert u["Microsoft.VSTS.Common.Priority"] == 1
    # Clearing: "" unassigns, an empty tag string removes the field.
    st, _, up = sim.patch(wi["id"], [
        {"op": "replace", "path": "/fields/System.AssignedTo", "value": ""},
        {"op": "replace", "path": "/fields/System.Tags", "value": ""},
        {"op": "replace", "path": "/fields/System.State", "value": "Closed"},
    ])
    assert st == 200 and up["rev"] == 3, up
    assert "System.AssignedTo" not in up["fields"] and "System.Tags" not in up["fields"]
    assert up["fields"]["System.Reason"] == "Acceptance tests pass"
    # A patch changing nothing makes no revision.
    st, _, up = sim.patch(wi["id"], [{"op": "replace", "path": "/fields/System.Title",
                                       "value": "Renamed"}])
    assert st == 200 and up["rev"] == 3
    # validateOnly neither saves nor bumps.
    st, _, up = sim.patch(wi["id"], [{"op": "replace", "path": "/fields/System.Title",
                                       "value": "Dry"}], "&validateOnly=true")
    assert st == 200 and up["fields"]["System.Title"] == "Dry"
    assert sim.get(wi["id"])["fields"]["System.Title"] == "Renamed"
    # Identity writes: IdentityRef objects and display names.
    st, _, up = sim.patch(wi["id"], [{"op": "add", "path": "/fields/System.AssignedTo",
                                       "value": {"uniqueName": AVERY[1]}}])
    assert st == 200 and up["fields"]["System.AssignedTo"]["uniqueName"] == AVERY[1]
    st, _, up = sim.patch(wi["id"], [{"op": "add", "path": "/fields/System.AssignedTo",
                                       "value": SAM[0]}])
    assert st == 200 and up["fields"]["System.AssignedTo"]["uniqueName"] == SAM[1]
    # Content type: JSON Patch only.
    st, _, body = sim.api("PATCH", f"wit/workitems/{wi['id']}?{V}",
                          [{"op": "add", "path": "/fields/System.Title", "value": "x"}])
    assert st == 415 and body["typeKey"] == "VssRequestContentTypeNotSupportedException"
    st, _, body = sim.api("POST", f"wit/workitems/$Task?{V}",
                          [{"op": "add", "path": "/fields/System.Title", "value": "x"}])
    assert st == 415


def t_patch_errors(sim):
    wi = sim.create(**{"System.Title": "Keep"})
    wid = wi["id"]
    # A stale test on /rev rejects the whole patch with 412.
    st, _, body = sim.patch(wid, [
        {"op": "replace", "path": "/fields/System.Title", "value": "Changed"},
        {"op": "test", "path": "/rev", "value": 7},
    ])
    assert st == 412, (st, body)
    check_error(body)
    cur = sim.get(wid)
    assert cur["rev"] == 1 and cur["fields"]["System.Title"] == "Keep"
    st, _, body = sim.patch(wid, fixture("ado-workitem-update-request.json"))
    assert st == 412
    st, _, body = sim.patch(wid, [{"op": "add", "path": "/fields/System.Nope", "value": 1}])
    assert st == 400 and body["message"] == "TF51535: Cannot find field System.Nope.", body
    check_error(body, "WorkItemTrackingFieldDefinitionNotFoundException")
    st, _, body = sim.patch(wid, [{"op": "add", "path": "/fields/System.State",
                                    "value": "Resolved"}])  # not a Task state
    assert st == 400 and body["typeKey"] == "RuleValidationException", body
    assert body["message"].startswith("TF401320: Rule Error for field State"), body
    st, _, body = sim.patch(wid, [{"op": "add", "path": "/fields/System.CreatedDate",
                                    "value": "2020-01-01T00:00:00Z"}])
    assert st == 400 and body["message"].startswith("TF401326"), body
    st, _, body = sim.patch(wid, [{"op": "add", "path": "/fields/System.CreatedDate",
                                    "value": "2020-01-01T00:00:00Z"}], "&bypassRules=true")
    assert st == 200 and body["fields"]["System.CreatedDate"] == "2020-01-01T00:00:00Z"
    st, _, body = sim.patch(wid, [{"op": "remove", "path": "/fields/System.ChangedBy"}],
                            "&bypassRules=true")
    assert st == 400, body
    for ops in ([{"op": "add", "path": "/nope", "value": 1}],
                [{"op": "move", "from": "/fields/System.Title", "path": "/fields/System.Tags"}],
                [{"op": "remove", "path": "/relations/0"}],
                [{"op": "replace", "path": "/fields/System.Title", "value": ""}],
                [{"op": "add", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": 9}],
                [{"op": "add", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": "2"}],
                [{"op": "add", "path": "/fields/System.AreaPath", "value": "Platform\\Nope"}],
                [{"op": "add", "path": "/fields/System.AssignedTo", "value": "who@nowhere"}],
                [{"op": "add", "path": "/relations/-", "value": {"rel": "Bogus", "url": "x"}}],
                []):
        st, _, body = sim.patch(wid, ops)
        assert st == 400, (ops, st, body)
        check_error(body)
    assert sim.get(wid)["rev"] == 2
    st, _, body = sim.api("GET", f"wit/workitems/99999?{V}")
    assert st == 404
    check_error(body, "WorkItemUnauthorizedAccessException")
    assert body["message"].startswith("TF401232: Work item 99999 does not exist")
    st, _, body = sim.api("POST", f"wit/workitems/$Epic?{V}",
                          [{"op": "add", "path": "/fields/System.Title", "value": "x"}],
                          ctype=PATCH_CT)
    assert st == 404, body
    st, _, body = sim.api("POST", f"wit/workitems/$Task?{V}",
                          [{"op": "add", "path": "/fields/System.Description", "value": "x"}],
                          ctype=PATCH_CT)
    assert st == 400 and "Title" in body["message"], body


def t_batch(sim):
    ids = [sim.create(**{"System.Title": f"B{i}"})["id"] for i in range(3)]
    st, _, r = sim.api("GET", f"wit/workitems?ids={','.join(map(str, ids))}"
                       f"&fields=System.Title&{V}")
    assert st == 200 and r["count"] == 3, r
    assert [w["fields"] for w in r["value"]] == [{"System.Title": f"B{i}"} for i in range(3)]
    st, _, r = sim.api("GET", f"wit/workitems?ids={ids[0]},424242&{V}")
    assert st == 404, r
    st, _, r = sim.api("GET", f"wit/workitems?ids={ids[0]},424242&errorPolicy=omit&{V}")
    assert st == 200 and r["value"][1] is None and r["value"][0]["id"] == ids[0], r
    st, _, r = sim.api("POST", f"wit/workitemsbatch?{V}",
                       {"ids": ids + [424242], "fields": ["System.Id", "System.Title"],
                        "errorPolicy": "omit"})
    assert st == 200 and r["count"] == 4 and r["value"][3] is None, r
    assert r["value"][2]["fields"] == {"System.Id": ids[2], "System.Title": "B2"}
    st, _, r = sim.api("POST", f"wit/workitemsbatch?{V}", {"ids": ids, "$expand": "relations"})
    assert st == 200 and r["value"][0]["fields"]["System.Title"] == "B0"
    st, _, r = sim.api("POST", f"wit/workitemsbatch?{V}", {"ids": list(range(1, 202))})
    assert st == 400, r
    st, _, r = sim.api("POST", f"wit/workitemsbatch?{V}", {"ids": [ids[0], 424242]})
    assert st == 404


def t_wiql(sim):
    a = sim.create("Task", **{"System.Title": "a", "System.AreaPath": "Platform\\Web",
                              "System.AssignedTo": AVERY[1]})["id"]
    b = sim.create("Bug", **{"System.Title": "b", "System.AreaPath": "Platform\\Integrations",
                             "System.AssignedTo": SAM[1], "System.Tags": "x; sync"})["id"]
    c = sim.create("User Story", **{"System.Title": "c"})["id"]
    d = sim.create("Task", **{"System.Title": "d", "System.AreaPath": "Platform\\Web"})["id"]
    st, _, r = sim.api("DELETE", f"wit/workitems/{d}?{V}")
    assert st == 200
    base = "SELECT [System.Id], [System.Title] FROM WorkItems WHERE "
    st, _, r = sim.wiql(base + "[System.TeamProject] = @project ORDER BY [System.ChangedDate]")
    assert st == 200, r
    ref = fixture("ado-wiql-response.json")
    same_shape(r, ref)
    assert [w["id"] for w in r["workItems"]] == [a, b, c]  # deleted items never match
    assert r["sortColumns"][0]["field"]["referenceName"] == "System.ChangedDate"
    assert r["columns"][1]["name"] == "Title"
    q = lambda w, qs="": sim.wiql_ids(base + w, qs)
    assert q("[System.TeamProject] = 'platform'") == [a, b, c]
    assert q("[System.AreaPath] = 'Platform\\Web'") == [a]
    assert q("[System.AreaPath] UNDER 'Platform'") == [a, b, c]
    assert q("[System.AreaPath] UNDER 'Platform\\Integrations'") == [b]
    assert q("[System.AreaPath] NOT UNDER 'Platform\\Integrations'") == [a, c]
    assert q("[System.WorkItemType] = 'Bug'") == [b]
    assert q("[System.WorkItemType] IN ('Task', 'User Story')") == [a, c]
    assert q("[System.WorkItemType] NOT IN ('Task', 'User Story')") == [b]
    assert q("[System.AssignedTo] = @Me") == [a]
    assert q(f"[System.AssignedTo] = '{identity_string(SAM)}'") == [b]
    assert q(f"[System.AssignedTo] = '{SAM[1]}'") == [b]
    assert q("[System.AssignedTo] = ''") == [c]
    assert q("[System.Tags] CONTAINS 'sync'") == [b]
    assert q("[System.Id] >= %d AND [System.Id] < %d" % (b, c)) == [b]
    assert q("([System.WorkItemType] = 'Bug' OR [System.AssignedTo] = @Me) AND "
             "[System.TeamProject] = @project") == [a, b]
    assert q("NOT [System.WorkItemType] = 'Bug'") == [a, c]
    # Dates: day precision by default, time precision on request.
    assert q("[System.ChangedDate] >= @Today") == [a, b, c]
    assert q("[System.ChangedDate] > @Today - 1") == [a, b, c]
    assert q("[System.ChangedDate] > '2000-01-01'") == [a, b, c]
    assert q("[System.ChangedDate] > '2999-01-01'") == []
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert q(f"[System.ChangedDate] > '{today}'") == []
    bdate = sim.get(b)["fields"]["System.ChangedDate"]
    assert q(f"[System.ChangedDate] > '{bdate}'", "&timePrecision=true") == [c]
    assert q(f"[System.ChangedDate] >= '{bdate}' ORDER BY [System.ChangedDate] DESC",
             "&timePrecision=true") == [c, b]
    st, _, r = sim.wiql(base + f"[System.ChangedDate] > '{bdate}'")
    assert st == 400 and "time" in r["message"], r
    # Changes move items in ChangedDate order; $top cuts.
    sim.patch(a, [{"op": "add", "path": "/fields/System.Title", "value": "a2"}])
    assert q("[System.Id] > 0 ORDER BY [System.ChangedDate]") == [b, c, a]
    assert q("[System.Id] > 0 ORDER BY [System.ChangedDate]", "&$top=2") == [b, c]
    assert q("[System.Id] > 0 ORDER BY [System.WorkItemType] DESC, [System.Id]") == [c, a, b]
    # Anything the parser does not understand is a 400, never "match all".
    for bad in ("SELECT FROM WorkItems", "SELECT [System.Id] FROM WorkItems WHERE",
                base + "[System.Nope] = 1", base + "[System.Title] ~ 'x'",
                base + "[System.Title] = 'x' AND", base + "([System.Title] = 'x'",
                base + "[System.Title] = 'unterminated",
                base + "[System.Title] UNDER 'x'", base + "[System.Id] = 'x'",
                base + "[System.AssignedTo] = @Unknown",
                "SELECT [System.Id] FROM WorkItemLinks",
                base + "[System.Title] = 'x' garbage"):
        st, _, r = sim.wiql(bad)
        assert st == 400, (bad, r)
        check_error(r)
    # @project needs a project in the URL; the team segment is accepted.
    st, _, r = sim.api("POST", f"wit/wiql?{V}",
                       {"query": base + "[System.TeamProject] = @project"}, project=False)
    assert st == 400, r
    st, _, r = sim.api("POST", f"wit/wiql?{V}", {"query": base + "[System.Id] = %d" % a},
                       project="Platform/Platform%20Team")
    assert st == 200 and [w["id"] for w in r["workItems"]] == [a], r


def t_types_states(sim):
    ref = fixture("ado-workitem-type-states.json")
    want = {"Task": ["New", "Active", "Closed", "Removed"],
            "Bug": ["New", "Active", "Resolved", "Closed"],
            "User Story": ["New", "Active", "Resolved", "Closed", "Removed"]}
    cats = set()
    for t, states in want.items():
        st, _, r = sim.api("GET", f"wit/workitemtypes/{urllib.parse.quote(t)}/states?{V}")
        assert st == 200, r
        same_shape(r, ref)
        assert [s["name"] for s in r["value"]] == states and r["count"] == len(states)
        cats |= {s["category"] for s in r["value"]}
        assert all(len(s["color"]) == 6 and "#" not in s["color"] for s in r["value"])
    assert cats == {"Proposed", "InProgress", "Resolved", "Completed", "Removed"}, cats
    st, _, r = sim.api("GET", f"wit/workitemtypes/Epic/states?{V}")
    assert st == 404
    st, _, r = sim.api("GET", f"wit/workitemtypes?{V}")
    assert st == 200 and [t["name"] for t in r["value"]] == ["Task", "Bug", "User Story"]
    assert r["value"][1]["referenceName"] == "Microsoft.VSTS.WorkItemTypes.Bug"
    st, _, r = sim.api("GET", f"wit/classificationnodes/areas?$depth=2&{V}")
    assert st == 200 and r["name"] == PROJECT and r["structureType"] == "area", r
    assert sorted(c["name"] for c in r["children"]) == ["Integrations", "Web"]
    assert r["children"][0]["path"].startswith("\\Platform\\Area\\")
    st, _, r = sim.api("GET", f"wit/classificationnodes/areas?{V}")
    assert st == 200 and "children" not in r and r["hasChildren"] is True
    st, _, r = sim.api("GET", f"wit/classificationnodes/iterations/Sprint%201?{V}")
    assert st == 200 and r["name"] == "Sprint 1" and r["hasChildren"] is False, r
    st, _, r = sim.api("GET", f"wit/classificationnodes?$depth=1&{V}")
    assert st == 200 and r["count"] == 2
    st, _, r = sim.api("GET", f"projects/{PROJECT}?{V}", project=False)
    assert st == 200 and r["id"] == PROJECT_ID and r["defaultTeam"]["name"] == "Platform Team"
    st, _, r = sim.api("GET", f"projects/{PROJECT_ID}?{V}", project=False)
    assert st == 200 and r["name"] == PROJECT


def t_comments(sim):
    wi = sim.create()
    wid = wi["id"]
    path = f"wit/workItems/{wid}/comments"
    ids = []
    for i in range(3):
        st, _, c = sim.api("POST", f"{path}?{VC}", {"text": f"<div>c{i}</div>"})
        assert st == 200 and c["version"] == 1 and c["workItemId"] == wid, c
        ids.append(c["id"])
    ref = fixture("ado-comments.json")
    same_shape(c, ref["comments"][0])
    assert c["createdBy"]["uniqueName"] == AVERY[1] and c["format"] == "html"
    cur = sim.get(wid)
    assert cur["rev"] == 4 and cur["fields"]["System.CommentCount"] == 3, cur["fields"]
    st, _, c = sim.api("PATCH", f"{path}/{ids[1]}?{VC}", {"text": "<div>edited</div>"})
    assert st == 200 and c["version"] == 2 and c["text"] == "<div>edited</div>", c
    st, _, c = sim.api("GET", f"{path}/{ids[1]}?{VC}")
    assert st == 200 and c["version"] == 2
    # Newest first by default, pages with a continuation token.
    st, _, page = sim.api("GET", f"{path}?$top=2&{VC}")
    assert st == 200, page
    same_shape(page, ref)
    assert page["totalCount"] == 3 and page["count"] == 2
    assert [x["id"] for x in page["comments"]] == [ids[2], ids[1]]
    tok = urllib.parse.quote(page["continuationToken"])
    st, _, page2 = sim.api("GET", f"{path}?$top=2&continuationToken={tok}&{VC}")
    assert st == 200 and [x["id"] for x in page2["comments"]] == [ids[0]], page2
    assert "continuationToken" not in page2
    nxt = urllib.parse.urlsplit(page["nextPage"])
    assert nxt.path.endswith(f"/_apis/wit/workItems/{wid}/comments"), page["nextPage"]
    st, _, r = sim.api("GET", f"{path}?order=asc&{VC}")
    assert [x["id"] for x in r["comments"]] == ids
    # Soft delete.
    st, _, _ = sim.api("DELETE", f"{path}/{ids[0]}?{VC}")
    assert st == 200
    st, _, r = sim.api("GET", f"{path}?{VC}")
    assert r["totalCount"] == 2 and ids[0] not in [x["id"] for x in r["comments"]]
    st, _, r = sim.api("GET", f"{path}?includeDeleted=true&{VC}")
    deleted = [x for x in r["comments"] if x["id"] == ids[0]]
    assert r["totalCount"] == 3 and deleted[0]["isDeleted"] is True, r
    st, _, _ = sim.api("GET", f"{path}/{ids[0]}?{VC}")
    assert st == 404
    st, _, _ = sim.api("PATCH", f"{path}/{ids[0]}?{VC}", {"text": "x"})
    assert st == 404
    assert sim.get(wid)["fields"]["System.CommentCount"] == 2
    st, _, r = sim.api("POST", f"{path}?{VC}", {"text": ""})
    assert st == 400
    st, _, r = sim.api("POST", f"{path}?format=markdown&{VC}", {"text": "**md**"})
    assert st == 200 and r["format"] == "markdown"
    # System.History adds a comment too.
    st, _, up = sim.patch(wid, [{"op": "add", "path": "/fields/System.History",
                                  "value": "<div>via history</div>"}])
    assert st == 200 and up["fields"]["System.CommentCount"] == 4
    st, _, r = sim.api("GET", f"{path}?$top=1&{VC}")
    assert r["comments"][0]["text"] == "<div>via history</div>"


def t_attachments(sim):
    data = bytes(range(256)) * 300 + b"\x00end"
    st, _, r = sim.api("POST", f"wit/attachments?fileName=sync%20log.bin&{V}", data,
                       ctype="application/octet-stream")
    assert st == 201, r
    same_shape(r, fixture("ado-attachment-upload-response.json"))
    assert r["url"].endswith(f"/_apis/wit/attachments/{r['id']}?fileName=sync%20log.bin")
    path = urllib.parse.urlsplit(r["url"])
    st, h, got = sim.raw("GET", f"{path.path}?{path.query}&download=true&{V}",
                         headers={"Authorization": basic(PAT)})
    assert st == 200 and got == data and h["content-type"] == "application/octet-stream"
    st, _, _ = sim.raw("GET", f"{path.path}?{V}")
    assert st == 401
    st, _, _ = sim.api("POST", f"wit/attachments?fileName=x&{V}", b"{}",
                       ctype="application/json")
    assert st == 415
    st, _, _ = sim.api("POST", f"wit/attachments?{V}", b"x", ctype="application/octet-stream")
    assert st == 400
    wi = sim.create()
    st, _, up = sim.patch(wi["id"], [
        {"op": "add", "path": "/relations/-",
         "value": {"rel": "AttachedFile", "url": r["url"], "attributes": {"comment": "c"}}},
        {"op": "add", "path": "/relations/-",
         "value": {"rel": "Hyperlink", "url": "https://app.clickup.com/t/abc"}},
    ])
    assert st == 200 and up["rev"] == 2, up
    got = sim.get(wi["id"], "&$expand=relations")
    rels = got["relations"]
    assert [x["rel"] for x in rels] == ["AttachedFile", "Hyperlink"], rels
    ref = fixture("ado-workitem.json")["relations"][1]
    same_shape(rels[0], ref, exact_keys=False)
    assert rels[0]["attributes"]["name"] == "sync log.bin"
    assert rels[0]["attributes"]["resourceSize"] == len(data)
    assert rels[0]["attributes"]["comment"] == "c"
    assert rels[1]["url"] == "https://app.clickup.com/t/abc"
    # Duplicate links and unknown attachments are refused.
    st, _, _ = sim.patch(wi["id"], [{"op": "add", "path": "/relations/-", "value": {
        "rel": "Hyperlink", "url": "https://app.clickup.com/t/abc"}}])
    assert st == 400
    st, _, _ = sim.patch(wi["id"], [{"op": "add", "path": "/relations/-", "value": {
        "rel": "AttachedFile",
        "url": f"{sim.base}/{ORG}/_apis/wit/attachments/3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9"}}])
    assert st == 400
    # Parent links to live work items; remove by index.
    parent = sim.create(**{"System.Title": "parent"})
    st, _, up = sim.patch(wi["id"], [{"op": "add", "path": "/relations/-", "value": {
        "rel": "System.LinkTypes.Hierarchy-Reverse", "url": parent["url"]}}])
    assert st == 200 and up["relations"][2]["attributes"] == {"isLocked": False,
                                                             "name": "Parent"}, up
    st, _, up = sim.patch(wi["id"], [{"op": "remove", "path": "/relations/0"}])
    assert st == 200 and [x["rel"] for x in up["relations"]] == [
        "Hyperlink", "System.LinkTypes.Hierarchy-Reverse"]
    got = sim.get(wi["id"])
    assert "relations" not in got  # only with $expand
    assert sim.get(wi["id"], "&$expand=all")["rev"] == 4


def t_delete_restore(sim):
    wi = sim.create(**{"System.Title": "doomed"})
    wid = wi["id"]
    st, _, r = sim.api("DELETE", f"wit/workitems/{wid}?{V}")
    assert st == 200, r
    assert {"id", "code", "type", "name", "project", "deletedDate", "deletedBy", "url",
            "resource"} <= set(r), r
    assert r["id"] == wid and r["code"] == 200 and r["name"] == "doomed"
    assert r["deletedBy"] == identity_string(AVERY) and "/recyclebin/" in r["url"]
    st, _, body = sim.api("GET", f"wit/workitems/{wid}?{V}")
    assert st == 404 and body["typeKey"] == "WorkItemUnauthorizedAccessException"
    st, _, _ = sim.patch(wid, [{"op": "add", "path": "/fields/System.Title", "value": "x"}])
    assert st == 404
    st, _, r = sim.api("GET", f"wit/recyclebin/{wid}?{V}")
    assert st == 200 and r["id"] == wid
    st, _, r = sim.api("PATCH", f"wit/recyclebin/{wid}?{V}", {"isDeleted": False})
    assert st == 200 and r["resource"]["rev"] == 2, r
    got = sim.get(wid)
    assert got["rev"] == 2 and got["fields"]["System.Title"] == "doomed"
    st, _, _ = sim.api("GET", f"wit/recyclebin/{wid}?{V}")
    assert st == 404
    st, _, _ = sim.api("DELETE", f"wit/workitems/{wid}?destroy=true&{V}")
    assert st == 204
    st, _, _ = sim.api("GET", f"wit/recyclebin/{wid}?{V}")
    assert st == 404
    st, _, _ = sim.api("DELETE", f"wit/workitems/{wid}?{V}")
    assert st == 404


def t_subscriptions_crud(sim):
    body = fixture("ado-create-subscription-request.json")
    body["publisherInputs"]["projectId"] = PROJECT_ID
    st, _, s = sim.api("POST", f"hooks/subscriptions?{V}", body, project=False)
    assert st == 200, s
    ref = fixture("ado-create-subscription-response.json")
    same_shape(s, ref)
    assert s["consumerInputs"]["basicAuthPassword"] == "********"
    assert s["consumerInputs"]["httpHeaders"] == body["consumerInputs"]["httpHeaders"]
    assert s["eventDescription"] == "Any work item" and "status" not in s
    assert s["actionDescription"] == "To host sync.example.com"
    assert s["url"].endswith(f"/{ORG}/_apis/hooks/subscriptions/{s['id']}")
    assert sim.sub(s["id"]) == s
    body2 = dict(body, eventType="workitem.created")
    st, _, s2 = sim.api("POST", f"hooks/subscriptions?{V}", body2, project=False)
    assert st == 200
    st, _, lst = sim.api("GET", f"hooks/subscriptions?{V}", project=False)
    assert st == 200 and lst["count"] == 2
    st, _, lst = sim.api("GET", f"hooks/subscriptions?eventType=workitem.created&{V}",
                         project=False)
    assert [x["id"] for x in lst["value"]] == [s2["id"]]
    # PUT keeps a masked password, changes the rest.
    put = json.loads(json.dumps(s))
    put["consumerInputs"]["url"] = "https://other.example.com/x"
    put["publisherInputs"]["workItemType"] = "Bug"
    st, _, s3 = sim.api("PUT", f"hooks/subscriptions/{s['id']}?{V}", put, project=False)
    assert st == 200 and s3["consumerInputs"]["url"] == "https://other.example.com/x", s3
    assert s3["eventDescription"] == "Work item type Bug" and s3["createdDate"] == s["createdDate"]
    st, _, _ = sim.api("DELETE", f"hooks/subscriptions/{s['id']}?{V}", project=False)
    assert st == 204
    st, _, _ = sim.api("GET", f"hooks/subscriptions/{s['id']}?{V}", project=False)
    assert st == 404
    for bad in (dict(body, eventType="build.complete"), dict(body, consumerId="slack"),
                dict(body, resourceVersion="5.1-preview.3"),
                dict(body, publisherInputs={"projectId": "00000000-0000-0000-0000-000000000000"}),
                dict(body, consumerInputs={"url": "ftp://x"})):
        st, _, r = sim.api("POST", f"hooks/subscriptions?{V}", bad, project=False)
        assert st == 400, (bad, r)
        check_error(r)
    # Organization level only.
    st, _, _ = sim.api("GET", f"hooks/subscriptions?{V}")
    assert st == 404


def check_delivery(d, user, password):
    h = {k.lower(): v for k, v in d["headers"].items()}
    want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert h.get("authorization") == want, h
    assert h.get("x-sync-source") == "ado" and h.get("x-sync-tenant") == "contoso", h
    assert h.get("content-type", "").startswith("application/json")
    return json.loads(d["body"])


def t_deliveries(sim):
    rcv = Receiver()
    try:
        subs = {ev: sim.subscribe(ev, rcv.url) for ev in
                ("workitem.created", "workitem.updated", "workitem.commented",
                 "workitem.deleted", "workitem.restored")}
        wi = sim.create("Bug", **{"System.Title": "Hooked", "System.Tags": "backend",
                                  "System.Description": "<div>d</div>"})
        wid = wi["id"]
        ev = check_delivery(rcv.wait(1)[0], "ado-hook", "s3cr3t-shared-with-receiver")
        ref = fixture("ado-webhook-workitem-created.json")
        same_shape(ev, ref, exact_keys=False)
        assert set(ev) == set(ref) and set(ev["resource"]) == set(ref["resource"])
        common_types(ev["resource"]["fields"], ref["resource"]["fields"])
        assert ev["subscriptionId"] == subs["workitem.created"]["id"]
        assert ev["notificationId"] == 1 and ev["eventType"] == "workitem.created"
        assert ev["resource"]["id"] == wid and ev["resource"]["rev"] == 1
        assert ev["resource"]["fields"]["System.CreatedBy"] == identity_string(AVERY)
        assert ev["resourceContainers"]["project"]["id"] == PROJECT_ID
        assert len(ev["createdDate"].split(".")[1]) == 8  # 7 digits + Z

        st, _, _ = sim.patch(wid, [
            {"op": "test", "path": "/rev", "value": 1},
            {"op": "replace", "path": "/fields/System.State", "value": "Active"},
            {"op": "add", "path": "/fields/System.AssignedTo", "value": SAM[1]},
            {"op": "replace", "path": "/fields/System.Tags", "value": "backend; sync"},
        ])
        assert st == 200
        ev = check_delivery(rcv.wait(2)[1], "ado-hook", "s3cr3t-shared-with-receiver")
        ref = fixture("ado-webhook-workitem-updated.json")
        assert set(ev) == set(ref) and set(ev["resource"]) == set(ref["resource"]), ev
        res = ev["resource"]
        same_shape(res["revisedBy"], ref["resource"]["revisedBy"])
        same_shape(res["_links"], ref["resource"]["_links"])
        assert set(res["revision"]) == set(ref["resource"]["revision"]) - {"relations"}
        common_types(res["fields"], ref["resource"]["fields"])
        common_types(res["revision"]["fields"], ref["resource"]["revision"]["fields"])
        assert res["id"] == 2 and res["workItemId"] == wid and res["rev"] == 2
        assert res["revisedDate"] == "9999-01-01T00:00:00Z"
        f = res["fields"]
        assert f["System.State"] == {"oldValue": "New", "newValue": "Active"}
        assert f["System.Reason"] == {"oldValue": "New defect reported", "newValue": "Approved"}
        assert f["System.AssignedTo"] == {"newValue": identity_string(SAM)}
        assert f["System.Tags"] == {"oldValue": "backend", "newValue": "backend; sync"}
        assert f["System.Rev"] == {"oldValue": 1, "newValue": 2}
        assert f["System.RevisedDate"]["newValue"] == "9999-01-01T00:00:00Z"
        assert "System.Title" not in f
        assert res["revision"]["id"] == wid and res["revision"]["rev"] == 2
        assert res["revision"]["fields"]["System.AssignedTo"] == identity_string(SAM)
        assert res["revision"]["fields"]["System.Title"] == "Hooked"
        assert res["url"].endswith(f"/_apis/wit/workItems/{wid}/updates/2")

        st, _, c = sim.api("POST", f"wit/workItems/{wid}/comments?{VC}",
                           {"text": "<div>Mirrored</div>"})
        assert st == 200
        got = [json.loads(d["body"]) for d in rcv.wait(4)[2:]]
        by = {e["eventType"]: e for e in got}
        assert set(by) == {"workitem.updated", "workitem.commented"}, by.keys()
        ev = by["workitem.commented"]
        ref = fixture("ado-webhook-workitem-commented.json")
        assert set(ev) == set(ref) and set(ev["resource"]) == set(ref["resource"]), ev
        same_shape(ev["resource"]["commentVersionRef"], ref["resource"]["commentVersionRef"])
        common_types(ev["resource"]["fields"], ref["resource"]["fields"])
        assert ev["resource"]["fields"]["System.History"] == "<div>Mirrored</div>"
        assert ev["resource"]["fields"]["System.CommentCount"] == 1
        assert ev["resource"]["commentVersionRef"]["commentId"] == c["id"]
        upd = by["workitem.updated"]["resource"]["fields"]
        assert upd["System.History"] == {"newValue": "<div>Mirrored</div>"}
        assert upd["System.CommentCount"] == {"oldValue": 0, "newValue": 1}

        st, _, _ = sim.api("DELETE", f"wit/workitems/{wid}?{V}")
        assert st == 200
        ev = check_delivery(rcv.wait(5)[4], "ado-hook", "s3cr3t-shared-with-receiver")
        ref = fixture("ado-webhook-workitem-deleted.json")
        assert set(ev) == set(ref) and set(ev["resource"]) == set(ref["resource"]), ev
        same_shape(ev["resource"]["_links"], ref["resource"]["_links"])
        assert ev["resource"]["url"].endswith(f"/_apis/wit/recyclebin/{wid}")
        st, _, _ = sim.api("PATCH", f"wit/recyclebin/{wid}?{V}", {"isDeleted": False})
        assert st == 200
        ev = json.loads(rcv.wait(6)[5]["body"])
        assert ev["eventType"] == "workitem.restored" and ev["resource"]["id"] == wid
        assert ev["resource"]["rev"] == 4
        # Filters: work item type, area path, changed fields.
        sim.api("DELETE", f"hooks/subscriptions/{subs['workitem.created']['id']}?{V}",
                project=False)
        sim.subscribe("workitem.created", rcv.url, workItemType="Task")
        sim.subscribe("workitem.created", rcv.url, areaPath="Platform\\Web")
        sim.subscribe("workitem.updated", rcv.url + "?f=title",
                      changedFields="System.Title")
        sim.create("Bug", **{"System.Title": "no match"})
        sim.create("Bug", **{"System.Title": "web bug", "System.AreaPath": "Platform\\Web"})
        t = sim.create("Task", **{"System.Title": "task"})
        sim.patch(t["id"], [{"op": "add", "path": "/fields/System.Title", "value": "t2"}])
        got = [json.loads(d["body"]) for d in rcv.wait(10)[6:]]
        titles = sorted((e["eventType"], (e["resource"].get("revision") or e["resource"])
                         ["fields"]["System.Title"]) for e in got)
        assert titles == [("workitem.created", "task"), ("workitem.created", "web bug"),
                          ("workitem.updated", "t2"), ("workitem.updated", "t2")], titles
        st, w = sim.ctl("GET", "webhooks")
        assert st == 200
        sim.wait_until("idle", lambda: sim.ctl("GET", "webhooks")[1]["pending"] == 0)
        assert len(rcv.got) == 10, [json.loads(d["body"])["eventType"] for d in rcv.got]
    finally:
        rcv.close()


FAST_HOOKS = {"transient_delays_ms": [5] * 8, "probation_delays_ms": [5] * 7}


def t_probation():
    """Enduring failures: 1 attempt + 7 probation retries, then
    disabledBySystem; transient ones: 1 + 8 retries before probation."""
    sim = Sim(seed=seed_with(webhook=FAST_HOOKS))
    rcv500, rcv503, rcv410 = Receiver([500]), Receiver([503]), Receiver([410])
    rcv_heal = Receiver([500, 500, 200])
    try:
        s500 = sim.subscribe("workitem.created", rcv500.url)
        s503 = sim.subscribe("workitem.created", rcv503.url)
        s410 = sim.subscribe("workitem.created", rcv410.url)
        heal = sim.subscribe("workitem.created", rcv_heal.url)
        sim.create()
        sim.wait_until("500 disabled",
                       lambda: sim.sub(s500["id"]).get("status") == "disabledBySystem")
        sim.wait_until("503 disabled",
                       lambda: sim.sub(s503["id"]).get("status") == "disabledBySystem")
        sim.wait_until("410 disabled",
                       lambda: sim.sub(s410["id"]).get("status") == "disabledBySystem")
        sim.wait_until("healed", lambda: len(rcv_heal.got) == 3)
        sim.wait_until("idle", lambda: sim.ctl("GET", "webhooks")[1]["pending"] == 0)
        assert len(rcv500.got) == 1 + 7, len(rcv500.got)
        assert len(rcv503.got) == 1 + 8 + 7, len(rcv503.got)
        assert len(rcv410.got) == 1
        s = sim.sub(s500["id"])
        assert s["probationRetries"] == 7 and "lastProbationRetryDate" in s, s
        h = sim.sub(heal["id"])
        assert "status" not in h, h  # back to enabled
        ids = {json.loads(d["body"])["id"] for d in rcv500.got}
        assert len(ids) == 1  # the same notification each time
        # Disabled subscriptions get nothing; PUT with status enabled revives.
        sim.create()
        sim.wait_until("heal 2nd", lambda: len(rcv_heal.got) == 4)
        sim.wait_until("idle", lambda: sim.ctl("GET", "webhooks")[1]["pending"] == 0)
        assert len(rcv500.got) == 8
        put = sim.sub(s500["id"])
        put["status"] = "enabled"
        st, _, r = sim.api("PUT", f"hooks/subscriptions/{s500['id']}?{V}", put, project=False)
        assert st == 200 and "status" not in r, r
        sim.create()
        rcv500.wait(9)
        sim.wait_until("probation",
                       lambda: sim.sub(s500["id"]).get("status") in ("onProbation",
                                                                      "disabledBySystem"))
        sim.stop()
    finally:
        for r in (rcv500, rcv503, rcv410, rcv_heal):
            r.close()
        sim.kill()


def t_probation_loses_new_events():
    """On probation only the failed notification is retried: events that
    happen meanwhile are never sent."""
    sim = Sim(seed=seed_with(webhook={"transient_delays_ms": [5],
                                      "probation_delays_ms": [300000] * 7}))
    rcv = Receiver([500, 200])
    try:
        s = sim.subscribe("workitem.created", rcv.url)
        sim.create(**{"System.Title": "first"})
        sim.wait_until("probation", lambda: sim.sub(s["id"]).get("status") == "onProbation")
        sim.create(**{"System.Title": "lost"})
        # Only the failed notification waits for its probation retry.
        assert sim.ctl("GET", "webhooks")[1]["pending"] == 1
        assert len(rcv.got) == 1
        sim.stop()
    finally:
        rcv.close()
        sim.kill()


def t_default_delays_faithful():
    """Without seed knobs a transient failure is retried after about a second
    and the subscription stays enabled meanwhile."""
    sim = Sim()
    rcv = Receiver([503, 200])
    try:
        s = sim.subscribe("workitem.created", rcv.url)
        sim.create()
        rcv.wait(1)
        assert "status" not in sim.sub(s["id"])
        st, w = sim.ctl("GET", "webhooks")
        assert w["pending"] == 1, w
        rcv.wait(2, timeout=10)
        t0 = rcv.got[0]
        sim.wait_until("idle", lambda: sim.ctl("GET", "webhooks")[1]["pending"] == 0)
        assert t0 and "status" not in sim.sub(s["id"])
        sim.stop()
    finally:
        rcv.close()
        sim.kill()


def t_paused_delivery_is_transient():
    sim = Sim(seed=seed_with(webhook={"transient_delays_ms": [20] * 8,
                                      "probation_delays_ms": [20] * 7}))
    rcv = Receiver()
    try:
        s = sim.subscribe("workitem.created", rcv.url)
        sim.ctl("POST", "webhooks", {"deliver": False})
        sim.create()
        sim.wait_until("probation", lambda: sim.sub(s["id"]).get("status") == "onProbation")
        sim.ctl("POST", "webhooks", {"deliver": True})
        rcv.wait(1)
        sim.wait_until("enabled", lambda: "status" not in sim.sub(s["id"]))
        sim.stop()
    finally:
        rcv.close()
        sim.kill()


def t_throttle():
    sim = Sim(args=["--ado-rate-limit", "5"])
    try:
        for i in range(5):
            st, h, _ = sim.api("GET", f"projects?{V}", project=False)
            assert st == 200, st
            if i < 3:
                assert "x-ratelimit-remaining" not in h, (i, h)
        assert h["x-ratelimit-remaining"] == "0" and h["x-ratelimit-limit"] == "5", h
        st, h, body = sim.api("GET", f"projects?{V}", project=False)
        assert st == 429, st
        assert 0 < int(h["retry-after"]) <= 300, h
        for k in ("x-ratelimit-resource", "x-ratelimit-limit", "x-ratelimit-remaining",
                  "x-ratelimit-reset"):
            assert k in h, (k, h)
        assert int(h["x-ratelimit-reset"]) > time.time()
        check_error(body, "RequestBlockedException")
        assert body["message"].startswith("TF400733")
        # Per PAT: an unknown PAT is still a 401, not a 429.
        st, _, _ = sim.api("GET", f"projects?{V}", project=False, pat="nope")
        assert st == 401
        sim.stop()
    finally:
        sim.kill()


def t_throttle_window_from_seed():
    sim = Sim(seed=seed_with(rate_limit=2, rate_limit_window_s=1))
    try:
        assert sim.api("GET", f"projects?{V}", project=False)[0] == 200
        assert sim.api("GET", f"projects?{V}", project=False)[0] == 200
        st, h, _ = sim.api("GET", f"projects?{V}", project=False)
        assert st == 429 and h["retry-after"] == "1", h
        sim.wait_until("window slides",
                       lambda: sim.api("GET", f"projects?{V}", project=False)[0] == 200)
        sim.stop()
    finally:
        sim.kill()


def t_fault_and_log(sim):
    st, _ = sim.ctl("POST", "faults", {"path": "/_apis/wit/workitems", "status": 429,
                                       "retry_after": 3, "count": 1})
    assert st == 200
    st, h, body = sim.api("GET", f"wit/workitems/1?{V}")
    assert st == 429 and h["retry-after"] == "3", h
    check_error(body, "RequestBlockedException")
    st, log = sim.ctl("GET", "requests")
    assert log[-1]["status"] == 429 and log[-1]["path"].endswith("/_apis/wit/workitems/1")


def t_pats_and_reset():
    seed = seed_with(pats={"sampat": SAM[1]},
                     work_items=[{"type": "Bug", "fields": {"System.Title": "seeded",
                                                            "System.AssignedTo": SAM[1]}}])
    sim = Sim(seed=seed)
    try:
        st, _, info = sim.ctl("GET", "info")[0], None, sim.ctl("GET", "info")[1]
        ado = info["ado"]
        assert ado["base_url"] == sim.base and ado["organization"] == ORG
        assert ado["project"] == PROJECT and ado["pat"] == PAT, ado
        seeded = sim.get(1)
        assert seeded["fields"]["System.Title"] == "seeded"
        wi = sim.create(pat="sampat")
        assert wi["fields"]["System.CreatedBy"]["uniqueName"] == SAM[1]
        q = "SELECT [System.Id] FROM WorkItems WHERE [System.AssignedTo] = @Me"
        st, _, r = sim.wiql(q, pat="sampat")
        assert [w["id"] for w in r["workItems"]] == [1], r
        sim.ctl("POST", "reset")
        st, _, _ = sim.api("GET", f"wit/workitems/{wi['id']}?{V}")
        assert st == 404
        assert sim.get(1)["fields"]["System.Title"] == "seeded"
        assert sim.create()["id"] == 2
        sim.stop()
    finally:
        sim.kill()


def t_bad_seed():
    for bad in ({"pat": ""}, {"pats": {"x": "nobody@example.com"}},
                {"work_items": [{"type": "Epic", "fields": {}}]},
                {"work_items": [{"type": "Task", "fields": {"System.State": "Bogus",
                                                            "System.Title": "x"}}]},
                {"webhook": {"transient_delays_ms": "x"}}):
        d = tempfile.mkdtemp(prefix="acs-sim-ado-")
        path = os.path.join(d, "seed.json")
        with open(path, "w") as f:
            json.dump(seed_with(**bad), f)
        p = subprocess.run(WRAPPER + [SIM, "--ado-port", "0", "--clickup-port", "0", "--seed",
                                      path], capture_output=True, timeout=60 * SLOW)
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        assert b"ado seed" in p.stderr, p.stderr


def t_churn():
    """POST /_sim/churn on ADO: a PATCH of the title as the actor PAT's user,
    with its workitem.updated delivery."""
    sim = Sim(seed=seed_with(pats={"sampat": SAM[1]}))
    rcv = Receiver()
    try:
        sim.subscribe("workitem.updated", rcv.url)
        wid = sim.create()["id"]
        st, e = sim.ctl("POST", "churn", {"ids": [wid], "edits": 2, "prefix": "t",
                                          "actor": "sampat"})
        assert st == 200, e
        deadline = time.time() + 15
        while sim.ctl("GET", "churn")[1]["running"] and time.time() < deadline:
            time.sleep(0.01)
        g = sim.ctl("GET", "churn")[1]
        assert g["done"] == 2 and g["failed"] == 0 and len(g["t_us"]) == 2, g
        wi = sim.get(wid)
        assert wi["rev"] == 3 and wi["fields"]["System.Title"] == "t 1", wi
        assert wi["fields"]["System.ChangedBy"]["uniqueName"] == SAM[1]
        ev = [json.loads(d["body"]) for d in rcv.wait(2)]
        assert [x["resource"]["fields"]["System.Title"]["newValue"] for x in ev] == ["t 0", "t 1"]
        sim.stop()
    finally:
        rcv.close()
        sim.kill()


WITH_SIM = [t_auth, t_api_version, t_roundtrip, t_patch_errors, t_batch, t_wiql,
            t_types_states, t_comments, t_attachments, t_delete_restore, t_subscriptions_crud,
            t_deliveries, t_fault_and_log]
STANDALONE = [t_probation, t_probation_loses_new_events, t_default_delays_faithful,
              t_paused_delivery_is_transient, t_throttle, t_throttle_window_from_seed,
              t_pats_and_reset, t_bad_seed, t_churn]


def main():
    only = set(sys.argv[3:])
    failed = 0
    for t in WITH_SIM + STANDALONE:
        if only and t.__name__ not in only:
            continue
        sim = None
        try:
            if t in WITH_SIM:
                sim = Sim()
                t(sim)
                sim.stop()
            else:
                t()
            print(f"ok {t.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}")
            traceback.print_exc()
            if sim is not None:
                print(sim.stderr())
        finally:
            if sim is not None:
                sim.kill()
        sys.stdout.flush()
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
