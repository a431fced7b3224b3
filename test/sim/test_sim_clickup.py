# SPDX-License-Identifier: MIT
"""End-to-end tests of ado-clickup-sim's ClickUp half and of the simulator
core (/_sim/ control API), driving the real binary over loopback.

usage: test_sim_clickup.py SIM_BINARY FIXTURES_DIR [TEST_NAME...]
Each test starts its own simulator on free ports. ACS_E2E_WRAPPER (e.g.
"valgrind --error-exitcode=1 ...") wraps the binary; its exit code on SIGTERM
must be 0. Stdlib only."""
import hashlib
import hmac
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SIM = sys.argv[1] if len(sys.argv) > 1 else "build/test/sim/ado-clickup-sim"
FIX = sys.argv[2] if len(sys.argv) > 2 else "test/fixtures/clickup"
WRAPPER = os.environ.get("ACS_E2E_WRAPPER", "").split()
SLOW = 8 if WRAPPER else 1
TOKEN = "pk_54098740_SIMULATEDTOKEN0123456789ABCDEFGHIJ"
TEAM = "36226098"
SPACE = "90110993233"
FOLDER = "90114567890"
LIST = "901110236848"
CF_NUMBER = "0f4b1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d"
CF_DROPDOWN = "5a6b7c8d-9e0f-4a1b-2c3d-4e5f6a7b8c9d"
OPT_CONFLICT = "b2c3d4e5-f6a7-4890-9bcd-ef0123456789"
AVERY, SAM, RILEY = 54098740, 54098741, 54098742


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return json.load(f)


class Sim:
    """One ado-clickup-sim process. seed_patch: dict merged into the
    built-in seed's "clickup" part (written to a temp --seed file)."""

    def __init__(self, args=None, seed=None):
        self.dir = tempfile.mkdtemp(prefix="acs-sim-")
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
        self.ado_port = int(parts["ado"])
        self.port = int(parts["clickup"])

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

    def raw(self, method, path, body=None, headers=None, port=None):
        c = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=30 * SLOW)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def api(self, method, path, body=None, token=TOKEN, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        status, hdrs, raw = self.raw(method, "/api/v2" + path, data, h)
        return status, hdrs, (json.loads(raw) if raw else None)

    def ctl(self, method, path, body=None, port=None):
        data = json.dumps(body).encode() if body is not None else None
        status, _, raw = self.raw(method, "/_sim/" + path, data,
                                  {"Content-Type": "application/json"}, port=port)
        if path == "requests":
            return status, [json.loads(l) for l in raw.decode().splitlines() if l]
        return status, json.loads(raw)

    def create_task(self, **body):
        body.setdefault("name", "A task")
        st, _, t = self.api("POST", f"/list/{LIST}/task", body)
        assert st == 200, (st, t)
        return t

    def webhook_health(self, wid):
        st, _, r = self.api("GET", f"/team/{TEAM}/webhook")
        assert st == 200
        for w in r["webhooks"]:
            if w["id"] == wid:
                return w["health"]
        return None

    def wait_until(self, what, cond, timeout=15):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.01)
        raise AssertionError("timed out waiting for " + what)

    def wait_idle(self):
        """Until no webhook delivery is queued or in flight."""
        self.wait_until("deliveries to finish",
                        lambda: self.ctl("GET", "webhooks")[1]["pending"] == 0)


class Receiver:
    """Webhook receiver on 127.0.0.1:0 answering `status` to every POST."""

    def __init__(self, status=200):
        self.status = status
        self.got = []
        self.cond = threading.Condition()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.cond:
                    outer.got.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body})
                    outer.cond.notify_all()
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/hooks/clickup"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=15):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.got) >= n, timeout * SLOW)
        assert ok, f"expected {n} deliveries, got {len(self.got)}"
        return self.got[:n]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def same_shape(ours, ref, path="$"):
    """Same keys and JSON value types, recursively (lists: element-wise on
    the common prefix)."""
    def kind(v):
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, (int, float)):
            return "int" if isinstance(v, int) else "float"
        return type(v).__name__

    assert kind(ours) == kind(ref), f"{path}: {kind(ours)} {ours!r} vs {kind(ref)} {ref!r}"
    if isinstance(ref, dict):
        assert set(ours) == set(ref), \
            f"{path}: keys differ: extra {set(ours) - set(ref)}, missing {set(ref) - set(ours)}"
        for k in ref:
            same_shape(ours[k], ref[k], f"{path}.{k}")
    elif isinstance(ref, list):
        for i in range(min(len(ours), len(ref))):
            same_shape(ours[i], ref[i], f"{path}[{i}]")


def verify_sig(delivery, secret):
    want = hmac.new(secret.encode(), delivery["body"], hashlib.sha256).hexdigest()
    got = delivery["headers"].get("X-Signature")
    assert got == want, f"bad X-Signature {got} (want {want})"
    assert delivery["headers"].get("Content-Type") == "application/json"
    return json.loads(delivery["body"])


def seed_with(**clickup):
    """The built-in seed (from the fixture-independent defaults) with
    clickup keys replaced; webhook settings merge."""
    seed = json.loads(subprocess.run([SIM, "--print-seed"], capture_output=True,
                                     check=True).stdout)
    wh = clickup.pop("webhook", None)
    seed["clickup"].update(clickup)
    if wh:
        seed["clickup"]["webhook"].update(wh)
    return seed


def multipart(field, filename, ctype, data, boundary="----simtestBOUNDARYx7"):
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- tests -------------------------------------------------------------------

def t_signature_vectors():
    vec = fixture("clickup-webhook-signature-vectors.json")["vectors"]
    for v in vec:
        out = subprocess.run(WRAPPER + [SIM, "--sign", v["secret"]],
                             input=v["raw_body"].encode(), capture_output=True, check=True)
        assert out.stdout.decode().strip() == v["x_signature"], out.stdout
        # The test's own verifier agrees with the vectors too.
        assert hmac.new(v["secret"].encode(), v["raw_body"].encode(),
                        hashlib.sha256).hexdigest() == v["x_signature"]


