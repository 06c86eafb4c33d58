#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The mesh resolver on every member: dig @100.100.100.100 (and
# fd7a:6d67:7465::53, and the coordinator's mesh address) on laptop and on
# home gives A, AAAA and PTR of the mesh's names, the coordinator's static
# record, NXDOMAIN for an unknown name, over UDP and TCP; names outside the
# mesh go to laptop's forwarder, whose dns.upstream (inet, where nothing
# answers DNS) fails: SERVFAIL (test_dns_exit.sh has the forwarding itself;
# an upstream inside the test keeps queries off the host's resolver). The
# LAN host beside home
# and the WAN host get no answer, even with a route to 100.100.100.100 (or
# to home's mesh address) through home. A reload of home's dns.records
# reaches laptop's answers; the counters are in the status document;
# dns.enabled = false on a reload takes the address away; after SIGKILL
# and --cleanup nothing is left.
#
#  laptop ── veth ── inet ── veth ── home ── veth ── lanhost
#
#  laptop   up0  198.51.100.2/24   default via inet
#  inet     lap0 198.51.100.1/24  home0 203.0.113.1/24   the WAN host;
#           routes 100.100.100.100 and 100.64.0.0/10 via home
#  home     wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10,
#           lan0 192.168.77.1/24   dns.records: switch = 192.168.77.2
#  lanhost  eth0 192.168.77.2/24   no VPN software, default via home
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip dig nft python3 timeout
root_state_snapshot

setup() {
	ns_create laptop inet home lanhost
	mesh_forwarding inet
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink lanhost eth0 home lan0 192.168.77
	ns_ip inet route add 100.100.100.100/32 via 203.0.113.2
	ns_ip inet route add 100.64.0.0/10 via 203.0.113.2
}

home_conf() { # SWITCH-ADDRESS
	mesh_conf_coordinator home '' "dns = { records = ( { name = \"switch\"; address = \"$1\"; } ); };"
}

# dig NS ARGS...: the short answer, bounded (1 s, one try).
q() {
	local ns=$1
	shift
	ns_exec "$ns" timeout 10 dig +time=1 +tries=1 +short "$@" 2>/dev/null
}

# The status line of the answer ("NOERROR", "NXDOMAIN", ...), or nothing.
rcode() {
	local ns=$1
	shift
	ns_exec "$ns" timeout 10 dig +time=1 +tries=1 "$@" 2>/dev/null |
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}

answers() { # NS WANT ARGS...
	local ns=$1 want=$2
	shift 2
	[ "$(q "$ns" "$@")" = "$want" ]
}

has_rcode() { # NS WANT ARGS...
	local ns=$1 want=$2
	shift 2
	[ "$(rcode "$ns" "$@")" = "$want" ]
}

# No answer at all: dig gives up (timeout or refused connection).
silent() { # NS ARGS...
	local ns=$1 out
	shift
	out=$(ns_exec "$ns" timeout 10 dig +time=1 +tries=1 "$@" 2>&1) || true
	! grep -q 'status:' <<<"$out"
}

dns_status() { # NAME PYEXPR over d = the status document's dns
	mesh_json "$(mg_cli "$1" "$1" status --json)" "$2"
}

setup
home_conf 192.168.77.2
mesh_conf laptop 'dns = { upstream = [ "198.51.100.1" ]; };'
mesh_start home
mesh_start laptop

check "laptop joins" mesh_join laptop
HOME_MESH=$(mesh_addr home)
LAPTOP_MESH=$(mesh_addr laptop)
check "laptop reaches home" wait_for 50 0.2 mesh_ping laptop "$HOME_MESH"
check "the resolver's address is on laptop's TUN" \
	wait_for 50 0.2 ns_exec laptop sh -c 'ip -o addr show | grep -q "100.100.100.100/32"'

# Every node holds them: never the source of the node's own traffic.
check "the resolver's IPv4 address has scope host" \
	ns_exec laptop sh -c 'ip -o addr show | grep -q "100.100.100.100/32 scope host"'
src6() { ns_exec laptop ip -6 route get "$1" | sed -n 's/.* src \([^ ]*\).*/\1/p'; }
check "nor is the IPv6 one picked as a source (a neighbour of ::53)" \
	[ "$(src6 fd7a:6d67:7465::52)" = fd7a:6d67:7465::2 ]
check "laptop: home.mesh.internal A" \
	wait_for 50 0.2 answers laptop "$HOME_MESH" @100.100.100.100 home.mesh.internal A
HOME_MESH6=$(q laptop @100.100.100.100 home.mesh.internal AAAA)
check "laptop: home.mesh.internal AAAA is a mesh IPv6 address" \
	grep -q '^fd7a:6d67:7465:' <<<"$HOME_MESH6"
check "home: laptop.mesh.internal A" \
	wait_for 50 0.2 answers home "$LAPTOP_MESH" @100.100.100.100 laptop.mesh.internal A
check "home: home.mesh.internal A (itself)" \
	answers home "$HOME_MESH" @100.100.100.100 home.mesh.internal A
