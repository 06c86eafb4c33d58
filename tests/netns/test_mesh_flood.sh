#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# A member that streams on the control channel: laptop (its own daemon held
# off the channel by nft) sends 2,000 `update` lines whose endpoint
# alternates, then reconnects 50 times (ctlstorm.py, bound to its mesh
# address, to home's port 41642). The coordinator limits each node's
# hellos, updates and reconnects, writes only what changes, debounces
# endpoints and spaces its rebuilds, so phone's netmap version grows by a
# small bounded number (before: about one per burst of lines); home stays
# responsive (phone's pings through it, `meshgate nodes`); the counters say
# what was deferred, refused and skipped; and laptop's real state and a
# genuine change made after the storm (a route, auto-approved) still arrive.
#
#  laptop ── veth ── inet ── veth ── home
#  phone  ── veth ──/
#
#  laptop  up0  198.51.100.2/24   default via inet
#  phone   up0  198.51.101.2/24   default via inet
#  inet    lap0 198.51.100.1/24  pho0 198.51.101.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10,
#                                 auto_approve 10.77.0.0/16
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping nft python3 timeout
root_state_snapshot

here=$(dirname "$(readlink -f "$0")")
MARK=0x5354 # the storm's sockets; the laptop daemon's control connection has none
LINES=2000
RECONNECTS=50
MAX_VERSIONS=40 # phone's netmap version may grow by this much over the storm

# The newest netmap version phone took (its log), 0 before any.
phone_version() {
	sed -n 's/.*mesh: netmap \([0-9]*\):.*/\1/p' "$MESH_DIR/phone.log" | tail -n 1 | grep . || echo 0
}

# A counter of home's daemon.mesh_control object (-1: absent).
counter() {
	mg_cli home home status --json | python3 -c 'import json,sys
print(json.load(sys.stdin)["daemon"].get("mesh_control", {}).get(sys.argv[1], -1))' "$1"
}

# Holds laptop's daemon off the control channel (ON) or lets it back (OFF).
hold_laptop() {
	if [ "$1" = on ]; then
		ns_exec laptop nft -f - <<NFT
table inet stormtest {
	chain output {
		type filter hook output priority filter; policy accept;
		tcp dport 41642 meta mark != $MARK reject with tcp reset
	}
}
NFT
	else
		ns_exec laptop nft delete table inet stormtest
	fi
}

# Pings from phone to home's mesh address while the storm runs: prints
# "answered sent".
ping_during() { # SECONDS
	local sent=0 ok=0 end=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$end" ] && [ "$sent" -lt 200 ]; do
		sent=$((sent + 1))
		if ns_exec phone ping -c 1 -W 1 100.64.0.1 >/dev/null 2>&1; then
			ok=$((ok + 1))
			sleep 0.2
		fi
	done
	echo "$ok $sent"
}

mesh_topology_flat
mesh_conf home 'coordinator = { enabled = true; stun = []; prefix4 = "100.64.0.0/10"; prefix6 = "fd7a:6d67:7465::/48";
	auto_approve = { routes = [ "10.77.0.0/16" ]; }; };'
mesh_conf laptop ''
mesh_conf phone ''
mesh_start home
mesh_start laptop
mesh_start phone
mesh_join laptop || fail "laptop did not join"
mesh_join phone || fail "phone did not join"
laptop=$(mesh_addr laptop)
check "phone reaches home through the mesh" wait_for 100 0.2 mesh_ping phone 100.64.0.1
check "phone reaches laptop" wait_for 100 0.2 mesh_ping phone "$laptop"
check "laptop is online on the coordinator" wait_for 50 0.2 mesh_has laptop endpoints "198.51.100.2:41641"
sleep 2 # the netmaps after the joins settle
v0=$(phone_version)
rebuilds0=$(counter rebuilds)
log "phone's netmap version before the storm: $v0"

hold_laptop on
start=$SECONDS
ns_exec laptop python3 "$here/ctlstorm.py" "$laptop" 100.64.0.1 41642 "$LINES" "$RECONNECTS" \
	"$MARK" 198.51.100.2:41700 198.51.100.2:41701 >"$MESH_DIR/storm.json" &
storm=$!
track_pid "$storm"
read -r answered sent < <(ping_during 12)
nodes_ok=0
timeout 10 "$MESHGATE" --socket "$MESH_DIR/home.sock" nodes >/dev/null && nodes_ok=1
wait_for 600 0.1 not kill -0 "$storm" || fail "the storm client did not finish"
wait "$storm" || fail "the storm client failed"
log "storm: $(cat "$MESH_DIR/storm.json") in $((SECONDS - start)) s; pings from phone through home: $answered of $sent answered"
check "the storm sent every line" grep -q "\"lines\": $LINES" "$MESH_DIR/storm.json"
check "home answered at least half the pings during the storm" [ $((answered * 2)) -ge "$sent" ]
check "meshgate nodes answered during the storm" [ "$nodes_ok" = 1 ]
sleep 3 # what was deferred to the next rebuild goes out
v1=$(phone_version)
log "phone's netmap version after the storm: $v1 (+$((v1 - v0)), at most $MAX_VERSIONS allowed)"
for name in updates_deferred endpoints_debounced reconnects_refused writes_skipped rebuilds \
	netmaps_pushed netmaps_oversize lines_ignored; do
	log "home: mesh_control.$name = $(counter "$name")"
done
check "phone's netmap version grew by a bounded number" [ $((v1 - v0)) -le "$MAX_VERSIONS" ]
check "home counted the updates over the limit" [ "$(counter updates_deferred)" -gt 0 ]
check "home counted the reconnects over the limit" [ "$(counter reconnects_refused)" -gt 0 ]
check "home counted the writes it skipped" [ "$(counter writes_skipped)" -gt 0 ]
check "home rebuilt a bounded number of times" \
	[ $(($(counter rebuilds) - rebuilds0)) -le $((MAX_VERSIONS * 2)) ]
check "phone still reaches home" wait_for 50 0.2 mesh_ping phone 100.64.0.1

# Laptop's daemon comes back: its real endpoints win over the storm's.
hold_laptop off
check "laptop's real endpoint is back on the coordinator" \
	wait_for 300 0.2 mesh_has laptop endpoints "198.51.100.2:41641"
check "the storm's endpoints are gone" not mesh_has laptop endpoints "198.51.100.2:41700"
check "phone reaches laptop after the storm" wait_for 100 0.2 mesh_ping phone "$laptop"

# A genuine change right after the storm arrives, even from a node whose
# budget the storm spent.
mesh_conf laptop 'subnet_router = { routes = [ "10.77.1.0/24" ]; snat = true; };'
mesh_reload laptop || fail "laptop did not reload"
check "laptop's new route reaches the coordinator" \
	wait_for 300 0.2 mesh_has laptop routes_approved "10.77.1.0/24"
phone_sees_route() {
	mesh_peer phone laptop routes | grep -qF "10.77.1.0/24"
}
check "phone's netmap carries the new route" wait_for 150 0.2 phone_sees_route

pass
