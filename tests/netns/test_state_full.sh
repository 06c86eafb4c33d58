#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# A full disk under the coordinator's state_dir (a small tmpfs the test
# mounts, filled with a file): a join fails with a clear error, printed by
# the joiner and logged by the coordinator, and does not use up its invite;
# meanwhile the mesh keeps working: laptop and phone, joined before, still
# ping each other and home, reconnect their control channels, and `meshgate
# nodes` answers. Once space is freed, the same invite joins.
#
#  home ───┐
#  laptop ─┼── hub (bridge br0)
#  phone ──┤
#  tablet ─┘
#
#  home    eth0 10.99.0.1/24   coordinator, prefix 100.64.0.0/10; state_dir
#                              on a 2 MiB tmpfs
#  laptop  eth0 10.99.0.2/24   phone eth0 10.99.0.3/24   tablet eth0 10.99.0.4/24
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping nft python3 mount umount dd
root_state_snapshot

dir=$(mg_workdir)
state=$dir/state-home

setup() {
	local name k=1
	ns_create hub home laptop phone tablet
	ns_ip hub link add br0 type bridge
	ns_ip hub link set br0 up
	for name in home laptop phone tablet; do
		veth_pair hub "p-$name" "$name" eth0
		ns_ip hub link set "p-$name" master br0
		ns_ip "$name" addr add "10.99.0.$k/24" dev eth0
		k=$((k + 1))
	done
}

# mesh_join_code NAME CODE
mesh_join_code() {
	local out
	out=$(mg_cli "$1" "$1" join "$2" 2>&1) || { log "join $1: $out"; return 1; }
	log "$out"
}

disk_free_kb() {
	df -k --output=avail "$state" | tail -1 | tr -d ' '
}

# Unmounted first: the scratch directory's removal must not meet the mount.
mkdir -p "$state"
mount -t tmpfs -o size=2m,mode=0700 "mg-$MG_TEST-$MG_PID" "$state"
MG_EXTRA_CLEANUP=("umount '$state'" "${MG_EXTRA_CLEANUP[@]}")

setup
mesh_conf home 'coordinator = { enabled = true; stun = []; prefix4 = "100.64.0.0/10"; prefix6 = "fd7a:6d67:7465::/48"; };'
for name in laptop phone tablet; do
	mesh_conf "$name" ''
done
for name in home laptop phone tablet; do
	mesh_start "$name"
done
check "laptop joins" mesh_join laptop
check "phone joins" mesh_join phone
HOME_MESH=$(mesh_addr home)
LAPTOP_MESH=$(mesh_addr laptop)
PHONE_MESH=$(mesh_addr phone)
check "laptop reaches phone" wait_for 50 0.2 mesh_ping laptop "$PHONE_MESH"
tablet_code=$(mg_cli home home invite)

# ---- the disk fills up ----
dd if=/dev/zero of="$state/filler" bs=4k >/dev/null 2>&1 || true
check "state_dir's file system is full ($(disk_free_kb) kB free)" test "$(disk_free_kb)" -eq 0
log_at=$(($(stat -c %s "$dir/home.log") + 1))
out=$(mg_cli tablet tablet join "$tablet_code" 2>&1) && rc=0 || rc=$?
log "tablet's join: $out"
check "tablet's join fails" test "$rc" -ne 0
check "tablet is told the coordinator's disk is full" grep -qi "disk.*full\|no space" <<<"$out"
home_said=$(tail -c +"$log_at" "$dir/home.log")
log "home logged: $(tr '\n' ' ' <<<"$home_said")"
check "home logs that its disk is full" grep -qi "disk.*full\|no space" <<<"$home_said"
check "and not that tablet joined" not grep -q "node tablet .* joined" <<<"$home_said"
check "the mesh goes on: laptop reaches phone" mesh_ping laptop "$PHONE_MESH"
check "phone reaches laptop" mesh_ping phone "$LAPTOP_MESH"
check "laptop reaches home" mesh_ping laptop "$HOME_MESH"
check "meshgate nodes answers" mg_cli home home nodes
# A node restart: its control channel comes back, hello and all.
mg_stop phone TERM
mesh_start phone
check "phone, restarted, reaches laptop" wait_for 50 0.2 mesh_ping phone "$LAPTOP_MESH"
check "and home sees it online" wait_for 50 0.2 sh -c "$(printf '%q ' "$MESHGATE" --socket "$dir/home.sock") nodes --json |
	python3 -c 'import json,sys; sys.exit(0 if any(n[\"name\"] == \"phone\" and n[\"online\"] for n in json.load(sys.stdin)) else 1)'"
check "the daemon is still running" kill -0 "$(mg_pid home)"

# ---- space again ----
rm -f "$state/filler"
check "with space again, the same invite joins tablet" mesh_join_code tablet "$tablet_code"
TABLET_MESH=$(mesh_addr tablet)
check "tablet reaches laptop" wait_for 50 0.2 mesh_ping tablet "$LAPTOP_MESH"
check "laptop reaches tablet" wait_for 50 0.2 mesh_ping laptop "$TABLET_MESH"
pass