def t_auth(sim):
    st, h, b = sim.api("GET", "/team", token=None)
    assert st == 401 and b == {"err": "Authorization header required", "ECODE": "OAUTH_017"}, b
    st, h, b = sim.api("GET", "/team", token="pk_0_wrong")
    assert st == 401 and b == {"err": "Token invalid", "ECODE": "OAUTH_025"}, b
    st, h, b = sim.api("GET", "/team", token="Bearer " + TOKEN)
    assert st == 401 and b["ECODE"] == "OAUTH_025", b
    st, h, b = sim.api("GET", "/team/999/space")
    assert st == 401 and b == {"err": "Team not authorized", "ECODE": "OAUTH_027"}, b
    st, h, b = sim.api("GET", "/team")
    assert st == 200 and b["teams"][0]["id"] == TEAM
    emails = {m["user"]["email"] for m in b["teams"][0]["members"]}
    assert "sam.ortiz@example.com" in emails
    assert all(isinstance(m["user"]["id"], int) for m in b["teams"][0]["members"])


def t_hierarchy(sim):
    st, _, b = sim.api("GET", f"/team/{TEAM}/space")
    assert st == 200 and b["spaces"][0]["id"] == SPACE
    st, _, b = sim.api("GET", f"/space/{SPACE}/folder")
    assert st == 200 and b["folders"][0]["id"] == FOLDER
    assert b["folders"][0]["lists"][0]["id"] == LIST
    st, _, b = sim.api("GET", f"/space/{SPACE}/list")
    assert st == 200 and b["lists"] == []  # the seeded list lives in a folder
    st, _, b = sim.api("GET", f"/folder/{FOLDER}/list")
    assert st == 200 and [l["id"] for l in b["lists"]] == [LIST]
    st, _, b = sim.api("GET", f"/list/{LIST}")
    assert st == 200 and [s["status"] for s in b["statuses"]] == \
        ["to do", "in progress", "review", "complete"]
    assert isinstance(b["task_count"], int)
    st, _, b = sim.api("GET", f"/list/{LIST}/member")
    assert st == 200 and len(b["members"]) == 3
    st, _, b = sim.api("GET", f"/list/{LIST}/field")
    assert st == 200 and b["fields"][0]["id"] == CF_NUMBER
    st, _, b = sim.api("GET", f"/space/{SPACE}/tag")
    assert st == 200 and b["tags"][0]["name"] == "sync"
    st, _, b = sim.api("GET", "/list/1234")
    assert st == 404 and "ECODE" in b and "err" in b


def t_task_roundtrip(sim):
    req = fixture("clickup-create-task-request.json")
    st, _, t = sim.api("POST", f"/list/{LIST}/task", req)
    assert st == 200, t
    tid = t["id"]
    assert isinstance(tid, str)
    assert t["priority"] == {"color": "#6fddff", "id": "3", "orderindex": "3",
                             "priority": "normal"}
    assert isinstance(t["date_created"], str) and t["date_created"].isdigit()
    assert int(t["date_created"]) > 1600000000000  # milliseconds
    assert t["due_date"] == "1769004000000"
    assert [a["id"] for a in t["assignees"]] == [AVERY]
    assert [g["name"] for g in t["tags"]] == ["sync"]
    assert t["status"]["status"] == "to do"
    assert "markdown_description" not in t
    st, _, g = sim.api("GET", f"/task/{tid}?include_markdown_description=true")
    assert st == 200
    assert g["markdown_description"] == req["markdown_content"]
    assert g["description"] == "Comments posted in ClickUp must appear in Azure DevOps " \
                               "and vice versa."
    assert g["text_content"] == g["description"]
    st, _, g2 = sim.api("GET", f"/task/{tid}")
    assert "markdown_description" not in g2
    cf = {f["id"]: f for f in g["custom_fields"]}
    assert cf[CF_NUMBER]["value"] == "1042"
    assert "value" not in cf[CF_DROPDOWN]

    # Update: priority integer in, object out; assignees {add, rem}.
    upd = fixture("clickup-update-task-request.json")
    st, _, u = sim.api("PUT", f"/task/{tid}", upd)
    assert st == 200, u
    assert u["priority"]["priority"] == "high" and u["priority"]["id"] == "2"
    assert u["status"]["status"] == "in progress" and u["status"]["type"] == "custom"
    assert sorted(a["id"] for a in u["assignees"]) == [AVERY, SAM]
    assert int(u["date_updated"]) > int(t["date_updated"])
    st, _, u = sim.api("PUT", f"/task/{tid}", {"assignees": {"add": [], "rem": [AVERY]}})
    assert st == 200 and [a["id"] for a in u["assignees"]] == [SAM]
    # The create shape on update is refused.
    st, _, e = sim.api("PUT", f"/task/{tid}", {"assignees": [RILEY]})
    assert st == 400 and set(e) == {"err", "ECODE"}, e
    # Priority as a string or out of range is refused; null clears it.
    for bad in ("2", 5, 0, {"priority": "high"}):
        st, _, e = sim.api("PUT", f"/task/{tid}", {"priority": bad})
        assert st == 400 and "ECODE" in e, (bad, e)
    st, _, u = sim.api("PUT", f"/task/{tid}", {"priority": None})
    assert st == 200 and u["priority"] is None
    # Tags and custom fields cannot be changed through PUT: silently ignored.
    st, _, u = sim.api("PUT", f"/task/{tid}", {"tags": ["other"], "custom_fields": [
        {"id": CF_NUMBER, "value": 7}]})
    assert st == 200 and [g["name"] for g in u["tags"]] == ["sync"]
    assert {f["id"]: f for f in u["custom_fields"]}[CF_NUMBER]["value"] == "1042"
    # description " " clears; markdown_description on write is not accepted.
    st, _, u = sim.api("PUT", f"/task/{tid}", {"description": " "})
    assert st == 200 and u["description"] == ""
    st, _, u = sim.api("PUT", f"/task/{tid}", {"markdown_description": "**x**"})
    st, _, g = sim.api("GET", f"/task/{tid}?include_markdown_description=true")
    assert g["markdown_description"] == ""
    # Closed status sets date_closed/date_done.
    st, _, u = sim.api("PUT", f"/task/{tid}", {"status": "complete"})
    assert st == 200 and u["date_closed"] and u["date_done"] and u["status"]["type"] == "closed"
    # Delete.
    st, h, body = sim.raw("DELETE", f"/api/v2/task/{tid}", headers={"Authorization": TOKEN})
    assert st == 204 and body == b""
    st, _, e = sim.api("GET", f"/task/{tid}")
    assert st == 404 and e == {"err": "Task not found", "ECODE": "ITEM_013"}, e


