#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317,SC2119 # functions run through check
# Leak-free resolution through the exit node. laptop sits behind a cafe's
# NAT whose resolver (dnsmasq) answers every name with a lie, and its
# namespace's resolv.conf (/etc/netns/NS/resolv.conf) names that resolver;
# laptop manages resolv.conf (100.100.100.100). home, the coordinator, is
# the exit node (approved by its own config) with dns.upstream the "ISP"
# resolver in the internet namespace, and dns.domain fam.internal (laptop
# has no domain of its own: the netmap's is in its resolv.conf).
#
# Without an exit, laptop's forwarder asks its own upstream (the cafe's,
# read from resolv.conf at start): getent gets the lie. With home as exit:
# getent gets the ISP's answer, dig @100.100.100.100 home.fam.internal
# home's mesh address, tcpdump on the cafe's LAN sees no port-53 packet
# while laptop resolves several names, and the ISP resolver logs them from
# home's WAN address. An exit wanted but blocked (`meshgate set
# --exit-node nosuch`) leaves no upstream: SERVFAIL, nothing on the cafe's
# LAN. `meshgate set --exit-node none` switches back to the cafe (the lie
# again). After SIGTERM laptop's resolv.conf is the cafe's
# again, byte for byte.
#
# laptop's node name is my_laptop, no DNS label: it is my-laptop.fam.internal
# (A, PTR, dns_name in home's status, nobody in dns.skipped). Reverse names
# of the mesh that are partial or unused (64.100.in-addr.arpa, an unused
# address) are answered by laptop's resolver, never forwarded: the ISP's log
# shows no in-addr.arpa name.
#
#  laptop ── veth ── cafe (NAT) ── veth ── inet ── veth ── home
#
#  laptop  eth0 10.7.0.2/24       default via cafe; resolv.conf: 10.7.0.1
#  cafe    lan0 10.7.0.1/24       dnsmasq: every name is 198.51.100.66
#          wan0 198.51.100.2/24   masquerade out of wan0
#  inet    caf0 198.51.100.1/24  home0 203.0.113.1/24
#          lo   192.0.2.53/32     the ISP's dnsmasq: example.test and
#                                 *.example.test are 203.0.113.80
#  home    wan0 203.0.113.2/24    coordinator, exit node, dns.upstream ISP
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
require_cmd ip dig getent dnsmasq tcpdump nft jq timeout cmp sha256sum
root_state_snapshot

export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/meshgate-test-bus
dir=$MESH_DIR
host_sum=$(sha256sum </etc/resolv.conf)
LIE=198.51.100.66
ISP_ANSWER=203.0.113.80

setup() {
	ns_create laptop cafe inet home
	mesh_forwarding cafe inet
	mesh_uplink cafe wan0 inet caf0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink laptop eth0 cafe lan0 10.7.0
	nat_eim cafe wan0
	ns_ip inet addr add 192.0.2.53/32 dev lo
}

# The address laptop's system resolver gives NAME (IPv4), or nothing.
resolves() { # NAME
	ns_exec laptop timeout 20 getent ahostsv4 "$1" 2>/dev/null | awk 'NR == 1 { print $1 }'
}

resolves_to() { # NAME WANT
	[ "$(resolves "$1")" = "$2" ]
}

exit_state() {
	mg_cli laptop laptop status --json | jq -r .self.exit_node.state
}

upstreams() {
	mg_cli laptop laptop status --json | jq -c .dns.forward.upstreams
}

setup
file=/etc/netns/$(ns_name laptop)/resolv.conf
[ -d /etc/netns ] || MG_EXTRA_CLEANUP+=("rmdir /etc/netns 2>/dev/null")
mkdir -p "$(dirname "$file")"
MG_EXTRA_CLEANUP+=("rm -rf '$(dirname "$file")'")
printf '# the cafe'"'"'s resolver\nnameserver 10.7.0.1\nsearch cafe.example\n' >"$dir/original"
cp "$dir/original" "$file"

dnsmasq_start cafe cafe 10.7.0.1 --address=/#/$LIE
dnsmasq_start inet isp 192.0.2.53 --address=/example.test/$ISP_ANSWER

mesh_conf_coordinator home '' 'exit_node = { enabled = true; };
dns = { domain = "fam.internal"; upstream = [ "192.0.2.53" ]; };'
# laptop's config with its node name my_laptop.
laptop_conf() {
	mesh_conf laptop "$1"
	sed -i 's/^hostname = "laptop";$/hostname = "my_laptop";/' "$dir/laptop.conf"
}

laptop_conf 'dns = { manage_resolv_conf = true; };'
mesh_start home
mesh_start laptop
check "laptop joins" mesh_join laptop
HOME_MESH=$(mesh_addr home)
check "laptop reaches home" wait_for 50 0.2 mesh_ping laptop "$HOME_MESH"
check "laptop's resolv.conf names the mesh resolver" \
	wait_for 50 0.1 grep -qx "nameserver 100.100.100.100" "$file"
check "with the netmap's domain, not laptop's default" \
	wait_for 50 0.1 grep -qx "search fam.internal cafe.example" "$file"

# ---- no exit: laptop's own upstream, the cafe ----
check "no exit: laptop forwards to the cafe's resolver" \
	wait_for 50 0.1 output_is '["10.7.0.1:53"]' upstreams
