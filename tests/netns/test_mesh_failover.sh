#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Two routers serve one LAN: router1 is approved by hand; router2 stays
# pending although auto_approve covers its prefix (it is router1's: a node
# of lower id would take it over at once) until it is approved by hand too.
# The online one with the lowest node id carries
# the prefix; when its daemon stops, the coordinator notices within seconds
# and pushes netmaps that move the prefix to router2; when it comes back, the
# prefix moves back.
#
#  laptop ── veth ── inet ── veth ── home
#                     ├── veth ── router1 ── veth ──┐
#                     └── veth ── router2 ── veth ──┴─ switch (bridge)
#
#  laptop   up0  198.51.100.2/24   default via inet; accept_routes
#  inet     lap0 198.51.100.1/24  home0 203.0.113.1/24
#           r1   198.51.102.1/24  r2    198.51.103.1/24
#  home     wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10
#  router1  wan0 198.51.102.2/24   lan0 192.168.77.11/24   subnet router (snat)
#  router2  wan0 198.51.103.2/24   lan0 192.168.77.12/24   subnet router (snat)
#  switch   br0  192.168.77.2/24   (eth1, eth2)   whoami on port 7777
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=topology.sh
. "$(dirname "$(readlink -f "$0")")/topology.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping nft python3 timeout
root_state_snapshot

LAN=192.168.77.0/24

setup() {
	ns_create laptop inet home router1 router2 switch
	mesh_forwarding inet
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink router1 wan0 inet r1 198.51.102
	mesh_uplink router2 wan0 inet r2 198.51.103
	veth_pair router1 lan0 switch eth1
	veth_pair router2 lan0 switch eth2
	ns_ip switch link add br0 type bridge
	ns_ip switch link set eth1 master br0
	ns_ip switch link set eth2 master br0
	ns_ip switch link set br0 up
	ns_ip router1 addr add 192.168.77.11/24 dev lan0
	ns_ip router2 addr add 192.168.77.12/24 dev lan0
	ns_ip switch addr add 192.168.77.2/24 dev br0
}

ROUTER="subnet_router = { routes = [ \"$LAN\" ]; snat = true; };"

# via ADDR: laptop reaches the switch, which sees ADDR (the router's LAN side).
via() {
	sees laptop "$1" 192.168.77.2
}

# carries ROUTER: laptop's status puts the LAN on that peer.
carries() {
	mesh_peer laptop "$1" routes | grep -qF "$LAN"
}

setup
mesh_conf_coordinator home
mesh_conf laptop 'accept_routes = true;'
mesh_conf router1 "$ROUTER"
mesh_conf router2 "$ROUTER"
mesh_start home
mesh_start laptop
mesh_start router1
mesh_start router2
topo_whoami_start switch 192.168.77.2

check "laptop joins" mesh_join laptop
check "router1 joins" mesh_join router1
check "router1's LAN is pending" wait_for 25 0.2 mesh_has router1 routes_pending "$LAN"
check "laptop cannot reach the LAN yet" not wait_for 3 0.5 via 192.168.77.11
mg_cli home home routes approve router1 "$LAN" >/dev/null
check "approved: laptop reaches the LAN through router1" wait_for 50 0.2 via 192.168.77.11

# auto_approve covering the prefix leaves another node's approved prefix
# pending: the admin decides who stands by for router1.
mesh_conf_coordinator home 'auto_approve = { routes = [ "192.168.0.0/16" ]; };'
mesh_reload home
check "router2 joins" mesh_join router2
check "router2's LAN (router1's) stays pending under auto_approve" \
	wait_for 25 0.2 mesh_has router2 routes_pending "$LAN"
check "approving it by hand warns that router1 serves it" \
	sh -c "'$MESHGATE' --socket '$MESH_DIR/home.sock' routes approve router2 '$LAN' 2>&1 | grep -q 'also approved for router1'"
check "router2's LAN is approved" wait_for 25 0.2 mesh_has router2 routes_approved "$LAN"
check "router2's LAN is not pending" not mesh_has router2 routes_pending "$LAN"
id1=$(mesh_node router1 id)
id2=$(mesh_node router2 id)
log "router1 id $id1, router2 id $id2"
check "router1 has the lower id" [ "$id1" -lt "$id2" ]
check "the primary (lowest id) carries the LAN: router1" wait_for 25 0.2 carries router1
check "router2 does not" not carries router2
check "laptop still goes through router1" via 192.168.77.11

# The primary's daemon stops: router2 takes over within seconds.
mg_stop router1
start=$(date +%s)
check "the coordinator sees router1 offline" \
	wait_for 60 0.5 sh -c "'$MESHGATE' --socket '$MESH_DIR/home.sock' nodes --json | python3 -c 'import json,sys
sys.exit(0 if any(n[\"name\"] == \"router1\" and not n[\"online\"] for n in json.load(sys.stdin)) else 1)'"
check "laptop reaches the LAN through router2" wait_for 50 0.2 via 192.168.77.12
log "failover after $(($(date +%s) - start)) s"
check "router2 carries the LAN now" carries router2

# router1 comes back: the LAN moves back.
mesh_start router1
check "laptop goes through router1 again" wait_for 100 0.2 via 192.168.77.11
check "router1 carries the LAN again" carries router1

pass
