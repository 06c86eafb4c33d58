#!/bin/sh
# Fails when the files under the given paths include each other in a circle,
# or when two headers in the tree share a base name (an #include "x.h" must
# name one file). A file pair X.c/X.h is one node; an edge is an
# #include "Y.h" of one of them. Calls need the callee's header, so a call
# circle shows up as an include circle too.
# Usage (from the top of the tree): tests/check-cycles.sh [-x DIR]... PATH...
# -x leaves the files under DIR out (the engine, daemon/wg/, whose device,
# send and timers call each other as in Linux's WireGuard).
set -eu
except=""
while [ "${1:-}" = "-x" ] && [ $# -ge 2 ]; do
	except="$except ${2%/}/"
	shift 2
done
[ $# -gt 0 ] || {
	echo "usage: $0 [-x DIR]... PATH..." >&2
	exit 2
}

dups=$(find daemon router exitnode webui tests -name '*.h' | sed 's|.*/||' | sort | uniq -d)
if [ -n "$dups" ]; then
	echo "headers sharing a base name: $(echo "$dups" | tr '\n' ' ')"
	exit 1
fi

# Every node under the paths, as "base path-without-extension".
nodes=$(find "$@" -name '*.[ch]' | sed 's|\.[ch]$||' | sort -u |
	awk -v except="$except" 'BEGIN { n = split(except, x, " ") }
		{ for (i = 1; i <= n; i++) if (index($0, x[i]) == 1) next
		  k = split($0, p, "/"); print p[k], $0 }')
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
echo "$nodes" | while read -r _ node; do
	for f in "$node.c" "$node.h"; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' "$f" |
			sed 's|.*/||' | while read -r base; do
			to=$(echo "$nodes" | awk -v b="$base" '$1 == b { print $2 }')
			if [ -n "$to" ] && [ "$to" != "$node" ]; then
				echo "$node $to"
			fi
		done
	done
done | sort -u >"$edges"

if ! tsort "$edges" >/dev/null; then
	echo "include circle among: $*"
	exit 1
fi
echo "$(echo "$nodes" | wc -l) files, $(wc -l <"$edges") include edges, no circle"
