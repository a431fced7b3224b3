#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pre-signed ClickUp deliveries for the intake benchmark: wrk's LuaJIT has no
HMAC, so the bodies are signed here once. Each line of OUT is
"<X-Signature hex>\\t<compact JSON body>\\n"; every body has its own task id and
history item id, so each one is a new inbox row (no duplicates).

usage: intake_gen.py OUT COUNT SECRET WEBHOOK_ID
The body has the shape of test/fixtures/clickup/clickup-webhook-taskUpdated-name.json."""
import hashlib
import hmac
import json
import sys


def body(i, webhook_id):
    return {
        "event": "taskUpdated",
        "history_items": [{
            "id": str(4697736108827301888 + i),
            "type": 1,
            "date": str(1768306193017 + i),
            "field": "name",
            "parent_id": "901110236848",
            "data": {},
            "source": None,
            "user": {"id": 54098740, "username": "Avery Chen",
                     "email": "avery.chen@example.com", "color": "#7b68ee",
                     "initials": "AC", "profilePicture": None},
            "before": "Sync ADO comments",
            "after": "Sync ADO comments both ways %d" % i,
        }],
        "task_id": "bench%07x" % i,
        "webhook_id": webhook_id,
    }


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out, count, secret, webhook_id = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    key = secret.encode()
    with open(out, "wb") as f:
        for i in range(count):
            b = json.dumps(body(i, webhook_id), separators=(",", ":")).encode()
            sig = hmac.new(key, b, hashlib.sha256).hexdigest().encode()
            f.write(sig + b"\t" + b + b"\n")


if __name__ == "__main__":
    main()
