#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Requests/s of GET /api/health on the daemon vs nginx answering a static 200
# on the same machine, with wrk. Runs each RUNS times, alternating, and prints
# medians and the ratio. Needs wrk and nginx (apt-get install wrk nginx-light).
#   test/bench/http_health.sh [BUILD_DIR] ; env: RUNS=5 DURATION=10s CONNS=64 THREADS=1
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "needs nginx"; exit 1; }
if [ ! -x "$build/daemon/ado-clickup-sync" ]; then
	meson setup "$build" "$root" -Dbuildtype=release -Dtests=disabled --wrap-mode=nodownload
	ninja -C "$build"
fi
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null; rm -rf "$tmp"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dport=$(free_port)
nport=$(free_port)
cat > "$tmp/config.ini" <<INI
[server]
listen = 127.0.0.1:$dport
[database]
url = sqlite:$tmp/sync.db
[log]
level = warn
INI
"$build/daemon/ado-clickup-sync" serve -c "$tmp/config.ini" 2>"$tmp/daemon.log" &
cat > "$tmp/nginx.conf" <<NGX
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp;
  uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server {
    listen 127.0.0.1:$nport;
    location / { default_type application/json; return 200 '{"status":"ok","version":"0.1.0"}'; }
  }
}
NGX
/usr/sbin/nginx -c "$tmp/nginx.conf"
for p in $dport $nport; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/api/health" >/dev/null && break; sleep 0.1; done
done

rps() { wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
d=() n=()
for i in $(seq "$RUNS"); do
	d+=("$(rps "http://127.0.0.1:$dport/api/health")")
	n+=("$(rps "http://127.0.0.1:$nport/api/health")")
	echo "run $i: daemon ${d[-1]} req/s, nginx ${n[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
dm=$(median "${d[@]}")
nm=$(median "${n[@]}")
echo "median over $RUNS runs ($DURATION, $CONNS connections, $THREADS wrk thread(s)):"
echo "  ado-clickup-sync GET /api/health: $dm req/s"
echo "  nginx static 200:                 $nm req/s"
awk -v a="$dm" -v b="$nm" 'BEGIN {printf "  ratio daemon/nginx: %.2f\n", a/b}'
