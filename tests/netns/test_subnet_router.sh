#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# meshgated as a subnet router: the laptop reaches the switch on home's LAN
# through home; with snat the switch sees home's LAN address and needs no
# route back, without it the laptop's mesh address (IPv4 and IPv6); TCP MSS
# is clamped both ways; bulk TCP works with "too big" ICMP dropped; SIGHUP
# turns snat off and on and adds and removes a served prefix without
# dropping the session; SIGTERM, and SIGKILL then `meshgated --cleanup`,
# leave home and laptop exactly as before. laptop and home run with strict
# rp_filter throughout.
#
#  cafe ── laptop ── veth ── inet ── veth ── home ── veth ── switch
#  (LAN host     (client:      (router + "internet"   (appliance: subnet     (LAN host, no VPN
#   on laptop's   meshgated)    host 192.0.2.80 on     router + exit node:    software,
#   side)                       its lo)                meshgated)             192.168.77.2)
#
#  laptop up0 198.51.100.2 ── lap0 198.51.100.1  inet  home0 203.0.113.1 ── wan0 203.0.113.2 home
#  laptop TUN 100.64.0.2, fd7a:6d67:7465::2       home TUN 100.64.0.1, fd7a:6d67:7465::1
#  home lan0 192.168.77.1 fd77::1 (+192.168.79.1) ── switch eth0 192.168.77.2 fd77::2 (+192.168.79.2)
#  (all addresses: topology.sh)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=topology.sh
. "$(dirname "$(readlink -f "$0")")/topology.sh"

require_root
require_cmd ip ping wg nft tcpdump iperf3 python3 timeout
root_state_snapshot

dir=$(mg_workdir)

quiet_ping() {
	ns_exec "$1" ping "${@:2}" >/dev/null 2>&1
}

# iperf NS ARGS...: a bounded iperf3 client run; its JSON in the work dir.
iperf() {
	local ns=$1
	shift
	local out=$dir/iperf-$IPERF_RUN.json
	IPERF_RUN=$((IPERF_RUN + 1))
	ns_exec "$ns" timeout 60 iperf3 --connect-timeout 3000 -J "$@" >"$out" 2>&1 || return 1
	log "iperf3 $*: $(python3 -c 'import json,sys
e = json.load(open(sys.argv[1]))["end"]
print("%.0f Mbit/s, %d retransmits" % (e["sum_received"]["bits_per_second"] / 1e6,
      e["sum_sent"].get("retransmits", 0)))' "$out")"
}
IPERF_RUN=0

# mss_is NAME FLAGS FAMILY WANT
mss_is() {
	local got
	got=$(syn_mss "$1" "$2" "$3")
	log "$1: $3 Flags [$2] mss ${got:-none}"
	[ "$got" = "$4" ]
}

# no_route NS DST: NS has no route to DST at all.
no_route() {
	not ns_ip "$1" route get "$2" >/dev/null 2>&1
}

captured_none() {
	local n
	n=$(capture_count "$@")
	[ "$n" -eq 0 ] || { log "$1: $n packet(s) matching '${*:2}':"; capture_print "$@" >&2; return 1; }
}

same_session() {
	local now
	now=$(topo_handshake)
	[ "$now" = "$1" ] || { log "latest handshake $1 -> $now"; return 1; }
}