def t_validation(sim):
    st, _, e = sim.api("POST", f"/list/{LIST}/task", {"name": "x", "status": "doing"})
    assert st == 400 and set(e) == {"err", "ECODE"}, e
    t = sim.create_task(name="ok", status="Review")  # names match case-insensitively
    assert t["status"]["status"] == "review"
    st, _, e = sim.api("PUT", f"/task/{t['id']}", {"status": "nope"})
    assert st == 400 and set(e) == {"err", "ECODE"}
    st, _, e = sim.api("POST", f"/list/{LIST}/task", {"description": "no name"})
    assert st == 400
    st, _, e = sim.api("POST", f"/list/{LIST}/task", {"name": "x", "assignees": {"add": [1]}})
    assert st == 400
    st, _, e = sim.api("POST", f"/list/{LIST}/task", {"name": "x", "due_date": "1769004000000"})
    assert st == 400
    st, _, e = sim.api("POST", f"/list/{LIST}/task", {"name": "x", "priority": 9})
    assert st == 400
    st, _, e = sim.api("POST", "/list/42/task", {"name": "x"})
    assert st == 404
    st, _, e = sim.api("GET", f"/task/{t['id']}?custom_task_ids=true")
    assert st == 400


def t_paging(sim):
    ids = [sim.create_task(name=f"t{i}")["id"] for i in range(205)]
    closed = sim.create_task(name="closed", status="complete")["id"]
    seen = []
    page = 0
    while True:
        st, _, r = sim.api("GET", f"/list/{LIST}/task?page={page}")
        assert st == 200
        assert len(r["tasks"]) <= 100
        seen += [t["id"] for t in r["tasks"]]
        if r["last_page"]:
            break
        page += 1
    assert page == 2 and len(seen) == 205 and set(seen) == set(ids)
    assert seen == list(reversed(ids))  # newest first by default
    st, _, r = sim.api("GET", f"/list/{LIST}/task?page=0&reverse=true")
    assert [t["id"] for t in r["tasks"]] == ids[:100]
    st, _, r = sim.api("GET", f"/list/{LIST}/task?page=0&include_closed=true")
    assert r["tasks"][0]["id"] == closed and r["last_page"] is False
    st, _, r = sim.api("GET", f"/list/{LIST}/task?page=2&include_closed=true")
    assert len(r["tasks"]) == 6 and r["last_page"] is True
    # date_updated_gt: only tasks changed after the mark.
    st, _, t = sim.api("GET", f"/task/{closed}")
    mark = t["date_updated"]
    sim.api("PUT", f"/task/{ids[3]}", {"name": "changed"})
    sim.api("PUT", f"/task/{ids[7]}", {"status": "review"})
    st, _, r = sim.api("GET", f"/list/{LIST}/task?date_updated_gt={mark}&order_by=updated"
                              f"&include_closed=true&subtasks=true")
    assert [t["id"] for t in r["tasks"]] == [ids[7], ids[3]] and r["last_page"] is True
    st, _, r = sim.api("GET", f"/list/{LIST}/task?statuses%5B%5D=review")
    assert [t["id"] for t in r["tasks"]] == [ids[7]]
    st, _, r = sim.api("GET", f"/list/{LIST}/task?include_markdown_description=true")
    assert "markdown_description" in r["tasks"][0]


t_paging.sim_args = ["--clickup-rate-limit", "1000"]  # 200+ requests in a minute


def t_comments(sim):
    t = sim.create_task(name="c")
    tid = t["id"]
    st, _, r = sim.api("POST", f"/task/{tid}/comment", {"comment_text": "x"})
    assert st == 400  # notify_all is required (SPEC)
    made = []
    for i in range(30):
        st, _, r = sim.api("POST", f"/task/{tid}/comment",
                           {"comment_text": f"comment {i}", "notify_all": False})
        assert st == 200 and isinstance(r["id"], int), r  # real API: a number
        assert isinstance(r["hist_id"], str) and isinstance(r["date"], int)
        made.append(str(r["id"]))
    st, _, p1 = sim.api("GET", f"/task/{tid}/comment")
    assert st == 200 and len(p1["comments"]) == 25
    assert [c["id"] for c in p1["comments"]] == list(reversed(made))[:25]
    first = p1["comments"][0]
    assert first["comment_text"] == "comment 29\n" and isinstance(first["date"], str)
    assert first["comment"][0] == {"text": "comment 29", "attributes": {}}
    last = p1["comments"][-1]
    st, _, p2 = sim.api("GET", f"/task/{tid}/comment?start={last['date']}&start_id={last['id']}")
    assert [c["id"] for c in p2["comments"]] == list(reversed(made))[25:]
    cid = made[0]
    st, _, r = sim.api("PUT", f"/comment/{cid}", {"comment_text": "edited", "assignee": SAM,
                                                   "resolved": True})
    assert st == 200 and r == {}
    st, _, p = sim.api("GET", f"/task/{tid}/comment?start={p1['comments'][-1]['date']}"
                              f"&start_id={p1['comments'][-1]['id']}")
    c0 = [c for c in p["comments"] if c["id"] == cid][0]
    assert c0["comment_text"] == "edited\n" and c0["resolved"] is True
    assert c0["assignee"]["id"] == SAM
    st, _, r = sim.api("DELETE", f"/comment/{cid}")
    assert st == 200 and r == {}
    st, _, r = sim.api("DELETE", f"/comment/{cid}")
    assert st == 404


