#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317,SC2119 # functions run through check
# Split DNS for a subnet router's LAN. router, a member, advertises its LAN
# 192.168.77.0/24 and offers subnet_router.dns = { domain = "home.lan";
# server = "192.168.77.53"; }, the LAN's dnsmasq (printer.home.lan). laptop's
# own upstream (dns.upstream) is a dnsmasq that answers every name with a
# lie. home is the coordinator, and a subnet router itself: its own LAN
# 192.168.88.0/24 with office.lan (approved by its config, the offer with it).
#
# Before the route is approved the offer is not usable: printer.home.lan is
# forwarded as any other name, to laptop's upstream (the lie; nothing marks
# the name secret yet, and an unapproved router must not take names over).
# After `meshgate routes approve router 192.168.77.0/24`: the LAN's answer
# over UDP and TCP, the LAN's dnsmasq logs the queries from router's LAN
# address (snat), no port-53 packet on laptop's uplink, other names still
# from laptop's upstream; router itself resolves the name directly. router
# stopped: SERVFAIL for home.lan names (UDP and TCP), never the lie, still
# nothing on the uplink, and other names still answered. home's office.lan
# reaches laptop from the coordinator's own config, and home (the
# coordinator's own view) resolves router's home.lan too. laptop also sits
# on a cafe's LAN that uses the same prefix, 192.168.77.0/24, with a
# resolver of its own at 192.168.77.53 (the very address of router's LAN
# server) that lies too: the queries go out of the TUN only, never there.
#
#  cafe ── veth ── laptop ── veth ── inet ── veth ── home ── veth ── office
#                     └──── veth ── router ── veth ── lan
#
#  laptop  up0  198.51.100.2/24   default via inet; dns.upstream: the liar
#          cafe0 192.168.77.20/24 the cafe's LAN
#  cafe    eth0 192.168.77.53/24  dnsmasq: every name is 198.51.100.77
#  inet    lap0 198.51.100.1/24  home0 203.0.113.1/24  rtr0 203.0.114.1/24
#          lo   192.0.2.66/32     the liar's dnsmasq: every name is 198.51.100.66
#  home    wan0 203.0.113.2/24    coordinator
#          lan0 192.168.88.1/24   subnet router for 192.168.88.0/24 (snat), office.lan
#  office  eth0 192.168.88.53/24  dnsmasq: files.office.lan is 192.168.88.7
#  router  wan0 203.0.114.2/24    member; subnet router for 192.168.77.0/24 (snat)
#          lan0 192.168.77.1/24   with the split DNS offer home.lan
#  lan     eth0 192.168.77.53/24  dnsmasq: printer.home.lan is 192.168.77.9
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
require_cmd ip dig dnsmasq tcpdump nft jq timeout
root_state_snapshot

export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/meshgate-test-bus
dir=$MESH_DIR
LIE=198.51.100.66
CAFE_LIE=198.51.100.77
PRINTER=192.168.77.9
FILES=192.168.88.7

setup() {
	ns_create laptop inet home router lan office cafe
	mesh_forwarding inet router home
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink router wan0 inet rtr0 203.0.114
	veth_pair lan eth0 router lan0
	ns_ip router addr add 192.168.77.1/24 dev lan0
	ns_ip lan addr add 192.168.77.53/24 dev eth0
	ns_ip lan route add default via 192.168.77.1
	veth_pair office eth0 home lan0
	ns_ip home addr add 192.168.88.1/24 dev lan0
	ns_ip office addr add 192.168.88.53/24 dev eth0
	ns_ip office route add default via 192.168.88.1
	ns_ip inet addr add 192.0.2.66/32 dev lo
	veth_pair cafe eth0 laptop cafe0
	ns_ip cafe addr add 192.168.77.53/24 dev eth0
	ns_ip laptop addr add 192.168.77.20/24 dev cafe0
}

# dig_at NS NAME [OPTS...]: "STATUS ANSWER" of dig @100.100.100.100 NAME A.
dig_at() {
	local ns=$1 name=$2 out
	shift 2
	out=$(ns_exec "$ns" timeout 15 dig +time=3 +tries=1 "$@" @100.100.100.100 "$name" A) ||
		true
	printf '%s %s\n' "$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out")" \
		"$(awk '$4 == "A" { print $5; exit }' <<<"$out")"
}

answers() { # NS NAME WANT [OPTS...]
	local ns=$1 name=$2 want=$3
	shift 3
	[ "$(dig_at "$ns" "$name" "$@")" = "NOERROR $want" ]
}

servfails() { # NS NAME [OPTS...]
	local ns=$1 name=$2
	shift 2
	[ "$(dig_at "$ns" "$name" "$@")" = "SERVFAIL " ]
}

split() { # NAME JQ: over NAME's status .dns.split
	mg_cli "$1" "$1" status --json | jq -r ".dns.split | $2"
}

# split_is NAME DOMAIN WANT: "server via state" of DOMAIN in NAME's status
# (evaluated at each call, for wait_for).
split_is() {
	[ "$(split "$1" ".[] | select(.domain == \"$2\") | \"\(.server) \(.via) \(.state)\"")" = "$3" ]
}

setup
dnsmasq_start inet liar 192.0.2.66 --address=/#/$LIE
dnsmasq_start lan lan 192.168.77.53 --local=/home.lan/ --address=/printer.home.lan/$PRINTER
dnsmasq_start cafe cafe 192.168.77.53 --address=/#/$CAFE_LIE
dnsmasq_start office office 192.168.88.53 --local=/office.lan/ --address=/files.office.lan/$FILES

mesh_conf_coordinator home '' 'subnet_router = { routes = [ "192.168.88.0/24" ]; snat = true;
	dns = { domain = "office.lan"; server = "192.168.88.53"; }; };
