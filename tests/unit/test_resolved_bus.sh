#!/bin/bash
# The systemd-resolved path of dns.manage_resolv_conf over real D-Bus, with a
# stand-in for resolved (resolved_fake) on a private dbus-daemon that
# DBUS_SYSTEM_BUS_ADDRESS names; neither the machine's bus nor its
# resolv.conf is touched. Without org.freedesktop.resolve1 on the bus the
# seam falls back to resolv.conf (a file in the scratch directory); with it,
# the calls and their arguments are the ones resolved.h lists (the split
# domains offered as routing domains, sent again when they change), an
# unchanged state sends nothing, stop reverts the link, and a failing call is kept as
# the error; a resolved in another network namespace is not used. What the real resolved makes of the calls is not tested here.
# Usage: test_resolved_bus.sh RESOLVED_FAKE OSRESOLVER_DRIVE
set -eu
fake=$1 drive=$2
command -v dbus-daemon >/dev/null || { echo "SKIP: no dbus-daemon"; exit 77; }

dir=$(mktemp -d /tmp/test_resolved_bus.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT
failed=0
check() { # DESC CMD...
	local desc=$1
	shift
	if "$@"; then
		echo "ok   $desc"
	else
		echo "FAIL $desc"
		failed=1
	fi
}

# wait_for COUNT CMD...: CMD succeeds within COUNT tries 0.1 s apart.
wait_for() {
	local n=$1
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

cat >"$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile 2>"$dir/bus.log" &
pids+=("$!")
wait_for 100 test -S "$dir/bus" || { cat "$dir/bus.log"; echo "FAIL: no bus"; exit 1; }
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus

original=$'nameserver 192.0.2.53\n'
printf '%s' "$original" >"$dir/resolv.conf"
"$drive" "$dir" >"$dir/fallback.out"
check "no resolved on the bus: resolv.conf, and put back" \
	diff -u - "$dir/fallback.out" <<'OUT'
set managed=1 method=resolv.conf error=none
same managed=1 method=resolv.conf error=none
exit managed=1 method=resolv.conf error=none
split2 managed=1 method=resolv.conf error=none
nosplit managed=1 method=resolv.conf error=none
stop managed=0 method=null error=none
missing managed=1 method=resolv.conf error=none
OUT
check "the file is the original again" [ "$(cat "$dir/resolv.conf")" = "${original%$'\n'}" ]

"$fake" >"$dir/calls" 2>"$dir/fake.err" &
pids+=("$!")
wait_for 100 grep -q ready "$dir/fake.err" || { cat "$dir/fake.err"; echo "FAIL: no fake"; exit 1; }
"$drive" "$dir" >"$dir/drive.out"
check "the seam's state after each step" diff -u - "$dir/drive.out" <<'OUT'
set managed=1 method=resolved error=none
same managed=1 method=resolved error=none
exit managed=1 method=resolved error=none
split2 managed=1 method=resolved error=none
nosplit managed=1 method=resolved error=none
stop managed=0 method=null error=none
missing managed=0 method=resolved error=systemd-resolved SetLinkDNS: Link 99 not known
OUT
check "the calls resolved got, in order" diff -u - "$dir/calls" <<'OUT'
SetLinkDNS 7 100.100.100.100
SetLinkDomains 7 mesh.internal ~home.lan
SetLinkDefaultRoute 7 no
SetLinkDNS 7 100.100.100.100 fd7a:6d67:7465::53
SetLinkDomains 7 mesh.internal ~home.lan ~.
SetLinkDefaultRoute 7 yes
SetLinkDNS 7 100.100.100.100 fd7a:6d67:7465::53
SetLinkDomains 7 mesh.internal ~home.lan ~office.lan ~.
SetLinkDefaultRoute 7 yes
SetLinkDNS 7 100.100.100.100 fd7a:6d67:7465::53
SetLinkDomains 7 mesh.internal ~.
SetLinkDefaultRoute 7 yes
RevertLink 7
OUT
check "resolv.conf untouched on the resolved path" \
	[ "$(cat "$dir/resolv.conf")" = "${original%$'\n'}" ]

# A resolved of another network namespace (a container's daemon sharing the
# host's bus): its links are not ours, so resolv.conf it is.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	kill "${pids[-1]}"
	wait "${pids[-1]}" 2>/dev/null || true
	unshare -n "$fake" >"$dir/calls-other" 2>"$dir/fake-other.err" &
	pids+=("$!")
	wait_for 100 grep -q ready "$dir/fake-other.err" || { cat "$dir/fake-other.err"; exit 1; }
	"$drive" "$dir" >"$dir/other.out"
	check "resolved in another network namespace: resolv.conf instead" \
		diff -u "$dir/fallback.out" "$dir/other.out"
	check "and no call reached it" [ ! -s "$dir/calls-other" ]
else
	echo "(not root: resolved in another network namespace is not tried)"
fi
[ "$failed" -eq 0 ] || exit 1
echo "PASS"