def t_attachments(sim):
    t = sim.create_task(name="a")
    data = bytes(range(256)) * 300 + b"\r\n--not-a-boundary\r\n\x00end"
    body, ctype = multipart("attachment", "sync log.bin", "application/octet-stream", data)
    st, _, raw = sim.raw("POST", f"/api/v2/task/{t['id']}/attachment", body,
                         {"Authorization": TOKEN, "Content-Type": ctype})
    r = json.loads(raw)
    assert st == 200, r
    assert r["title"] == "sync log.bin" and r["extension"] == "bin" and r["version"] == "0"
    assert r["id"].endswith(".bin") and isinstance(r["date"], int)
    url = r["url"]
    assert url.startswith(f"http://127.0.0.1:{sim.port}/")
    st, h, got = sim.raw("GET", url.split(str(sim.port), 1)[1])
    assert st == 200 and got == data and h["content-type"] == "application/octet-stream"
    # attachment[0] is accepted too; the task lists both.
    body, ctype = multipart("attachment[0]", "notes.txt", "text/plain", b"hello")
    st, _, raw = sim.raw("POST", f"/api/v2/task/{t['id']}/attachment", body,
                         {"Authorization": TOKEN, "Content-Type": ctype})
    assert st == 200
    st, _, g = sim.api("GET", f"/task/{t['id']}")
    assert [a["title"] for a in g["attachments"]] == ["sync log.bin", "notes.txt"]
    assert g["attachments"][0]["size"] == len(data)
    body, ctype = multipart("file", "x.txt", "text/plain", b"x")
    st, _, raw = sim.raw("POST", f"/api/v2/task/{t['id']}/attachment", body,
                         {"Authorization": TOKEN, "Content-Type": ctype})
    assert st == 400
    st, _, raw = sim.raw("POST", f"/api/v2/task/{t['id']}/attachment", b"{}",
                         {"Authorization": TOKEN, "Content-Type": "application/json"})
    assert st == 400


def t_tags_fields(sim):
    t = sim.create_task(name="tf")
    tid = t["id"]
    st, _, r = sim.api("POST", f"/task/{tid}/tag/needs%20review")
    assert st == 200 and r == {}
    st, _, r = sim.api("POST", f"/task/{tid}/tag/sync")
    st, _, g = sim.api("GET", f"/task/{tid}")
    assert [x["name"] for x in g["tags"]] == ["needs review", "sync"]
    assert g["tags"][1]["tag_fg"] == "#FF4081" and isinstance(g["tags"][1]["creator"], int)
    st, _, r = sim.api("DELETE", f"/task/{tid}/tag/needs%20review")
    assert st == 200 and r == {}
    st, _, g = sim.api("GET", f"/task/{tid}")
    assert [x["name"] for x in g["tags"]] == ["sync"]
    st, _, r = sim.api("POST", f"/task/{tid}/field/{CF_NUMBER}", {"value": 1042})
    assert st == 200 and r == {}
    st, _, r = sim.api("POST", f"/task/{tid}/field/{CF_DROPDOWN}", {"value": OPT_CONFLICT})
    assert st == 200
    st, _, g = sim.api("GET", f"/task/{tid}")
    cf = {f["id"]: f for f in g["custom_fields"]}
    assert cf[CF_NUMBER]["value"] == "1042"  # number fields read back as strings
    assert cf[CF_DROPDOWN]["value"] == 1     # drop-downs as the option orderindex
    st, _, e = sim.api("POST", f"/task/{tid}/field/{CF_DROPDOWN}", {"value": "nope"})
    assert st == 400 and set(e) == {"err", "ECODE"}
    st, _, e = sim.api("POST", f"/task/{tid}/field/00000000-0000-4000-8000-000000000000",
                       {"value": 1})
    assert st == 400
    st, _, r = sim.api("DELETE", f"/task/{tid}/field/{CF_NUMBER}")
    assert st == 200
    st, _, g = sim.api("GET", f"/task/{tid}")
    assert "value" not in {f["id"]: f for f in g["custom_fields"]}[CF_NUMBER]


def t_webhooks_crud(sim):
    st, _, r = sim.api("POST", f"/team/{TEAM}/webhook",
                       {"endpoint": "http://127.0.0.1:9/x", "events": ["taskCreated"],
                        "list_id": int(LIST)})
    assert st == 200, r
    wid = r["id"]
    wh = r["webhook"]
    assert wh["id"] == wid and len(wh["secret"]) == 64 and wh["list_id"] == LIST
    assert wh["health"] == {"status": "active", "fail_count": 0}
    assert isinstance(wh["team_id"], int) and wh["userid"] == AVERY
    st, _, e = sim.api("POST", f"/team/{TEAM}/webhook",
                       {"endpoint": "http://127.0.0.1:9/x", "events": ["taskCreated"],
                        "list_id": LIST})
    assert st == 400 and e["ECODE"] == "OAUTH_171", e
    st, _, e = sim.api("POST", f"/team/{TEAM}/webhook",
                       {"endpoint": "http://127.0.0.1:9/y", "events": ["taskAttachmentUpdated"]})
    assert st == 400
    st, _, e = sim.api("POST", f"/team/{TEAM}/webhook", {"events": ["*"]})
    assert st == 400
    st, _, r = sim.api("GET", f"/team/{TEAM}/webhook")
    assert [w["id"] for w in r["webhooks"]] == [wid] and r["webhooks"][0]["secret"] == wh["secret"]
    st, _, e = sim.api("PUT", f"/webhook/{wid}", {"status": "active"})
    assert st == 400  # endpoint, events and status are all required
    st, _, r = sim.api("PUT", f"/webhook/{wid}", {"endpoint": "http://127.0.0.1:9/z",
                                                  "events": "*", "status": "active"})
    assert st == 200 and r["webhook"]["endpoint"] == "http://127.0.0.1:9/z"
    assert r["webhook"]["events"] == ["*"] and r["webhook"]["secret"] == wh["secret"]
    st, _, r = sim.api("DELETE", f"/webhook/{wid}")
    assert st == 200 and r == {}
    st, _, r = sim.api("GET", f"/team/{TEAM}/webhook")
    assert r["webhooks"] == []
    st, _, r = sim.api("DELETE", f"/webhook/{wid}")
    assert st == 404


