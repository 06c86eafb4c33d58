#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317,SC2119 # functions run through check
# dns.manage_resolv_conf on a node without systemd-resolved: the node's
# namespace has its own resolv.conf (/etc/netns/NS/resolv.conf, which
# `ip netns exec` bind-mounts over /etc/resolv.conf, as a container's is),
# so meshgated's in-place write goes through the bind mount. While it runs
# the file names 100.100.100.100, fd7a:6d67:7465::53 (the node has an IPv6
# mesh address) and the mesh's domain before the cafe's search domain; the
# original is in state_dir. It is byte-identical to the original again
# after SIGTERM; after SIGKILL and `meshgated --cleanup`; after a SIGKILL,
# a restart (which keeps the real original) and SIGTERM; and after a reload
# that switches management off. An admin's edit while it runs is neither
# overwritten by a reload nor at stop. The host's /etc/resolv.conf is
# compared before and after. The daemon is given a system bus address that
# does not exist, so it never reaches a systemd-resolved outside the test.
#
#  node (no peers, no links but lo and its TUN)
#   meshgate0<pid>  100.64.0.1/10, fd7a:6d67:7465::1/48
#   /etc/resolv.conf = /etc/netns/<ns>/resolv.conf: the cafe's resolver
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip wg python3 cmp sha256sum
root_state_snapshot

export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/meshgate-test-bus
dir=$(mg_workdir)
tun=mgrc$MG_PID
host_sum=$(sha256sum </etc/resolv.conf)

ns_create node
full=$(ns_name node)
[ -d /etc/netns ] || MG_EXTRA_CLEANUP+=("rmdir /etc/netns 2>/dev/null")
mkdir -p "/etc/netns/$full"
MG_EXTRA_CLEANUP+=("rm -rf '/etc/netns/$full'")
file=/etc/netns/$full/resolv.conf
printf '# the cafe'"'"'s resolver\nnameserver 192.0.2.53\nsearch cafe.example\noptions timeout:2\n' \
	>"$dir/original"
cp "$dir/original" "$file"
saved=$dir/state-$tun/resolv.conf.meshgate-saved

(umask 077 && mg_genkey >"$dir/node.key")
conf=$dir/node.conf
write_conf() { # MANAGE
	mg_config "$conf" "$tun" 41641 "$dir/node.key" '"100.64.0.1/10", "fd7a:6d67:7465::1/48"' ''
	echo "dns = { manage_resolv_conf = $1; };" >>"$conf"
}
write_conf true

# What the node's processes read as /etc/resolv.conf.
seen() {
	ns_exec node cat /etc/resolv.conf
}

ours() {
	seen | head -1 | grep -q '^# written by meshgated;'
}

is_original() {
	cmp "$dir/original" "$file"
}

os_resolver() {
	mg_cli node node status --json | python3 -c 'import json, sys
print(json.dumps(json.load(sys.stdin)["dns"]["os_resolver"], sort_keys=True))'
}

managed() {
	os_resolver | grep -q '"managed": true'
}

# Starts the node; its control socket is removed first, as one a SIGKILL
# left would pass for the new daemon's.
start() {
	rm -f "$dir/$tun.sock"
	mg_start node node "$conf"
	wait_for 50 0.1 managed || fail "meshgated does not manage resolv.conf"
}

# ---- while it runs ----
check "the namespace sees its own file" [ "$(seen)" = "$(cat "$dir/original")" ]
start
check "meshgated wrote the namespace's resolv.conf" ours
log "while running:"
seen | sed 's/^/#   /'
check "through the bind mount: the file under /etc/netns holds it" \
	head -1 "$file" | grep -q '^# written by meshgated;'
check "the mesh resolver, IPv4 and IPv6, and nothing else" \
	[ "$(seen | grep '^nameserver')" = "nameserver 100.100.100.100
nameserver fd7a:6d67:7465::53" ]
check "the mesh's domain first, then the cafe's" \
	[ "$(seen | grep '^search')" = "search mesh.internal cafe.example" ]
check "the original is saved in state_dir" cmp "$dir/original" "$saved"
check "status: managed through resolv.conf" \
	[ "$(os_resolver)" = '{"error": null, "managed": true, "method": "resolv.conf"}' ]

# ---- SIGTERM ----
check "SIGTERM stops it" mg_stop node TERM
check "after SIGTERM the file is byte-identical to the original" is_original
check "and the saved copy is gone" [ ! -e "$saved" ]

# ---- SIGKILL, then --cleanup ----
start
check "running again: ours" ours
check "SIGKILL" mg_stop node KILL
check "after SIGKILL the file is still ours" ours
check "meshgated --cleanup" ns_exec node "$MESHGATED" --cleanup -c "$conf"
check "after --cleanup the file is byte-identical to the original" is_original
check "a second --cleanup changes nothing" ns_exec node "$MESHGATED" --cleanup -c "$conf"
check "still the original" is_original

# ---- a restart after a crash keeps the real original ----
start
mg_stop node KILL
check "killed while its file is in place" ours
start
check "restarted over its own file" ours
check "the saved copy is still the original, not meshgated's file" cmp "$dir/original" "$saved"
check "SIGTERM after the restart" mg_stop node TERM
check "the original is back" is_original

# ---- an admin's edit while it runs ----
admin() {
	ns_exec node sh -c 'echo "nameserver 198.51.100.1" >/etc/resolv.conf'
}
is_admins() {
	[ "$(cat "$file")" = "nameserver 198.51.100.1" ]
}
left_alone() {
	os_resolver | grep -q '"error": ".*changed by another program.*"managed": false'
}
start
admin
check "SIGTERM after an admin's edit" mg_stop node TERM
check "the admin's edit stays after the stop" is_admins
check "the log says it was left alone, and where the original is" \
	grep -q "changed by another program since meshgated wrote it; left as it is (the file from before meshgated is in $saved)" \
	<(mg_log node)
cp "$dir/original" "$file"
rm -f "$saved"
start
admin
check "SIGHUP after an admin's edit" kill -HUP "$(mg_pid node)"
check "status: not managed, changed by another program" wait_for 50 0.1 left_alone
check "the reload did not overwrite the admin's edit" is_admins
check "SIGTERM" mg_stop node TERM
check "nor did the stop" is_admins
cp "$dir/original" "$file"
rm -f "$saved"

# ---- a reload that switches management off ----
start
write_conf false
kill -HUP "$(mg_pid node)"
check "a reload with manage_resolv_conf = false puts the original back" \
	wait_for 50 0.1 is_original
check "status: not managed" \
	[ "$(os_resolver)" = '{"error": null, "managed": false, "method": null}' ]
check "SIGTERM" mg_stop node TERM
check "still the original" is_original

check "the host's /etc/resolv.conf is untouched" [ "$(sha256sum </etc/resolv.conf)" = "$host_sum" ]
pass
