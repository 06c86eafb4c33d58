#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Routes through the mesh: home, the coordinator, advertises its LAN and an
# exit offer, approved by being in its own config (no command, no
# auto_approve); `routes unapprove` of them is refused; a route taken out of
# home's config stops being served within seconds, and is approved again when
# put back. A member's route stays pending until approved with `meshgate
# routes`. The exit node carries the laptop's internet traffic, and nothing
# once home no longer offers it. Advertisements changed by a reload reach the
# coordinator (an `update` from a node, a re-read config on the coordinator);
# a reload that moves laptop's UDP port has the coordinator probe the new one.
#
#  laptop ── veth ── inet ── veth ── home ── veth ── switch
#
#  laptop  up0  198.51.100.2/24   default via inet; accept_routes
#  inet    lap0 198.51.100.1/24  home0 203.0.113.1/24
#          lo   192.0.2.80/32     the "internet" host (whoami, port 7777)
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10;
#          lan0 192.168.77.1/24   subnet router for 192.168.77.0/24 (snat), exit node
#  switch  eth0 192.168.77.2/24   no VPN software, default via home
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

setup() {
	ns_create laptop inet home switch
	mesh_forwarding inet
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink switch eth0 home lan0 192.168.77
	ns_ip inet addr add 192.0.2.80/32 dev lo
}

home_conf() { # ROUTES (libconfig list items)
	mesh_conf_coordinator home '' "exit_node = { enabled = true; };
subnet_router = { routes = [ $1 ]; snat = true; };"
}

routes() { # NAME ACTION PREFIX...
	local name=$1 action=$2
	shift 2
	mg_cli home home routes "$action" "$name" "$@" >/dev/null
}

setup
home_conf '"192.168.77.0/24"'
mesh_conf laptop 'accept_routes = true;'
mesh_start home
mesh_start laptop
topo_whoami_start inet 192.0.2.80
topo_whoami_start switch 192.168.77.2

check "laptop joins" mesh_join laptop
HOME_MESH=$(mesh_addr home)
check "laptop reaches home" wait_for 50 0.2 mesh_ping laptop "$HOME_MESH"

# Approved by home's own config, without a command.
check "home's LAN is approved" wait_for 25 0.2 mesh_has home routes_approved 192.168.77.0/24
check "home's exit offer is approved" mesh_has home routes_approved 0.0.0.0/0
check "and its IPv6 one" mesh_has home routes_approved ::/0
check "nothing of home's is pending" [ "$(mesh_node home routes_pending)" = "[]" ]
check "laptop reaches the switch" wait_for 25 0.2 mesh_ping laptop 192.168.77.2
check "the switch sees home's LAN address (snat)" sees laptop 192.168.77.1 192.168.77.2
unapprove_refused() {
	local err
	err=$(mg_cli home home routes unapprove home 192.168.77.0/24 2>&1) && return 1
	[ "$err" = "meshgate: home's routes follow its own config (it is the coordinator): remove them there" ]
}
check "unapproving home's own route is refused, in one line" unapprove_refused
check "the LAN stays approved" mesh_has home routes_approved 192.168.77.0/24
# Out of the config, out of the mesh; back in, approved again.
home_conf ''
mesh_reload home
check "a route taken out of home's config leaves the coordinator" \
	wait_for 25 0.2 not mesh_has home routes_advertised 192.168.77.0/24
check "and the switch is unreachable" wait_for 25 0.2 not mesh_ping laptop 192.168.77.2
home_conf '"192.168.77.0/24"'
mesh_reload home
check "put back, it is approved again" wait_for 25 0.2 mesh_has home routes_approved 192.168.77.0/24
check "and laptop reaches the switch again" wait_for 25 0.2 mesh_ping laptop 192.168.77.2

# A reload that changes the advertised routes: the coordinator follows.
mesh_conf laptop 'accept_routes = true;
subnet_router = { routes = [ "192.168.88.0/24" ]; snat = true; };'
mesh_reload laptop
check "laptop's new route reaches the coordinator (update)" \
	wait_for 25 0.2 mesh_has laptop routes_advertised 192.168.88.0/24
