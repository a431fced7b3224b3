#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Developer entry point: installs what is missing (Debian 12, as root), builds,
# then either runs the demo or the full test suite.
#   bash run.sh demo [--port N]     build and run the daemon in demo mode
#   bash run.sh test [ARGS...]      build and run every test (ARGS go to meson test)
#   bash run.sh asan                the test suite under ASan+UBSan
#   bash run.sh valgrind            the unit and e2e suites under valgrind
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

BUILD_PKGS="gcc libc6-dev meson ninja-build pkg-config python3 libuv1-dev libcurl4-openssl-dev
  libsqlite3-dev libjansson-dev libsodium-dev libmd4c-dev libmd4c-html0-dev libinih-dev
  libxml2-dev node-llhttp ca-certificates"
TEST_PKGS="libcmocka-dev valgrind clang-format curl"

install_missing() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "run.sh: missing packages: ${missing[*]}" >&2
		echo "run.sh: install them with: apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "run.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# The browser test (test/browser): Debian's chromium and playwright-core from
# the npm registry (pinned in test/browser/package-lock.json; never a browser
# download of playwright's own). Not fatal: without chromium the test skips.
install_browser() {
	export DEBIAN_FRONTEND=noninteractive
	local want=()
	dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "ok installed" || want+=(chromium)
	command -v npm >/dev/null || want+=(nodejs npm)
	if [ ${#want[@]} -gt 0 ]; then
		if [ "$(id -u)" -eq 0 ]; then
			echo "run.sh: installing ${want[*]}" >&2
			{ apt-get update -q >/dev/null &&
				apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null; } ||
				echo "run.sh: could not install ${want[*]}: the browser test may skip" >&2
		else
			echo "run.sh: missing ${want[*]}: the browser test may skip" >&2
		fi
	fi
	if [ ! -f test/browser/node_modules/playwright-core/package.json ] && command -v npm >/dev/null; then
		echo "run.sh: installing playwright-core (npm ci in test/browser)" >&2
		(cd test/browser && npm ci --no-audit --no-fund --loglevel=error) ||
			echo "run.sh: npm ci failed in test/browser" >&2
	fi
	return 0
}

# setup DIR [meson options...]: configure once, reconfigure when options change.
setup() {
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --wrap-mode=nodownload "$@"
	else
		meson configure "$dir" "$@" >/dev/null
	fi
}

# summary LOG...: "N passed, N failed" from meson's JSON test logs.
summary() {
	python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
lines = []
for path in sys.argv[1:]:
    try:
        lines += open(path).read().splitlines()
    except OSError:
        pass
for line in lines:
    if not line.strip():
        continue
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
}

run_tests() {
	local dir=$1
	shift
	local rc=0
	ninja -C "$dir" || rc=$?
	if [ $rc -eq 0 ]; then
		meson test -C "$dir" --print-errorlogs "$@" || rc=$?
		summary "$dir/meson-logs/testlog.json"
	else
		echo "0 passed, 1 failed"
	fi
	return $rc
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
demo)
	install_missing $BUILD_PKGS
	setup build/release -Dbuildtype=release -Dtests=disabled
	ninja -C build/release
	exec build/release/daemon/ado-clickup-sync demo "$@"
	;;
test)
	install_missing $BUILD_PKGS $TEST_PKGS
	install_browser
	setup build/test -Dwerror=true -Dtests=enabled
	run_tests build/test "$@"
	;;
asan)
	install_missing $BUILD_PKGS $TEST_PKGS
	setup build/asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Ddebug_sanitize=true
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_tests build/asan "$@"
	;;
valgrind)
	install_missing $BUILD_PKGS $TEST_PKGS
	setup build/valgrind -Dwerror=true -Ddebug_sanitize=true
	ninja -C build/valgrind
	rc=0
	meson test -C build/valgrind --print-errorlogs --setup valgrind --suite unit \
		--logbase unit "$@" || rc=$?
	# The e2e runners are python: valgrind wraps the daemon they start instead.
	ACS_E2E_WRAPPER="valgrind --leak-check=full --show-leak-kinds=definite,indirect
		--errors-for-leak-kinds=definite,indirect --error-exitcode=1 --quiet" \
		meson test -C build/valgrind --print-errorlogs --suite e2e --suite sim --logbase e2e \
		--timeout-multiplier 5 "$@" || rc=$?
	summary build/valgrind/meson-logs/unit*.json build/valgrind/meson-logs/e2e*.json
	exit $rc
	;;
*)
	echo "usage: bash run.sh demo [--port N] | test [ARGS] | asan | valgrind" >&2
	exit 2
	;;
esac