# ---- topology, configs, the state to come back to ----
topo_setup
topo_home_conf
topo_laptop_conf
check "home's config is valid" ns_exec home "$MESHGATED" --check -c "${TOPO_CONF[home]}"
check "laptop's config is valid" ns_exec laptop "$MESHGATED" --check -c "${TOPO_CONF[laptop]}"
ns_state_save home
ns_state_save laptop
check "strict rp_filter on laptop and home" \
	sh -c "[ \"\$(ip netns exec $(ns_name laptop) sysctl -n net.ipv4.conf.all.rp_filter)\" = 1 ] &&
	       [ \"\$(ip netns exec $(ns_name home) sysctl -n net.ipv4.conf.all.rp_filter)\" = 1 ]"

topo_whoami_start switch 192.168.77.2 192.168.79.2 fd77::2
ns_bg switch iperf3 -s -p 5201 >"$dir/iperf3-switch.log" 2>&1

topo_start home
topo_start laptop
check "laptop -> home over the mesh" wait_for 30 0.5 quiet_ping laptop -c1 -W1 100.64.0.1
check "laptop -> home over the mesh, IPv6" wait_for 10 0.5 quiet_ping laptop -c1 -W1 fd7a:6d67:7465::1

# ---- snat = true: the switch sees home's LAN address, needs no route back ----
check "the switch has no route to the mesh" no_route switch 100.64.0.2
check "the switch has no route to the mesh (IPv6)" no_route switch fd7a:6d67:7465::2
check "laptop -> switch ping" wait_for 10 0.5 quiet_ping laptop -c1 -W1 192.168.77.2
check "laptop -> switch ping, IPv6" wait_for 10 0.5 quiet_ping laptop -c1 -W1 fd77::2
check "snat: the switch sees 192.168.77.1 (TCP)" sees laptop 192.168.77.1 192.168.77.2
check "snat: the switch sees 192.168.77.1 (UDP)" sees laptop 192.168.77.1 --udp 192.168.77.2
check "snat: the switch sees fd77::1 (TCP)" sees laptop fd77::1 fd77::2
check "snat: the switch sees fd77::1 (UDP)" sees laptop fd77::1 --udp fd77::2

# What conntrack cannot masquerade does not reach the LAN with a mesh source.
capture_start switch invalid-lan eth0 "tcp port $WHOAMI_PORT"
rawtcp laptop 100.64.0.2 192.168.77.2
rawtcp laptop fd7a:6d67:7465::2 fd77::2
sleep 0.3
capture_stop invalid-lan
check "snat: a SYN|FIN segment (invalid) does not reach the LAN with a mesh source" \
	captured_none invalid-lan "src net 100.64.0.0/10 or src net fd7a:6d67:7465::/48"

# ---- MSS clamping ----
# The laptop's own stack advertises its TUN MTU (1280 - 40 / - 60); home
# clamps the switch's SYN-ACK (1460 / 1440 on its 1500-byte link) to the
# TUN's route MTU on its way into the mesh, and the laptop's SYN to the LAN
# route's MTU on its way out (seen with a 1200-byte route to the switch).
capture_start switch syn-switch eth0 "tcp port $WHOAMI_PORT"
capture_start laptop syn-laptop "$TUN_LAPTOP" "tcp port $WHOAMI_PORT"
whoami laptop 192.168.77.2 >/dev/null
whoami laptop fd77::2 >/dev/null
sleep 0.3
capture_stop syn-switch
capture_stop syn-laptop
check "the switch gets the laptop's SYN with MSS 1240" mss_is syn-switch S ip 1240
check "the switch answers with MSS 1460" mss_is syn-switch S. ip 1460
check "the laptop gets the SYN-ACK clamped to 1240" mss_is syn-laptop S. ip 1240
check "IPv6: the switch gets the laptop's SYN with MSS 1220" mss_is syn-switch S ip6 1220
check "IPv6: the switch answers with MSS 1440" mss_is syn-switch S. ip6 1440
check "IPv6: the laptop gets the SYN-ACK clamped to 1220" mss_is syn-laptop S. ip6 1220

ns_ip home route add 192.168.77.2/32 dev lan0 src 192.168.77.1 mtu 1200
capture_start switch syn-switch-1200 eth0 "tcp port $WHOAMI_PORT"
whoami laptop 192.168.77.2 >/dev/null
sleep 0.3
capture_stop syn-switch-1200
ns_ip home route del 192.168.77.2/32 dev lan0
check "out of the mesh: the SYN is clamped to a 1200-byte LAN route (1160)" \
	mss_is syn-switch-1200 S ip 1160

# ---- bulk TCP with "too big" ICMP dropped ----
# The only "too big" errors this path could need come from inet (the
# tunnel's path) and from home towards the switch: both are dropped.
nft_block=$'table inet mgtest {
	chain block {
		icmp type destination-unreachable icmp code frag-needed drop
		icmpv6 type packet-too-big drop
	}
	chain forward { type filter hook forward priority -10; jump block; }
	chain input { type filter hook input priority -10; jump block; }
	chain output { type filter hook output priority -10; jump block; }
}'
ns_exec inet nft -f - <<<"$nft_block"
ns_exec switch nft -f - <<<"$nft_block"
wait_for 50 0.1 ns_exec switch sh -c 'ss -ltn | grep -q :5201'
check "iperf3 laptop -> switch, 20 MB" iperf laptop -c 192.168.77.2 -p 5201 -n 20M
check "iperf3 switch -> laptop, 20 MB" iperf laptop -c 192.168.77.2 -p 5201 -n 20M -R
check "iperf3 laptop -> switch over IPv6, 20 MB" iperf laptop -c fd77::2 -p 5201 -n 20M
check "iperf3 switch -> laptop over IPv6, 20 MB" iperf laptop -c fd77::2 -p 5201 -n 20M -R
ns_exec inet nft delete table inet mgtest
ns_exec switch nft delete table inet mgtest