check "and is pending there" mesh_has laptop routes_pending 192.168.88.0/24
routes laptop approve 192.168.88.0/24
check "a member's route is approved by the admin" \
	wait_for 25 0.2 mesh_has laptop routes_approved 192.168.88.0/24
routes laptop unapprove 192.168.88.0/24
check "and unapproved" wait_for 25 0.2 mesh_has laptop routes_pending 192.168.88.0/24
mesh_conf laptop 'accept_routes = true;'
mesh_reload laptop
check "a withdrawn route leaves the coordinator" \
	wait_for 25 0.2 not mesh_has laptop routes_advertised 192.168.88.0/24
# A new listen_port: laptop asks for a probe of it at once (the
# coordinator may make it wait out its limit), then of the old one again.
udp_port_says() { # NAME MESSAGE
	[ "$(mg_preflight "$1" "$1" udp_port message)" = "$2" ]
}
check "laptop's UDP port is reachable" \
	wait_for 50 0.2 udp_port_says laptop "UDP 41641 is reachable by the coordinator (seen as 198.51.100.2:41641)"
sed -i 's/^listen_port = 41641;$/listen_port = 41700;/' "$MESH_DIR/laptop.conf"
mesh_reload laptop
check "after a reload to port 41700 the coordinator probes that port" \
	wait_for 100 0.2 udp_port_says laptop "UDP 41700 is reachable by the coordinator (seen as 198.51.100.2:41700)"
sed -i 's/^listen_port = 41700;$/listen_port = 41641;/' "$MESH_DIR/laptop.conf"
mesh_reload laptop
check "and the old port again after the next reload" \
	wait_for 100 0.2 udp_port_says laptop "UDP 41641 is reachable by the coordinator (seen as 198.51.100.2:41641)"
check "the mesh still works on the old port" wait_for 25 0.2 mesh_ping laptop "$HOME_MESH"
home_conf '"192.168.77.0/24", "192.168.79.0/24"'
mesh_reload home
check "home's reloaded config adds its new route, approved" \
	wait_for 25 0.2 mesh_has home routes_approved 192.168.79.0/24

# The exit node through the mesh.
check "without an exit node, the internet host sees laptop itself" \
	sees laptop 198.51.100.2 192.0.2.80
mesh_conf laptop 'accept_routes = true;
use_exit_node = { peer = "home"; };'
mesh_reload laptop
check "through the exit node, the internet host sees home" \
	wait_for 25 0.2 sees laptop 203.0.113.2 192.0.2.80
check "the mesh still works" mesh_ping laptop "$HOME_MESH"
# A restart: the plan at start-up has no netmap peers yet; the exit named
# in the config waits for them (warned) instead of stopping the daemon.
mg_stop laptop
mesh_start laptop
check "laptop restarts with use_exit_node set" \
	grep -q "exit node 'home' is not in the mesh's netmap (yet)" "$MESH_DIR/laptop.log"
check "after the restart the exit node carries laptop's traffic again" \
	wait_for 50 0.2 sees laptop 203.0.113.2 192.0.2.80
# Withdrawn from home's config, the exit node carries nothing and nothing
# leaks out directly; the rest of the netmap still applies.
mesh_conf home "coordinator = { enabled = true; stun = []; prefix4 = \"100.64.0.0/10\"; prefix6 = \"fd7a:6d67:7465::/48\"; };
subnet_router = { routes = [ \"192.168.77.0/24\", \"192.168.79.0/24\" ]; snat = true; };"
mesh_reload home
check "home's exit offer leaves the coordinator" \
	wait_for 25 0.2 not mesh_has home routes_advertised 0.0.0.0/0
check "a withdrawn exit node carries nothing, nothing leaks" \
	wait_for 25 0.2 not whoami laptop 192.0.2.80
check "the mesh still works without the exit offer" mesh_ping laptop "$HOME_MESH"
mesh_conf laptop 'accept_routes = true;'
mesh_reload laptop
check "without use_exit_node, laptop goes out directly again" \
	wait_for 25 0.2 sees laptop 198.51.100.2 192.0.2.80

pass
