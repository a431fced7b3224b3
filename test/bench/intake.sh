#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Durable intake of signed ClickUp deliveries (POST /webhooks/clickup, 200 only
# after the commit): (a) max req/s with wrk, (b) latency at a fixed rate with
# rate_load.c; each RUNS times, alternating, on a fresh database per run; prints
# medians, the ratio to the targets, and checks that every 200 left a row.
#   test/bench/intake.sh [BUILD_DIR] ; env: RUNS=3 DURATION=10s CONNS=64 THREADS=1
#   RATE=5000 RATE_DURATION=10s RATE_CONNS=32 BODIES=(40000/s x DURATION) LOG_LEVEL=warn
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/test/bench
build=${1:-$root/build/release}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
RATE=${RATE:-5000}
RATE_DURATION=${RATE_DURATION:-10s}
RATE_CONNS=${RATE_CONNS:-32}
LOG_LEVEL=${LOG_LEVEL:-warn}
secs() { case $1 in *m) echo $((${1%m} * 60)) ;; *s) echo "${1%s}" ;; *) echo "$1" ;; esac; }
dur=$(secs "$DURATION")
rdur=$(secs "$RATE_DURATION")
BODIES=${BODIES:-$((40000 * dur > RATE * rdur ? 40000 * dur : RATE * rdur))}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
command -v cc >/dev/null || { echo "needs a C compiler"; exit 1; }
command -v python3 >/dev/null || { echo "needs python3"; exit 1; }
if [ ! -x "$build/daemon/ado-clickup-sync" ]; then
	meson setup "$build" "$root" -Dbuildtype=release -Dtests=enabled --wrap-mode=nodownload
	ninja -C "$build" -j2 daemon/ado-clickup-sync
fi
daemon=$build/daemon/ado-clickup-sync

tmp=$(mktemp -d)
dpid=""
stop_daemon() {
	[ -n "$dpid" ] || return 0
	kill "$dpid" 2>/dev/null || true
	for _ in $(seq 300); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	dpid=""
}
cleanup() {
	set +e
	stop_daemon
	local j
	j=$(jobs -p)
	[ -z "$j" ] || kill $j 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT # so that the EXIT trap runs

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
secret=bench$(python3 -c 'import secrets; print(secrets.token_hex(16))')
webhook=bench-webhook-1
# The engine is configured (otherwise the intake's routes do not exist) against
# APIs on a closed loopback port and without public_url: the secrets load from
# the database, no webhook is registered, and the engine's next start step
# (loading the mapping context from the APIs) fails and retries every 30 s, so
# the scheduler never starts and the inbox is measured alone. See README.md.
cat > "$tmp/config.ini" <<INI
[server]
listen = 127.0.0.1:$port
[database]
url = sqlite:$tmp/sync.db
[log]
level = $LOG_LEVEL
[ado]
organization = bench
project = Bench
pat = benchpat0123456789abcdef
base_url = http://127.0.0.1:9
[clickup]
token = pk_bench_0123456789abcdef
workspace_id = 1
base_url = http://127.0.0.1:9/api/v2
[map bench]
ado_project = Bench
clickup_list_id = 1
INI

echo "generating $BODIES signed deliveries..."
python3 "$here/intake_gen.py" "$tmp/bodies.txt" "$((BODIES + 1))" "$secret" "$webhook"
# The last line is the readiness probe; the load uses the others.
tail -n 1 "$tmp/bodies.txt" > "$tmp/probe.txt"
head -n "$BODIES" "$tmp/bodies.txt" > "$tmp/load.txt"
cc -O2 -o "$tmp/rate_load" "$here/rate_load.c"

start_daemon() {
	"$daemon" serve -c "$tmp/config.ini" 2>>"$tmp/daemon.log" &
	dpid=$!
}

# The schema once: start, stop, add the webhook secret, keep as the template.
start_daemon
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
stop_daemon
python3 - "$tmp/sync.db" "clickup.webhook_secret.$webhook" "$secret" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (sys.argv[2], sys.argv[3]))
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.close()
PY
mv "$tmp/sync.db" "$tmp/template.db"
rm -f "$tmp/sync.db-wal" "$tmp/sync.db-shm"