def t_webhook_deliveries(sim):
    rx = Receiver()
    try:
        st, _, r = sim.api("POST", f"/team/{TEAM}/webhook", {"endpoint": rx.url, "events": ["*"]})
        wid, secret = r["id"], r["webhook"]["secret"]
        # Create: taskCreated (status + task_creation) and taskStatusUpdated, one history id.
        t = sim.create_task(name="Sync ADO comments")
        d = [verify_sig(x, secret) for x in rx.wait(2)]
        assert [x["event"] for x in d] == ["taskCreated", "taskStatusUpdated"]
        assert all(x["task_id"] == t["id"] and x["webhook_id"] == wid for x in d)
        assert [h["field"] for h in d[0]["history_items"]] == ["status", "task_creation"]
        assert d[1]["history_items"][0]["id"] == d[0]["history_items"][0]["id"]
        same_shape(d[0], fixture("clickup-webhook-taskCreated.json"))
        assert rx.got[0]["path"] == "/hooks/clickup"

        # One PUT: the specific events, then one taskUpdated carrying every item.
        st, _, u = sim.api("PUT", f"/task/{t['id']}", {
            "name": "Sync ADO comments both ways", "status": "in progress", "priority": 2,
            "assignees": {"add": [SAM], "rem": []}})
        assert st == 200
        d = [verify_sig(x, secret) for x in rx.wait(6)[2:]]
        assert [x["event"] for x in d] == ["taskStatusUpdated", "taskPriorityUpdated",
                                           "taskAssigneeUpdated", "taskUpdated"]
        items = d[3]["history_items"]
        assert [h["field"] for h in items] == ["name", "status", "priority", "assignee_add"]
        assert [x["history_items"][0]["id"] for x in d[:3]] == [h["id"] for h in items[1:]]
        same_shape({**d[3], "history_items": [items[0]]},
                   fixture("clickup-webhook-taskUpdated-name.json"))
        same_shape({**d[3], "history_items": [items[1]]},
                   fixture("clickup-webhook-taskUpdated-status.json"))
        same_shape(d[1], fixture("clickup-webhook-taskPriorityUpdated.json"))
        same_shape(d[2], fixture("clickup-webhook-taskAssigneeUpdated.json"))
        assert "before" not in d[2]["history_items"][0]
        assert d[1]["history_items"][0]["before"] is None
        assert d[1]["history_items"][0]["after"]["priority"] == "high"

        # Comment: taskCommentPosted + taskUpdated.
        st, _, c = sim.api("POST", f"/task/{t['id']}/comment",
                           {"comment_text": "Mirrored from Azure DevOps #1042",
                            "notify_all": False})
        d = [verify_sig(x, secret) for x in rx.wait(8)[6:]]
        assert [x["event"] for x in d] == ["taskCommentPosted", "taskUpdated"]
        assert d[0]["history_items"][0]["after"] == str(c["id"])
        assert d[0]["history_items"][0]["id"] == c["hist_id"] == d[1]["history_items"][0]["id"]
        same_shape(d[0], fixture("clickup-webhook-taskCommentPosted.json"))

        # Attachment on the task: no webhook. The next change's deliveries
        # come first (per-webhook order is kept), which proves it.
        body, ctype = multipart("attachment", "a.txt", "text/plain", b"abc")
        st, _, raw = sim.raw("POST", f"/api/v2/task/{t['id']}/attachment", body,
                             {"Authorization": TOKEN, "Content-Type": ctype})
        assert st == 200
        sim.api("POST", f"/task/{t['id']}/tag/sync")
        d = [verify_sig(x, secret) for x in rx.wait(10)[8:]]
        assert [x["event"] for x in d] == ["taskTagUpdated", "taskUpdated"]
        assert d[0]["history_items"][0]["after"][0]["name"] == "sync"

        # Delete: taskDeleted has no history_items.
        sim.raw("DELETE", f"/api/v2/task/{t['id']}", headers={"Authorization": TOKEN})
        d = verify_sig(rx.wait(11)[10], secret)
        assert d == {"event": "taskDeleted", "task_id": t["id"], "webhook_id": wid}
        # Filters: a webhook on another list and one on other events get nothing.
        assert sim.webhook_health(wid) == {"status": "active", "fail_count": 0}
    finally:
        rx.close()


def t_webhook_filters(sim):
    rx = Receiver()
    try:
        st, _, a = sim.api("POST", f"/team/{TEAM}/webhook",
                           {"endpoint": rx.url + "?a", "events": ["taskCommentPosted"]})
        st, _, b = sim.api("POST", f"/team/{TEAM}/webhook",
                           {"endpoint": rx.url + "?b", "events": ["taskCreated"],
                            "list_id": "1"})
        st, _, c = sim.api("POST", f"/team/{TEAM}/webhook",
                           {"endpoint": rx.url + "?c", "events": ["taskCreated"],
                            "space_id": int(SPACE)})
        t = sim.create_task(name="f")
        sim.api("POST", f"/task/{t['id']}/comment", {"comment_text": "hi", "notify_all": True})
        rx.wait(2)
        sim.wait_idle()
        got = sorted((g["path"][-1], json.loads(g["body"])["event"]) for g in rx.got)
        assert got == [("a", "taskCommentPosted"), ("c", "taskCreated")], got
    finally:
        rx.close()


def t_webhook_failing_suspended():
    seed = seed_with(webhook={"max_attempts": 2, "suspend_after": 2, "retry_delay_ms": 1})
    sim = Sim(seed=seed)
    rx = Receiver(status=500)
    try:
        st, _, r = sim.api("POST", f"/team/{TEAM}/webhook",
                           {"endpoint": rx.url, "events": ["taskCreated"]})
        wid = r["id"]
        sim.create_task(name="one")
        rx.wait(2)
        sim.wait_idle()
        assert sim.webhook_health(wid) == {"status": "failing", "fail_count": 1}
        assert len(rx.got) == 2  # max_attempts, then the event is dropped
        sim.create_task(name="two")
        rx.wait(4)
        sim.wait_idle()
        assert sim.webhook_health(wid) == {"status": "suspended", "fail_count": 2}
        sim.create_task(name="three")  # suspended: nothing is sent
        sim.wait_idle()
        # Reactivate with PUT; a success resets fail_count.
        rx.status = 200
        st, _, r = sim.api("PUT", f"/webhook/{wid}", {"endpoint": rx.url,
                                                      "events": ["taskCreated"],
                                                      "status": "active"})
        assert r["webhook"]["health"] == {"status": "active", "fail_count": 0}
        t = sim.create_task(name="four")
        d = rx.wait(5)[4]
        assert json.loads(d["body"])["task_id"] == t["id"]
        assert len(rx.got) == 5
        # 410 (or 401) suspends at once.
        rx.status = 410
        sim.create_task(name="five")
        rx.wait(6)
        sim.wait_idle()
        assert sim.webhook_health(wid)["status"] == "suspended" and len(rx.got) == 6
        sim.stop()
    finally:
        rx.close()
        sim.kill()


