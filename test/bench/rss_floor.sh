#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The resident memory a process pays for the libraries alone, before any code of
# ours runs: a program that links only what the daemon links (the same pkg-config
# packages), calls curl_global_init, opens a multi handle and an easy handle, and
# prints its /proc/self/status figures. Compare with memory.py's idle daemon.
#
# usage: test/bench/rss_floor.sh      env: RUNS=3 CC=cc
set -euo pipefail
RUNS=${RUNS:-3}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/floor.c" <<'EOF'
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

/* Each step adds what the daemon does at start up to that point. */
int main(int argc, char **argv)
{
	int step = argc > 1 ? argv[1][0] - '0' : 0;
	if (step >= 1)
		curl_global_init(CURL_GLOBAL_DEFAULT);
	if (step >= 2) {
		CURLM *m = curl_multi_init();
		CURL *e = curl_easy_init();
		(void)m;
		(void)e;
	}
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS", 5) || !strncmp(line, "RssAnon", 7) ||
		    !strncmp(line, "RssFile", 7))
			fputs(line, stdout);
	if (f)
		fclose(f);
	return 0;
}
EOF

pkgs="libcurl"
all="libuv libcurl sqlite3 jansson libsodium md4c md4c-html inih libxml-2.0"
# shellcheck disable=SC2046
$CC -O2 -o "$tmp/curl_only" "$tmp/floor.c" $(pkg-config --cflags --libs $pkgs)
# shellcheck disable=SC2046
$CC -O2 -o "$tmp/all_libs" "$tmp/floor.c" -Wl,--no-as-needed $(pkg-config --libs $all) \
	$(pkg-config --cflags libcurl)

kb() { grep "$1" | awk '{print $2}'; }
for bin in curl_only all_libs; do
	for step in 0 1 2; do
		rss=() anon=() file=()
		for _ in $(seq "$RUNS"); do
			out=$("$tmp/$bin" "$step")
			rss+=("$(kb VmRSS <<<"$out")")
			anon+=("$(kb RssAnon <<<"$out")")
			file+=("$(kb RssFile <<<"$out")")
		done
		med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
		printf '%-9s step %d (%s): VmRSS %6d kB  RssAnon %5d kB  RssFile %6d kB\n' "$bin" \
			"$step" "$([ "$step" = 0 ] && echo "loaded" || { [ "$step" = 1 ] &&
				echo "curl_global_init" || echo "+ multi and easy handle"; })" \
			"$(med "${rss[@]}")" "$(med "${anon[@]}")" "$(med "${file[@]}")"
	done
done
echo "target (sync-engine issue): the whole daemon idle <= 8192 kB"