dns = { upstream = [ "192.0.2.66" ]; };'
mesh_conf router 'subnet_router = { routes = [ "192.168.77.0/24" ]; snat = true;
	dns = { domain = "home.lan"; server = "192.168.77.53"; }; };
dns = { upstream = [ "192.0.2.66" ]; };'
mesh_conf laptop 'dns = { upstream = [ "192.0.2.66" ]; };'
mesh_start home
mesh_start router
mesh_start laptop
check "router joins" mesh_join router
check "laptop joins" mesh_join laptop
check "laptop reaches home" wait_for 50 0.2 mesh_ping laptop "$(mesh_addr home)"
check "the route waits for approval" wait_for 50 0.2 mesh_has router routes_pending 192.168.77.0/24

# ---- the coordinator's own offer: approved by its config ----
check "home's office.lan reaches laptop: ok via home" \
	wait_for 100 0.2 split_is laptop office.lan "192.168.88.53:53 home ok"
check "laptop resolves files.office.lan through home" \
	wait_for 10 0.5 answers laptop files.office.lan $FILES
check "home resolves it itself, directly" answers home files.office.lan $FILES
check "the office resolver logged laptop's query from home's LAN address" \
	grep -q "query\[A\] files.office.lan from 192.168.88.1$" "$dir/office.dnsmasq.log"

# ---- offered, not approved: forwarded as any other name ----
check "not approved: laptop's status lists no home.lan" \
	test -z "$(split laptop '.[] | select(.domain == "home.lan")')"
check "not approved: printer.home.lan is the upstream's lie" \
	wait_for 10 0.5 answers laptop printer.home.lan $LIE
check "the LAN's resolver was not asked" not grep -q "printer.home.lan" "$dir/lan.dnsmasq.log"

# ---- approved: the LAN's resolver, through router ----
mg_cli home home routes approve router 192.168.77.0/24 >/dev/null
check "approved: laptop's split domain home.lan is ok via router" \
	wait_for 100 0.2 split_is laptop home.lan "192.168.77.53:53 router ok"
liar_seen=$(grep -c "home\.lan" "$dir/liar.dnsmasq.log" || true)
capture_start inet uplink lap0 "port 53"
capture_start cafe cafelan eth0 "port 53"
check "approved: printer.home.lan over UDP is the LAN's answer" \
	wait_for 10 0.5 answers laptop printer.home.lan $PRINTER
check "approved: and over TCP" answers laptop printer.home.lan $PRINTER +tcp
check "approved: a name under it too (NXDOMAIN from the LAN, not the lie)" \
	test "$(dig_at laptop nosuch.home.lan)" = "NXDOMAIN "
capture_stop uplink
capture_stop cafelan
log "port-53 packets while resolving home.lan: laptop's uplink $(capture_count uplink)," \
	"the cafe's LAN $(capture_count cafelan)"
check "laptop's uplink saw no port-53 packet" test "$(capture_count uplink)" = 0
check "nor the cafe's LAN of the same prefix" test "$(capture_count cafelan)" = 0
check "the LAN's resolver logged the query from router's LAN address" \
	grep -q "query\[A\] printer.home.lan from 192.168.77.1$" "$dir/lan.dnsmasq.log"
check "other names still go to laptop's upstream" answers laptop www.example.test $LIE
check "router resolves printer.home.lan itself, directly" \
	answers router printer.home.lan $PRINTER
check "router's status: its own offer, ok" \
	test "$(split router '.[] | select(.domain == "home.lan") | .via + " " + .state')" = \
	"router ok"
check "home, the coordinator, resolves printer.home.lan through router" \
	answers home printer.home.lan $PRINTER
check "laptop's status counts the forwarded queries" \
	test "$(mg_cli laptop laptop status --json | jq '.dns.forward.split_forwarded >= 3')" = true

# ---- router offline: SERVFAIL, never the lie ----
check "SIGTERM stops router" mg_stop router TERM
# The coordinator notices through its control connection's TCP keepalive
# (about 16 s).
check "router offline: laptop's split domain is offline (the coordinator noticed)" \
	wait_for 120 0.5 split_is laptop home.lan "192.168.77.53:53 router offline"
capture_start inet offline lap0 "port 53"
capture_start cafe offcafe eth0 "port 53"
check "router offline: printer.home.lan over UDP gets SERVFAIL" servfails laptop printer.home.lan
check "router offline: and over TCP" servfails laptop printer.home.lan +tcp
capture_stop offline
capture_stop offcafe
check "router offline: laptop's uplink saw no port-53 packet" test "$(capture_count offline)" = 0
check "router offline: nor the cafe's LAN" test "$(capture_count offcafe)" = 0
check "router offline: other names still answered" answers laptop www.example.test $LIE
check "router offline: office.lan still answered" answers laptop files.office.lan $FILES
check "the SERVFAILs are counted" \
	test "$(mg_cli laptop laptop status --json | jq '.dns.forward.split_refused >= 2')" = true
check "the cafe's resolver got no query at all" not grep -q "query\[" "$dir/cafe.dnsmasq.log"
check "since the approval the liar got no home.lan name" \
	test "$(grep -c "home\.lan" "$dir/liar.dnsmasq.log" || true)" = "$liar_seen"
pass
