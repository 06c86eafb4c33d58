#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Approval is enforced where traffic flows, and the page stays in the mesh.
# office, a member, is configured as subnet router (snat) and exit node;
# both offers stay pending until approved. laptop, another member, adds
# office's LAN and the internet itself (a route through its TUN, allowed
# IPs with `wg set` over meshgated's UAPI) and still reaches neither until
# `meshgate routes approve`. laptop serves nothing, yet its host forwards
# (ip_forward=1): a packet office sends it for inet is not forwarded. The
# LAN host switch routes the mesh prefix via office: it cannot fetch
# office's status page on office's mesh address (laptop can), and with snat
# it cannot open a connection into the mesh, while laptop's connections to
# the switch get their replies.
#
#  laptop ── veth ── inet ── veth ── home
#                     └──── veth ── office ── veth ── switch
#
#  laptop  up0  198.51.100.2/24   default via inet; accept_routes; ip_forward=1
#  inet    lap0 198.51.100.1/24  home0 203.0.113.1/24  off0 198.18.0.1/24
#          lo   192.0.2.80/32     the "internet" host (whoami, port 7777)
#          route 100.64.0.0/10 via laptop (so its replies go back there)
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10
#  office  wan0 198.18.0.2/24     member; subnet router for 192.168.77.0/24
#          lan0 192.168.77.1/24   (snat), exit node, status page on :8080
#  switch  eth0 192.168.77.2/24   no VPN software; default via office, so
#                                 100.64.0.0/10 goes via office too
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
require_cmd ip ping wg nft curl python3 timeout
root_state_snapshot

setup() {
	ns_create laptop inet home office switch
	mesh_forwarding inet laptop
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink office wan0 inet off0 198.18.0
	mesh_uplink switch eth0 office lan0 192.168.77
	ns_ip inet addr add 192.0.2.80/32 dev lo
	ns_ip inet route add 100.64.0.0/10 via 198.51.100.2
}

tun() { # NAME: its interface, as mesh_conf names it
	echo "mg${1:0:1}${1: -3}$MG_PID"
}

routes() { # ACTION PREFIX...
	mg_cli home home routes "$1" office "${@:2}" >/dev/null
}

# served NAME FIELD: a field of NAME's own status (self), as JSON.
served() {
	mg_cli "$1" "$1" status --json | python3 -c 'import json,sys
print(json.dumps(json.load(sys.stdin)["self"][sys.argv[1]]))' "$2"
}

served_is() { # NAME FIELD JSON
	[ "$(served "$1" "$2")" = "$3" ]
}

# claim NS PEER_NAME ADDR PREFIX...: NS's daemon sends PREFIXes to the peer
# through its TUN, whatever the netmap says (the peer's own mesh ADDR kept).
claim() {
	local ns=$1 peer=$2 addr=$3 key p allowed
	shift 3
	key=$(mesh_peer "$ns" "$peer" public_key)
	allowed="$addr/32"
	for p in "$@"; do
		allowed+=",$p"
		ns_ip "$ns" route replace "$p" dev "$(tun "$ns")"
	done
	ns_exec "$ns" wg set "$(tun "$ns")" peer "$key" allowed-ips "$allowed"
}

has_chain() { # NS CHAIN: the owned table has it
	ns_exec "$1" nft list chain inet meshgate "$2" >/dev/null 2>&1
}

page() { # NS URL
	ns_exec "$1" curl -sf -m 3 -o /dev/null "$2"
}

setup
mesh_conf_coordinator home
mesh_conf laptop 'accept_routes = true;'
mesh_conf office 'exit_node = { enabled = true; };
subnet_router = { routes = [ "192.168.77.0/24" ]; snat = true; };'
sed -i 's/^web = .*/web = { enabled = true; };/' "$MESH_DIR/office.conf"
mesh_start home
mesh_start laptop
mesh_start office
topo_whoami_start inet 192.0.2.80
topo_whoami_start switch 192.168.77.2

check "laptop joins" mesh_join laptop
check "office joins" mesh_join office
LAPTOP_MESH=$(mesh_addr laptop)
OFFICE_MESH=$(mesh_addr office)
check "laptop reaches office" wait_for 50 0.2 mesh_ping laptop "$OFFICE_MESH"
check "office reaches laptop" wait_for 50 0.2 mesh_ping office "$LAPTOP_MESH"
check "office's LAN is pending" mesh_has office routes_pending 192.168.77.0/24
check "office's exit offer is pending" mesh_has office routes_pending 0.0.0.0/0
check "office serves nothing yet" served_is office served_routes '[]'
check "office's status says what it offers" \
	served_is office advertised_routes '["192.168.77.0/24"]'

# A node serving nothing on a host that forwards: its TUN forwards nothing.
claim office laptop "$LAPTOP_MESH" 198.51.100.1/32
check "the table is there on laptop, serving nothing" has_chain laptop from_mesh
check "office cannot use laptop's host as a router (ip_forward=1)" \
	not wait_for 3 0.5 mesh_ping office 198.51.100.1
ns_ip office route del 198.51.100.1/32

# The page: through the mesh and loopback, not from the LAN.
ns_ip switch route add 100.64.0.0/10 via 192.168.77.1
check "laptop fetches office's page through the mesh" \
	wait_for 25 0.2 page laptop "http://$OFFICE_MESH:8080/"
check "office fetches its own page on its mesh address" page office "http://$OFFICE_MESH:8080/"
check "the LAN host cannot fetch office's page on the mesh address" \
	not page switch "http://$OFFICE_MESH:8080/"
check "nor the metrics" not page switch "http://$OFFICE_MESH:8080/metrics"

# Pending LAN: laptop routes it into office's TUN itself; office drops it.
claim laptop office "$OFFICE_MESH" 192.168.77.0/24
check "a pending LAN is not forwarded, whatever laptop routes" \
	not wait_for 3 0.5 mesh_ping laptop 192.168.77.2
routes approve 192.168.77.0/24
check "approved: office serves its LAN" \
	wait_for 25 0.2 served_is office served_routes '["192.168.77.0/24"]'
check "approved: laptop reaches the switch" wait_for 25 0.2 mesh_ping laptop 192.168.77.2
check "the switch sees office's LAN address (snat)" sees laptop 192.168.77.1 192.168.77.2

# snat: replies enter the mesh from the LAN, new connections do not.
check "the switch cannot open a connection into the mesh (snat)" \
	not wait_for 3 0.5 mesh_ping switch "$LAPTOP_MESH"
check "laptop's connections to the switch still get replies" sees laptop 192.168.77.1 192.168.77.2

# Unapproved exit: laptop sends internet traffic to office itself.
claim laptop office "$OFFICE_MESH" 192.168.77.0/24 192.0.2.80/32
check "an unapproved exit carries nothing, whatever laptop routes" \
	not wait_for 3 0.5 whoami laptop 192.0.2.80
check "office does not serve its exit yet" served_is office exit_node_served false
routes approve 0.0.0.0/0 ::/0
check "approved: office serves its exit" wait_for 25 0.2 served_is office exit_node_served true
claim laptop office "$OFFICE_MESH" 192.168.77.0/24 192.0.2.80/32
check "approved: office carries laptop's internet traffic" \
	wait_for 25 0.2 sees laptop 198.18.0.2 192.0.2.80

# The table that is always there goes with the daemon.
mg_stop laptop
check "a stopped laptop leaves no table" not has_chain laptop forward

pass