# Fresh database, daemon up, secret loaded (the probe delivery gets its 200).
fresh_daemon() {
	rm -f "$tmp/sync.db" "$tmp/sync.db-wal" "$tmp/sync.db-shm"
	cp "$tmp/template.db" "$tmp/sync.db"
	start_daemon
	local sig body
	sig=$(cut -f1 "$tmp/probe.txt")
	body=$(cut -f2- "$tmp/probe.txt")
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Signature: $sig" \
			-H 'Content-Type: application/json' --data-binary "$body" \
			"http://127.0.0.1:$port/webhooks/clickup")" = 200 ] && return 0
		sleep 0.1
	done
	echo "daemon not ready; log:" >&2
	tail -n 20 "$tmp/daemon.log" >&2
	exit 1
}
rows() {
	python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
		"SELECT count(*) FROM inbox").fetchone()[0])' "$tmp/sync.db"
}
# Every 200 must be a committed row: rows - 1 (probe) >= the 200s; a few more
# rows are requests wrk stopped waiting for at the end (at most one per connection).
check_durable() {
	local ok=$1 slack=$2
	n=$(($(rows) - 1))
	if [ "$n" -lt "$ok" ] || [ "$n" -gt $((ok + slack)) ]; then
		echo "DURABILITY FAILURE: $ok answers 200 but $n inbox rows" >&2
		durable=no
	fi
}

durable=yes
tp=() p50=() p99=() pmax=()
for i in $(seq "$RUNS"); do
	fresh_daemon
	timeout $((dur + 60)) wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s \
		-s "$here/intake.lua" "http://127.0.0.1:$port" -- "$tmp/load.txt" "$THREADS" \
		> "$tmp/wrk.txt"
	stop_daemon
	total=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
	non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.txt")
	wrapped=$(awk '/bodies_wrapped/ {print $2}' "$tmp/wrk.txt")
	ok=$((total - ${non2xx:-0}))
	check_durable "$ok" "$CONNS"
	tp+=("$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt")")
	[ "${wrapped:-0}" -eq 0 ] || echo "  warning: wrk ran out of bodies (raise BODIES)"
	echo "run $i: throughput ${tp[-1]} req/s ($ok x 200, ${non2xx:-0} other, $n rows)"

	fresh_daemon
	timeout $((rdur + 60)) "$tmp/rate_load" "$port" "$tmp/load.txt" "$RATE" "$rdur" \
		"$RATE_CONNS" > "$tmp/rate.txt" || true
	stop_daemon
	ok=$(sed -n 's/.*ok200=\([0-9]*\).*/\1/p' "$tmp/rate.txt")
	check_durable "${ok:-0}" $((RATE * rdur - ${ok:-0}))
	read -r a b c < <(awk '/^latency_ms/ {for (i = 2; i <= NF; i++) {split($i, kv, "=");
		v[kv[1]] = kv[2]} print v["p50"], v["p99"], v["max"]}' "$tmp/rate.txt")
	p50+=("$a") p99+=("$b") pmax+=("$c")
	echo "run $i: at $RATE req/s p50 $a ms, p99 $b ms, max $c ms ($n rows); $(head -n 1 "$tmp/rate.txt")"
	grep '^service_ms' "$tmp/rate.txt" | sed 's/^/       /'
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
tm=$(median "${tp[@]}")
m50=$(median "${p50[@]}")
m99=$(median "${p99[@]}")
mmax=$(median "${pmax[@]}")
echo "median over $RUNS runs (wrk $DURATION, $CONNS connections, $THREADS thread(s);" \
	"fixed rate $RATE req/s for $RATE_DURATION over $RATE_CONNS connections; log level $LOG_LEVEL):"
echo "  signed ClickUp deliveries committed: $tm req/s   (target >= 20000)"
echo "  latency at $RATE req/s: p50 $m50 ms, p99 $m99 ms, max $mmax ms   (target p99 <= 5)"
awk -v a="$tm" -v b="$m99" \
	'BEGIN {printf "  ratio throughput/target: %.2f; p99/target: %.2f\n", a / 20000, b / 5}'
echo "  every 200 committed: $durable"
[ "$durable" = yes ]