def t_webhook_concurrency():
    # webhook.concurrency = 3: three deliveries of one webhook in flight at once,
    # the fourth waits for a slot; each keeps its own retries (the first attempt
    # of task "two" fails and is retried while the others are delivered).
    seed = seed_with(webhook={"concurrency": 3, "retry_delay_ms": 1})
    sim = Sim(seed=seed)
    gate = threading.Event()
    state = {"inflight": 0, "max": 0, "failed_two": False}
    lock = threading.Lock()
    got = []
    ids = []
    cond = threading.Condition()

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                state["inflight"] += 1
                state["max"] = max(state["max"], state["inflight"])
            with cond:
                got.append(body)
                cond.notify_all()
            gate.wait(30)  # set once ids are known
            status = 200
            with lock:
                if json.loads(body)["task_id"] == ids[1] and not state["failed_two"]:
                    state["failed_two"] = True
                    status = 500
                state["inflight"] -= 1
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/hooks/clickup"
    try:
        st, _, r = sim.api("POST", f"/team/{TEAM}/webhook",
                           {"endpoint": url, "events": ["taskCreated"]})
        for n in ("one", "two", "three", "four", "five", "six"):
            ids.append(sim.create_task(name=n)["id"])
        with cond:
            assert cond.wait_for(lambda: len(got) >= 3, 15 * SLOW), len(got)
        assert state["max"] >= 3  # three held at once
        gate.set()
        with cond:
            assert cond.wait_for(lambda: len(got) >= 7, 15 * SLOW), len(got)
        sim.wait_idle()
        assert state["max"] == 3, state
        assert state["failed_two"]
        tasks = [json.loads(b)["task_id"] for b in got]
        assert sorted(set(tasks)) == sorted(ids) and len(tasks) == 7, tasks
        assert sum(1 for t in tasks if t == ids[1]) == 2  # "two" retried once
        sim.stop()
    finally:
        gate.set()
        srv.shutdown()
        srv.server_close()
        sim.kill()


def t_default_webhook_rules_faithful(sim):
    # The defaults follow clickup.md §7: 5 attempts, suspension at 100, 7 s.
    seed = json.loads(subprocess.run([SIM, "--print-seed"], capture_output=True,
                                     check=True).stdout)
    assert seed["clickup"]["webhook"] == {"max_attempts": 5, "suspend_after": 100,
                                          "retry_delay_ms": 1000, "timeout_ms": 7000}
    assert seed["clickup"]["rate_limit"] == 100


def t_rate_limit():
    sim = Sim(args=["--clickup-rate-limit", "10"])
    try:
        for i in range(10):
            st, h, _ = sim.api("GET", "/team")
            assert st == 200
            assert h["x-ratelimit-limit"] == "10"
            assert h["x-ratelimit-remaining"] == str(9 - i)
            reset = int(h["x-ratelimit-reset"])
            assert time.time() - 5 < reset <= time.time() + 61  # Unix seconds
        st, h, b = sim.api("GET", f"/list/{LIST}")
        assert st == 429 and b == fixture("clickup-error-429.json"), b
        assert h["x-ratelimit-remaining"] == "0" and h["x-ratelimit-limit"] == "10"
        assert "x-ratelimit-reset" in h
        # Unauthenticated requests do not use the token's budget.
        st, _, _ = sim.api("GET", "/team", token=None)
        assert st == 401
        log = sim.ctl("GET", "requests")[1]
        assert [e["status"] for e in log] == [200] * 10 + [429, 401]
        sim.stop()
    finally:
        sim.kill()


def t_requests_log(sim):
    sim.api("GET", "/team")
    sim.api("GET", f"/list/{LIST}/task?page=0&include_closed=true")
    sim.api("GET", "/task/nope")
    sim.ctl("GET", "info")
    sim.raw("GET", "/nowhere")
    st, log = sim.ctl("GET", "requests")
    assert st == 200
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in log] == [
        ("GET", "/api/v2/team", "", 200),
        ("GET", f"/api/v2/list/{LIST}/task", "page=0&include_closed=true", 200),
        ("GET", "/api/v2/task/nope", "", 404),
        ("GET", "/nowhere", "", 404),
    ], log
    assert all(set(e) == {"time_ms", "time_us", "method", "path", "query", "status"}
               for e in log)
    assert all(isinstance(e["time_ms"], int) for e in log)
    assert [e["time_ms"] for e in log] == sorted(e["time_ms"] for e in log)
    # Requests that change nothing do not move the clock: 400 of them, a handful per
    # millisecond, leave the log's time_ms at the wall clock (a millisecond per call
    # put it seconds ahead under load, and X-RateLimit-Reset with it).
    for _ in range(400):
        sim.api("GET", "/team")
    st, log = sim.ctl("GET", "requests")
    ahead = log[-1]["time_ms"] - time.time() * 1000
    assert ahead <= 20, ahead
    # The ADO port keeps its own log (this request carries no PAT: 401).
    sim.raw("GET", "/contoso/Platform/_apis/wit/workitems/1", port=sim.ado_port)
    st, alog = sim.ctl("GET", "requests", port=sim.ado_port)
    assert [(e["path"], e["status"]) for e in alog] == \
        [("/contoso/Platform/_apis/wit/workitems/1", 401)]


