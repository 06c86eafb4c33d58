#!/bin/bash
# The shared libraries meshgated loads at start (its DT_NEEDED entries): the
# ones only an optional part uses are loaded by that part when it needs them
# (dlopen), so a node that never uses them never maps them. libsystemd:
# dns/resolved.c, only when the OS resolver is managed through resolved.
# Usage: test_daemon_libs.sh MESHGATED
set -eu
daemon=$1
command -v readelf >/dev/null || { echo "SKIP: no readelf"; exit 77; }

needed=$(readelf -d "$daemon" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "FAIL: no NEEDED entries read from $daemon"; exit 1; }
echo "$daemon needs: ${needed//$'\n'/ }"
failed=0
optional=(libsystemd)
for lib in "${optional[@]}"; do
	if grep -q "^$lib\.so" <<<"$needed"; then
		echo "FAIL: $lib is linked, not loaded when needed"
		failed=1
	else
		echo "ok: $lib is not linked"
	fi
done
exit "$failed"
