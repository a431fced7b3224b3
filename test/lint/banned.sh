#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when C sources use functions we ban (curl's checksrc idea): unbounded
# string writers and parsers without error reporting.
root=${1:?source root}
hits=$(grep -rnE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[[:space:]]*\(' \
	"$root/lib" "$root/daemon" "$root/test/unit" "$root/test/sim" "$root/test/fuzz" "$root/test/integration" \
	--include='*.c' --include='*.h' 2>/dev/null)
if [ -n "$hits" ]; then
	echo "banned functions used (use snprintf, acs_buf, strtol...):"
	echo "$hits"
	exit 1
fi
# jansson's own reader and writer are several times slower than lib/json_codec's,
# which accept and write the same (tests compare against jansson itself).
slow=$(grep -rnE '\bjson_(loadb|loads|dumps)[[:space:]]*\(' "$root/lib" "$root/daemon" "$root/test/sim" \
	--include='*.c' 2>/dev/null | grep -v '/lib/json_codec\.c:')
if [ -n "$slow" ]; then
	echo "jansson's reader/writer used (use acs_json_loadb, acs_json_loads, acs_json_dumps):"
	echo "$slow"
	exit 1
fi
echo "no banned functions"