# ---- SIGHUP: snat = false; the switch routes back via home ----
hs=$(topo_handshake)
check "the laptop has a session with home" test "${hs:-0}" -gt 0
sleep 1.1 # a new handshake now would carry a later second
topo_home_conf SNAT=false
check "home reloads with snat = false" topo_reload home
ns_ip switch route add 100.64.0.0/10 via 192.168.77.1
ns_ip switch -6 route add fd7a:6d67:7465::/48 via fd77::1
check "no snat: the switch sees 100.64.0.2 (TCP)" sees laptop 100.64.0.2 192.168.77.2
check "no snat: the switch sees 100.64.0.2 (UDP, new port)" sees laptop 100.64.0.2 --udp 192.168.77.2
check "no snat: the switch sees fd7a:6d67:7465::2 (TCP)" sees laptop fd7a:6d67:7465::2 fd77::2
check "no snat: laptop -> switch ping" quiet_ping laptop -c1 -W1 192.168.77.2
check "no snat: switch -> laptop ping (routed back via home)" quiet_ping switch -c1 -W1 100.64.0.2
check "the session survived the reload" same_session "$hs"

# ---- SIGHUP: snat again, and 192.168.79.0/24 served ----
check "192.168.79.0/24 is not served yet" not whoami laptop 192.168.79.2
topo_home_conf ROUTES='"192.168.77.0/24", "192.168.79.0/24", "fd77::/64"'
check "home reloads with snat and 192.168.79.0/24" topo_reload home
check "snat again: the switch sees 192.168.77.1" sees laptop 192.168.77.1 192.168.77.2
check "192.168.79.0/24 served: the switch sees 192.168.79.1" sees laptop 192.168.79.1 192.168.79.2
topo_home_conf
check "home reloads without 192.168.79.0/24" topo_reload home
check "192.168.79.0/24 no longer served" not whoami laptop 192.168.79.2
check "192.168.77.0/24 still served" sees laptop 192.168.77.1 192.168.77.2
check "the session survived all three reloads" same_session "$hs"
ns_ip switch route del 100.64.0.0/10 via 192.168.77.1
ns_ip switch -6 route del fd7a:6d67:7465::/48 via fd77::1

# ---- SIGTERM leaves both namespaces as before ----
check "laptop stops on SIGTERM" mg_stop laptop TERM
check "home stops on SIGTERM" mg_stop home TERM
check "SIGTERM: laptop's namespace as before" ns_state_same laptop
check "SIGTERM: home's namespace as before" ns_state_same home

# ---- SIGKILL, then a restart over what was left, then SIGTERM ----
topo_start home
topo_start laptop
check "after a restart: laptop -> switch" wait_for 30 0.5 quiet_ping laptop -c1 -W1 192.168.77.2
check "home dies on SIGKILL" mg_stop home KILL
check "laptop dies on SIGKILL" mg_stop laptop KILL
topo_start home
topo_start laptop
check "restarted over the leftovers: laptop -> switch" \
	wait_for 30 0.5 quiet_ping laptop -c1 -W1 192.168.77.2
check "restarted over the leftovers: snat as before" sees laptop 192.168.77.1 192.168.77.2
check "laptop stops on SIGTERM" mg_stop laptop TERM
check "home stops on SIGTERM" mg_stop home TERM
check "SIGKILL, restart, SIGTERM: laptop's namespace as before" ns_state_same laptop
check "SIGKILL, restart, SIGTERM: home's namespace as before" ns_state_same home

# ---- SIGKILL, then --cleanup ----
topo_start home
topo_start laptop
check "after a restart: laptop -> switch" wait_for 30 0.5 quiet_ping laptop -c1 -W1 192.168.77.2
check "home dies on SIGKILL" mg_stop home KILL
check "laptop dies on SIGKILL" mg_stop laptop KILL
check "SIGKILL: home still forwards (ip_forward left on)" \
	test "$(ns_exec home sysctl -n net.ipv4.ip_forward)" = 1
check "--cleanup on home" ns_exec home "$MESHGATED" --cleanup -c "${TOPO_CONF[home]}"
check "--cleanup on laptop" ns_exec laptop "$MESHGATED" --cleanup -c "${TOPO_CONF[laptop]}"
check "SIGKILL + --cleanup: home's namespace as before" ns_state_same home
check "SIGKILL + --cleanup: laptop's namespace as before" ns_state_same laptop
pass "subnet router"