check "no exit: getent example.test gets the cafe's lie" \
	wait_for 10 0.5 resolves_to example.test $LIE

# ---- home as exit ----
laptop_conf 'dns = { manage_resolv_conf = true; };
use_exit_node = { peer = "home"; };'
mesh_reload laptop
check "home's exit is in use" wait_for 50 0.2 output_is in_use exit_state
check "laptop forwards to home's mesh address" \
	wait_for 50 0.1 grep -qF "\"$HOME_MESH:53\"" <<<"$(upstreams)"
capture_start cafe cafelan lan0 "port 53"
check "through the exit: getent example.test gets the ISP's answer" \
	wait_for 10 0.5 resolves_to example.test $ISP_ANSWER
for name in www.example.test mail.example.test api.example.test; do
	check "and $name too" resolves_to $name $ISP_ANSWER
done
check "dig @100.100.100.100 home.fam.internal A: home's mesh address" \
	test "$(ns_exec laptop timeout 10 dig +time=2 +tries=2 +short @100.100.100.100 \
		home.fam.internal A)" = "$HOME_MESH"

# ---- a name that is no DNS label; the mesh's reverse space ----
LAPTOP_MESH=$(mesh_addr my_laptop)
ask() { ns_exec laptop timeout 10 dig +time=2 +tries=2 @100.100.100.100 "$@"; }
# The status and flags of a query's answer: "NOERROR aa" or "NXDOMAIN aa".
answered() {
	ask "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p; s/.*flags: qr \(aa\).*/\1/p' |
		tr '\n' ' ' | sed 's/ $//'
}
check "my_laptop is my-laptop.fam.internal" \
	test "$(ask +short my-laptop.fam.internal A)" = "$LAPTOP_MESH"
check "and its mesh address's PTR is that name" \
	test "$(ask +short -x "$LAPTOP_MESH")" = my-laptop.fam.internal.
check "home's status: my_laptop's dns_name" \
	test "$(mg_cli home home status --json |
		jq -r '.peers[] | select(.name == "my_laptop") | .dns_name')" = my-laptop.fam.internal
check "home's status: no member without a name" \
	test "$(mg_cli home home status --json | jq -c .dns.skipped)" = '[]'
check "64.100.in-addr.arpa (names below) answered here: NOERROR" \
	test "$(answered 64.100.in-addr.arpa PTR)" = "NOERROR aa"
check "an unused mesh address's PTR answered here: NXDOMAIN" \
	test "$(answered 9.9.64.100.in-addr.arpa PTR)" = "NXDOMAIN aa"
check "the mesh's ip6.arpa zone answered here" \
	test "$(answered 5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa SOA)" = "NOERROR aa"
capture_stop cafelan
log "port-53 packets on the cafe's LAN while resolving through the exit: $(capture_count cafelan)"
check "the cafe's LAN saw no port-53 packet" test "$(capture_count cafelan)" = 0
check "the ISP resolver got the queries from home's WAN address" \
	grep -q "query\[A\] www.example.test from 203.0.113.2$" "$dir/isp.dnsmasq.log"
check "and none from the cafe's" not grep -q "from 198.51.100.2$" "$dir/isp.dnsmasq.log"
check "no reverse name of the mesh reached the ISP" \
	not grep -Eq "(in-addr|ip6)\.arpa" "$dir/isp.dnsmasq.log"
check "status: the forwarder counted the queries" \
	test "$(mg_cli laptop laptop status --json | jq '.dns.forward.queries >= 4')" = true
check "home's status: the queries from laptop went to its upstream" \
	test "$(mg_cli home home status --json | jq '.dns.forward.sent >= 4')" = true

# ---- an exit wanted but blocked: no upstream at all (SERVFAIL) ----
mg_cli laptop laptop set --exit-node nosuch >/dev/null
check "exit blocked: status says so" wait_for 50 0.2 output_is blocked exit_state
check "exit blocked: the forwarder has no upstream" wait_for 50 0.1 output_is '[]' upstreams
capture_start cafe blocked lan0 "port 53"
check "exit blocked: a name outside the mesh gets SERVFAIL" \
	test "$(ns_exec laptop timeout 10 dig +time=2 +tries=1 @100.100.100.100 \
		blocked.example.test A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')" = SERVFAIL
check "exit blocked: getent gets no answer" test -z "$(resolves blocked.example.test)"
capture_stop blocked
check "exit blocked: the cafe's LAN saw no port-53 packet" test "$(capture_count blocked)" = 0

# ---- the choice switches back ----
mg_cli laptop laptop set --exit-node none >/dev/null
check "exit none: laptop forwards to the cafe again" \
	wait_for 50 0.1 output_is '["10.7.0.1:53"]' upstreams
check "exit none: the cafe's lie comes back (the cache was flushed)" \
	wait_for 10 0.5 resolves_to example.test $LIE

# ---- SIGTERM ----
check "SIGTERM stops laptop" mg_stop laptop TERM
check "laptop's resolv.conf is the cafe's again, byte for byte" cmp "$dir/original" "$file"
check "the host's /etc/resolv.conf is untouched" [ "$(sha256sum </etc/resolv.conf)" = "$host_sum" ]
pass
