#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when a C file differs from .clang-format (fix: clang-format -i FILE).
root=${1:?source root}
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not installed: skipped"; exit 77; }
cd "$root" || exit 1
files=$(git ls-files 'lib/*.[ch]' 'daemon/*.[ch]' 'test/unit/*.[ch]' 'test/sim/*.[ch]' \
	'test/fuzz/*.[ch]' 'test/integration/*.[ch]' 2>/dev/null)
[ -n "$files" ] || files=$(find lib daemon test/unit test/sim test/fuzz test/integration -name '*.[ch]' 2>/dev/null)
bad=0
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "all files formatted"
exit $bad