check "laptop: the PTR of home's mesh address" \
	answers laptop "home.mesh.internal." @100.100.100.100 -x "$HOME_MESH"
check "laptop: the static record switch.mesh.internal" \
	wait_for 50 0.2 answers laptop 192.168.77.2 @100.100.100.100 switch.mesh.internal A
check "laptop: NXDOMAIN for an unknown name" \
	has_rcode laptop NXDOMAIN @100.100.100.100 nope.mesh.internal A
check "laptop: over TCP" \
	answers laptop "$HOME_MESH" +tcp @100.100.100.100 home.mesh.internal A
check "laptop: at fd7a:6d67:7465::53" \
	answers laptop "$HOME_MESH" @fd7a:6d67:7465::53 home.mesh.internal A
check "laptop: at home's mesh address (home's resolver)" \
	answers laptop "$HOME_MESH" @"$HOME_MESH" home.mesh.internal A
check "laptop: at home's mesh address over TCP" \
	answers laptop "$HOME_MESH" +tcp @"$HOME_MESH" home.mesh.internal A
check "laptop: a name outside the mesh, its upstream failing: SERVFAIL" \
	has_rcode laptop SERVFAIL +time=8 @100.100.100.100 example.com A

# No open resolver: the LAN and the WAN never get an answer. The status
# document is republished every second: wait for one with laptop's last
# queries before counting.
sleep 2
before=$(dns_status home 'd["dns"]["queries"]["udp"] + d["dns"]["queries"]["tcp"]')
check "lanhost routes to 100.100.100.100 through home" \
	ns_exec lanhost sh -c 'ip route get 100.100.100.100 | grep -q "via 192.168.77.1"'
check "lanhost: no answer at 100.100.100.100" silent lanhost @100.100.100.100 home.mesh.internal
check "lanhost: none over TCP" silent lanhost +tcp @100.100.100.100 home.mesh.internal
check "lanhost: none at home's mesh address" silent lanhost @"$HOME_MESH" home.mesh.internal
check "lanhost: none at home's LAN address" silent lanhost @192.168.77.1 home.mesh.internal
check "WAN host: no answer at 100.100.100.100 routed via home" \
	silent inet @100.100.100.100 home.mesh.internal
check "WAN host: none over TCP" silent inet +tcp @100.100.100.100 home.mesh.internal
check "WAN host: none at home's mesh address" silent inet @"$HOME_MESH" home.mesh.internal
check "WAN host: none at home's WAN address" silent inet @203.0.113.2 home.mesh.internal
after=$(dns_status home 'd["dns"]["queries"]["udp"] + d["dns"]["queries"]["tcp"]')
check "home's server never saw them (the firewall dropped them)" [ "$before" = "$after" ]

# A reload of the coordinator's records reaches laptop.
home_conf 192.168.77.3
mesh_reload home
check "a reloaded dns.records reaches laptop's answers" \
	wait_for 50 0.2 answers laptop 192.168.77.3 @100.100.100.100 switch.mesh.internal A

# Counters.
check "laptop's status: the resolver runs with its names" \
	[ "$(dns_status laptop 'd["dns"]["enabled"] and d["dns"]["domain"] == "mesh.internal" and d["dns"]["names"] >= 3')" = True ]
check "laptop's status: it listens on the resolver's addresses" \
	[ "$(dns_status laptop '"100.100.100.100:53" in d["dns"]["listen"]')" = True ]
check "laptop's counters: UDP and TCP queries, NXDOMAIN and SERVFAIL, one forward" \
	[ "$(dns_status laptop 'd["dns"]["queries"]["udp"] >= 8 and d["dns"]["queries"]["tcp"] >= 1 and d["dns"]["answers"]["NXDOMAIN"] >= 1 and d["dns"]["answers"]["SERVFAIL"] >= 1 and d["dns"]["local"] >= 8 and d["dns"]["forward"]["queries"] >= 1')" = True ]

# dns.enabled = false: no address, no answer.
mesh_conf laptop 'dns = { enabled = false; };'
mesh_reload laptop
check "dns.enabled = false: laptop no longer answers" \
	wait_for 50 0.2 silent laptop @100.100.100.100 home.mesh.internal
check "and its TUN no longer holds the address" \
	not ns_exec laptop sh -c 'ip -o addr show | grep -q "100.100.100.100/32"'
check "home still answers at its mesh address" \
	answers laptop "$HOME_MESH" @"$HOME_MESH" home.mesh.internal A
# Killed, the addresses go with the TUN; --cleanup removes the firewall
# table that guarded them.
mg_stop home KILL
check "after SIGKILL home's TUN and the address are gone" \
	not ns_exec home sh -c 'ip -o addr show | grep -q "100.100.100.100/32"'
check "meshgated --cleanup" ns_exec home "$MESHGATED" --cleanup -c "$MESH_DIR/home.conf"
check "and no nftables table is left" [ -z "$(ns_exec home nft list tables)" ]

pass
