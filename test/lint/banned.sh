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
echo "no banned functions"