def t_faults(sim):
    t = sim.create_task(name="f")
    path = f"/task/{t['id']}"
    st, r = sim.ctl("POST", "faults", {"path": "/task/", "method": "GET", "status": 503,
                                       "count": 2, "retry_after": 7})
    assert st == 200 and len(r["faults"]) == 1
    st, h, b = sim.api("PUT", path, {"name": "g"})  # method does not match
    assert st == 200
    for _ in range(2):
        st, h, b = sim.api("GET", path)
        assert st == 503 and h["retry-after"] == "7" and set(b) == {"err", "ECODE"}, (st, b)
    st, _, b = sim.api("GET", path)
    assert st == 200 and b["name"] == "g"
    # 429 fault gets ClickUp's rate-limit body.
    sim.ctl("POST", "faults", {"path": "/team", "status": 429})
    st, _, b = sim.api("GET", "/team")
    assert st == 429 and b == {"err": "Rate limit reached", "ECODE": "APP_002"}
    # delay_ms: the change happens, the answer comes late.
    sim.ctl("POST", "faults", {"path": path, "method": "PUT", "delay_ms": 400})
    t0 = time.monotonic()
    st, _, b = sim.api("PUT", path, {"name": "late"})
    assert st == 200 and b["name"] == "late" and time.monotonic() - t0 >= 0.35
    # delay + status.
    sim.ctl("POST", "faults", {"path": path, "status": 500, "delay_ms": 200})
    t0 = time.monotonic()
    st, _, b = sim.api("GET", path)
    assert st == 500 and time.monotonic() - t0 >= 0.15
    # drop: the connection closes without an answer.
    sim.ctl("POST", "faults", {"path": path, "drop": True, "count": 1})
    try:
        sim.api("GET", path)
        raise AssertionError("expected a dropped connection")
    except (http.client.RemoteDisconnected, ConnectionResetError):
        pass
    st, _, b = sim.api("GET", path)
    assert st == 200
    # Bad fault bodies.
    for bad in ({"status": 500}, {"path": "x", "status": 404}, {"path": "x"},
                {"path": "x", "status": 500, "count": 0}):
        st, r = sim.ctl("POST", "faults", bad)
        assert st == 400, bad
    st, r = sim.ctl("GET", "faults")
    assert r["faults"] == []
    log = sim.ctl("GET", "requests")[1]
    assert [e["status"] for e in log if e["path"] == "/api/v2" + path] == \
        [200, 503, 503, 200, 200, 500, 0, 200], log
    # Faults on the ADO port apply there.
    sim.ctl("POST", "faults", {"path": "/_apis/", "status": 503}, port=sim.ado_port)
    st, _, _ = sim.raw("GET", "/contoso/_apis/projects", port=sim.ado_port)
    assert st == 503


def t_pause_webhooks():
    seed = seed_with(webhook={"max_attempts": 2, "suspend_after": 100, "retry_delay_ms": 1})
    sim = Sim(seed=seed)
    rx = Receiver()
    try:
        st, _, r = sim.api("POST", f"/team/{TEAM}/webhook",
                           {"endpoint": rx.url, "events": ["taskCreated"]})
        wid = r["id"]
        st, r = sim.ctl("POST", "webhooks", {"deliver": False})
        assert st == 200 and r["deliver"] is False
        sim.create_task(name="while down")
        sim.wait_idle()
        assert rx.got == []
        assert sim.webhook_health(wid) == {"status": "failing", "fail_count": 1}
        st, r = sim.ctl("POST", "webhooks", {"deliver": True})
        assert r["deliver"] is True
        t = sim.create_task(name="after")
        d = rx.wait(1)[0]
        assert json.loads(d["body"])["task_id"] == t["id"]
        sim.wait_idle()
        assert sim.webhook_health(wid) == {"status": "active", "fail_count": 0}
        st, r = sim.ctl("POST", "webhooks", {"deliver": "no"})
        assert st == 400
        sim.stop()
    finally:
        rx.close()
        sim.kill()


def t_reset(sim):
    t = sim.create_task(name="gone")
    sim.api("POST", f"/team/{TEAM}/webhook", {"endpoint": "http://127.0.0.1:9/", "events": ["*"]})
    sim.ctl("POST", "faults", {"path": "/nothing", "status": 500})
    sim.ctl("POST", "webhooks", {"deliver": False})
    sim.ctl("POST", "faults", {"path": "/x", "status": 500}, port=sim.ado_port)
    st, r = sim.ctl("POST", "reset")
    assert st == 200
    assert sim.ctl("GET", "requests")[1] == []
    assert sim.ctl("GET", "faults")[1]["faults"] == []
    assert sim.ctl("GET", "faults", port=sim.ado_port)[1]["faults"] == []
    assert sim.ctl("GET", "webhooks")[1]["deliver"] is True
    st, _, _ = sim.api("GET", f"/task/{t['id']}")
    assert st == 404
    st, _, r = sim.api("GET", f"/team/{TEAM}/webhook")
    assert r["webhooks"] == []
    st, _, r = sim.api("GET", f"/list/{LIST}/task")
    assert r["tasks"] == []


def t_info(sim):
    for port in (sim.port, sim.ado_port):
        st, info = sim.ctl("GET", "info", port=port)
        assert st == 200
        assert set(info) == {"ado", "clickup", "users"}
        assert set(info["ado"]) == {"base_url", "organization", "project", "pat"}
        assert info["ado"]["base_url"] == f"http://127.0.0.1:{sim.ado_port}"
        cu = info["clickup"]
        assert set(cu) == {"base_url", "token", "team_id", "space_id", "list_ids"}
        assert cu["base_url"] == f"http://127.0.0.1:{sim.port}/api/v2"
        assert cu["token"].startswith("pk_") and cu["team_id"] == TEAM
        assert cu["space_id"] == SPACE and cu["list_ids"] == [LIST]
        assert len(info["users"]) == 3
        for u in info["users"]:
            assert set(u) == {"name", "email", "ado_id", "clickup_id"}
            assert isinstance(u["clickup_id"], int) and "@" in u["email"]
    st, _, _ = sim.raw("GET", "/_sim/nothing")
    assert st == 404


def t_fixture_shapes():
    seed = seed_with(comment_id_number=False, tasks=[{
        "list": LIST, "custom_id": "ENG-142", "name": "Sync ADO comments both ways",
        "markdown_content": "Comments posted in ClickUp must appear in **Azure DevOps** "
                            "and vice versa.\nKeep authorship.",
        "status": "in progress", "priority": 2, "due_date": 1769004000000,
        "assignees": [AVERY, SAM], "tags": ["sync"],
        "custom_fields": [{"id": CF_NUMBER, "value": 1042},
                          {"id": CF_DROPDOWN, "value": "a1b2c3d4-e5f6-4789-8abc-def012345678"}]}])
    sim = Sim(seed=seed)
    try:
        st, _, t = sim.api("GET", f"/task/ENG-142?custom_task_ids=true&team_id={TEAM}")
        assert st == 200, t
        tid = t["id"]
        body, ctype = multipart("attachment", "sync-log.txt", "text/plain", b"x" * 2048)
        st, _, raw = sim.raw("POST", f"/api/v2/task/{tid}/attachment", body,
                             {"Authorization": TOKEN, "Content-Type": ctype})
        same_shape(json.loads(raw), fixture("clickup-create-attachment-response.json"))
        st, _, t = sim.api("GET", f"/task/{tid}?include_markdown_description=true")
        same_shape(t, fixture("clickup-task.json"))
        assert t["description"] == fixture("clickup-task.json")["description"]
        req = fixture("clickup-create-comment-request.json")
        st, _, c = sim.api("POST", f"/task/{tid}/comment", dict(req, assignee=SAM))
        same_shape(c, fixture("clickup-create-comment-response.json"))
        st, _, cs = sim.api("GET", f"/task/{tid}/comment")
        same_shape(cs["comments"][0], fixture("clickup-comments.json")["comments"][1])
        st, _, w = sim.api("POST", f"/team/{TEAM}/webhook",
                           {"endpoint": "https://sync.example.com/hooks/clickup",
                            "events": fixture("clickup-create-webhook-response.json")
                            ["webhook"]["events"], "list_id": int(LIST)})
        same_shape(w, fixture("clickup-create-webhook-response.json"))
        sim.stop()
    finally:
        sim.kill()


def t_inflight_reset_and_shutdown():
    """A reset cancels an attempt in flight; SIGTERM with an attempt in flight
    and an answer held back by delay_ms still exits 0 without leaks."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    conns = []
    cond = threading.Condition()

    def accept():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            with cond:
                conns.append(c)
                cond.notify_all()

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{lsock.getsockname()[1]}/never-answers"
    sim = Sim()
    try:
        for n in (1, 2):
            st, _, _ = sim.api("POST", f"/team/{TEAM}/webhook", {"endpoint": url,
                                                                "events": ["taskCreated"]})
            assert st == 200
            sim.create_task(name=f"t{n}")
            with cond:
                assert cond.wait_for(lambda: len(conns) >= n, 15 * SLOW)
            if n == 1:
                st, _ = sim.ctl("POST", "reset")
                assert st == 200
        sim.ctl("POST", "faults", {"path": "/team", "delay_ms": 600000})
        errors = []

        def slow_get():
            try:
                sim.api("GET", "/team")
            except Exception as e:  # dropped at shutdown
                errors.append(e)

        th = threading.Thread(target=slow_get)
        th.start()
        sim.wait_until("the held-back request", lambda: any(
            e["path"] == "/api/v2/team" and e["status"] is None
            for e in sim.ctl("GET", "requests")[1]))
        sim.stop()
        th.join(30 * SLOW)
        assert errors, "the held-back request should have been dropped"
    finally:
        sim.kill()
        lsock.close()
        for c in conns:
            c.close()


def t_bad_args():
    for args in ([], ["--ado-port", "0"], ["--ado-port", "x", "--clickup-port", "0"]):
        r = subprocess.run([SIM] + args, capture_output=True)
        assert r.returncode == 2, args
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write("{not json")
        f.flush()
        r = subprocess.run([SIM, "--ado-port", "0", "--clickup-port", "0", "--seed", f.name],
                           capture_output=True)
        assert r.returncode == 2 and f.name.encode() in r.stderr


# Tests taking a fresh default simulator as argument, then standalone ones.
def t_churn(sim):
    """POST /_sim/churn edits inside the simulator as PUT /task would: same
    state, same webhooks, no request log entries; GET gives µs times."""
    rx = Receiver()
    try:
        st, _, r = sim.api("POST", f"/team/{TEAM}/webhook", {"endpoint": rx.url, "events": ["*"]})
        a, b = sim.create_task(name="a"), sim.create_task(name="b")
        rx.wait(4)
        st, _, log0 = sim.raw("GET", "/_sim/requests")
        st, e = sim.ctl("POST", "churn", {"ids": [a["id"]]})
        assert st == 400, e  # no edits
        st, e = sim.ctl("POST", "churn", {"ids": [a["id"], b["id"], "nosuchtask"], "edits": 5,
                                          "rate": 0, "prefix": "c"})
        assert st == 200 and e["edits"] == 5, e
        g = sim.wait_until("the churn", lambda: (lambda r: r if not r["running"] else None)(
            sim.ctl("GET", "churn")[1]))
        assert g["done"] == 5 and g["failed"] == 1, g  # edit 2 names no task
        assert len(g["t_us"]) == 5 and g["t_us"] == sorted(g["t_us"]) and g["t_us"][0] >= g["t0_us"]
        for t, want in ((a, "c 3"), (b, "c 4")):
            st, _, got = sim.api("GET", f"/task/{t['id']}")
            assert got["name"] == want, got
        d = [json.loads(x["body"]) for x in rx.wait(8)[4:]]
        assert [x["event"] for x in d] == ["taskUpdated"] * 4
        assert [x["history_items"][0]["after"] for x in d] == ["c 0", "c 1", "c 3", "c 4"]
        st, _, log1 = sim.raw("GET", "/_sim/requests")
        assert log1.count(b"\n") == log0.count(b"\n") + 2  # only the two GETs above
        assert all("time_us" in json.loads(l) for l in log1.decode().splitlines())
        # At a rate: 3 edits at 50/s take about 40 ms.
        st, e = sim.ctl("POST", "churn", {"ids": [a["id"]], "edits": 3, "rate": 50,
                                          "prefix": "r"})
        assert st == 200
        st, e = sim.ctl("POST", "churn", {"ids": [a["id"]], "edits": 3})
        g = sim.wait_until("the churn", lambda: (lambda r: r if not r["running"] else None)(
            sim.ctl("GET", "churn")[1]))
        assert g["done"] == 3 and g["prefix"] == "r"
        assert g["t_us"][2] - g["t_us"][0] >= 39000, g
        # Left running: the simulator stops cleanly with a churn under way.
        st, e = sim.ctl("POST", "churn", {"ids": [a["id"]], "edits": 1000, "rate": 1})
        assert st == 200
    finally:
        rx.close()


WITH_SIM = [t_auth, t_hierarchy, t_task_roundtrip, t_validation, t_paging, t_comments,
            t_attachments, t_tags_fields, t_webhooks_crud, t_webhook_deliveries,
            t_webhook_filters, t_default_webhook_rules_faithful, t_requests_log, t_faults,
            t_reset, t_info, t_churn]
STANDALONE = [t_signature_vectors, t_webhook_failing_suspended, t_webhook_concurrency,
              t_rate_limit,
              t_pause_webhooks, t_fixture_shapes, t_inflight_reset_and_shutdown, t_bad_args]


def main():
    only = set(sys.argv[3:])
    failed = 0
    for t in WITH_SIM + STANDALONE:
        if only and t.__name__ not in only:
            continue
        sim = None
        try:
            if t in WITH_SIM:
                sim = Sim(args=getattr(t, "sim_args", None))
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
