#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# meshgated as an exit node and an exit-node client: the internet host sees
# only home's WAN address (IPv4 and IPv6) and no mesh source address ever
# reaches inet; bulk TCP works with "too big" ICMP dropped; the exit client
# cannot reach private ranges nor home's own WAN network and addresses but
# reaches the advertised LAN, and reaches private ranges with
# allow_private; with allow_lan_access the laptop reaches its own LAN
# directly, without it not at all; with the exit node down nothing leaks out
# of the laptop's uplink, not even after the laptop's daemon is SIGKILLed,
# until `meshgated --cleanup` puts the laptop back exactly as before. Every
# reload keeps the session. laptop and home run with strict rp_filter.
#
#  cafe ── laptop ── veth ── inet ── veth ── home ── veth ── switch
#  (LAN host     (client:      (router + "internet"   (appliance: subnet     (LAN host, no VPN
#   on laptop's   meshgated)    host 192.0.2.80 on     router + exit node:    software,
#   side)                       its lo)                meshgated)             192.168.77.2)
#
#  cafe eth0 192.168.88.2 ── lan0 192.168.88.1 laptop up0 198.51.100.2 2001:db8:1::2
#      ── lap0 198.51.100.1 inet (lo 192.0.2.80 2001:db8:80::80) home0 203.0.113.1 10.200.0.1
#      ── wan0 203.0.113.2 10.200.0.2 2001:db8:2::2 home lan0 192.168.77.1 ── switch 192.168.77.2
#  laptop TUN 100.64.0.2, fd7a:6d67:7465::2       home TUN 100.64.0.1, fd7a:6d67:7465::1
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
mesh_src='src net 100.64.0.0/10 or src net fd7a:6d67:7465::/48'
internet='host 192.0.2.80 or host 2001:db8:80::80'

quiet_ping() {
	ns_exec "$1" ping "${@:2}" >/dev/null 2>&1
}

iperf() {
	local ns=$1 out=$dir/iperf-$IPERF_RUN.json
	shift
	IPERF_RUN=$((IPERF_RUN + 1))
	ns_exec "$ns" timeout 60 iperf3 --connect-timeout 3000 -J "$@" >"$out" 2>&1 || return 1
	log "iperf3 $*: $(python3 -c 'import json,sys
e = json.load(open(sys.argv[1]))["end"]
print("%.0f Mbit/s, %d retransmits" % (e["sum_received"]["bits_per_second"] / 1e6,
      e["sum_sent"].get("retransmits", 0)))' "$out")"
}
IPERF_RUN=0

same_session() {
	local now
	now=$(topo_handshake)
	[ "$now" = "$1" ] || { log "latest handshake $1 -> $now"; return 1; }
}

# refused NS DST: the kernel refuses DST outright (the kill-switch route).
refused() {
	ns_ip "$1" route get "$2" 2>&1 | grep -q "unreachable\|No route to host"
}

captured_none() {
	local n
	n=$(capture_count "$@")
	[ "$n" -eq 0 ] || { log "$1: $n packet(s) matching '${*:2}':"; capture_print "$@" >&2; return 1; }
}

captured_some() {
	[ "$(capture_count "$@")" -gt 0 ]
}

# ---- topology, configs, the state to come back to ----
topo_setup
topo_home_conf
topo_laptop_conf
ns_state_save home
ns_state_save laptop

# Whatever inet sees with a mesh address, for the whole test.
capture_start inet inet-mesh any "$mesh_src or dst net 100.64.0.0/10 or dst net fd7a:6d67:7465::/48"
topo_whoami_start inet 192.0.2.80 2001:db8:80::80 10.200.0.1 203.0.113.1
topo_whoami_start home 203.0.113.2 192.168.77.1
topo_whoami_start switch 192.168.77.2
topo_whoami_start cafe 192.168.88.2
ns_bg inet iperf3 -s -p 5201 >"$dir/iperf3-inet.log" 2>&1

topo_start home
topo_start laptop
check "laptop -> home over the mesh" wait_for 30 0.5 quiet_ping laptop -c1 -W1 100.64.0.1

# ---- through the exit: the internet sees home's WAN address only ----
check "laptop -> internet host ping" wait_for 10 0.5 quiet_ping laptop -c1 -W1 192.0.2.80
check "laptop -> internet host ping, IPv6" wait_for 10 0.5 quiet_ping laptop -c1 -W1 2001:db8:80::80
check "the internet host sees 203.0.113.2 (TCP)" sees laptop 203.0.113.2 192.0.2.80
check "the internet host sees 203.0.113.2 (UDP)" sees laptop 203.0.113.2 --udp 192.0.2.80
check "the internet host sees 2001:db8:2::2 (TCP)" sees laptop 2001:db8:2::2 2001:db8:80::80
check "the internet host sees 2001:db8:2::2 (UDP)" sees laptop 2001:db8:2::2 --udp 2001:db8:80::80
check "the laptop's route to the internet host is the TUN" \
	sh -c "ip -n $(ns_name laptop) route get 192.0.2.80 | grep -q 'dev $TUN_LAPTOP'"

# ---- what conntrack cannot masquerade does not leave at all ----
capture_start home invalid-tun "$TUN_HOME" "tcp port $WHOAMI_PORT"
capture_start inet invalid-wan home0 "tcp port $WHOAMI_PORT"
rawtcp laptop 100.64.0.2 192.0.2.80
rawtcp laptop fd7a:6d67:7465::2 2001:db8:80::80
sleep 0.3
capture_stop invalid-tun
capture_stop invalid-wan
check "a SYN|FIN segment from the laptop reaches home" \
	captured_some invalid-tun "src host 100.64.0.2"
check "the IPv6 one too" captured_some invalid-tun "src host fd7a:6d67:7465::2"
check "neither leaves home's WAN (no connection to masquerade)" captured_none invalid-wan

# ---- bulk TCP with "too big" ICMP dropped (inet is router and host) ----
ns_exec inet nft -f - <<'NFT'
table inet mgtest {
	chain block {
		icmp type destination-unreachable icmp code frag-needed drop
		icmpv6 type packet-too-big drop
	}
	chain forward { type filter hook forward priority -10; jump block; }
	chain input { type filter hook input priority -10; jump block; }
	chain output { type filter hook output priority -10; jump block; }
}
NFT
wait_for 50 0.1 ns_exec inet sh -c 'ss -ltn | grep -q :5201'
check "iperf3 laptop -> internet, 20 MB" iperf laptop -c 192.0.2.80 -p 5201 -n 20M
check "iperf3 internet -> laptop, 20 MB" iperf laptop -c 192.0.2.80 -p 5201 -n 20M -R
check "iperf3 internet -> laptop over IPv6, 20 MB" iperf laptop -c 2001:db8:80::80 -p 5201 -n 20M -R
ns_exec inet nft delete table inet mgtest

# ---- the private-range guard ----
# home guards the private ranges, its connected networks (its LAN and its
# WAN network 203.0.113.0/24 alike) and its own addresses; the served LAN
# prefixes are the exception.
check "exit client: 10.200.0.1 (private, not advertised) unreachable" not whoami laptop 10.200.0.1
check "exit client: no ping to 10.200.0.1" not quiet_ping laptop -c1 -W1 10.200.0.1
check "exit client: inet's 203.0.113.1 (home's WAN network) unreachable" not whoami laptop 203.0.113.1
check "exit client: home's own 203.0.113.2 unreachable" not whoami laptop 203.0.113.2
check "exit client: no ping to home's own 203.0.113.2" not quiet_ping laptop -c1 -W1 203.0.113.2
check "exit client: inet's 2001:db8:2::1 (home's WAN network) unreachable" not quiet_ping laptop -c1 -W1 2001:db8:2::1
check "exit client: the advertised LAN is reachable (the switch)" sees laptop 192.168.77.1 192.168.77.2
check "exit client: home's LAN address is reachable" sees laptop 100.64.0.2 192.168.77.1
check "exit client: home's mesh address is reachable" quiet_ping laptop -c1 -W1 100.64.0.1

hs=$(topo_handshake)
check "the laptop has a session with home" test "${hs:-0}" -gt 0
sleep 1.1 # a new handshake now would carry a later second
topo_home_conf ALLOW_PRIVATE=true
check "home reloads with allow_private = true" topo_reload home
check "allow_private: 10.200.0.1 reachable, sees home's 10.200.0.2" sees laptop 10.200.0.2 10.200.0.1
check "allow_private: ping 10.200.0.1" quiet_ping laptop -c1 -W1 10.200.0.1
check "allow_private: 203.0.113.1 reachable" sees laptop 203.0.113.2 203.0.113.1
check "allow_private: the internet host still sees 203.0.113.2" sees laptop 203.0.113.2 192.0.2.80
topo_home_conf
check "home reloads with allow_private = false" topo_reload home
check "guard back: 10.200.0.1 unreachable again" not whoami laptop 10.200.0.1
check "guard back: the internet host still reachable" sees laptop 203.0.113.2 192.0.2.80
check "the session survived both reloads of home" same_session "$hs"

# ---- allow_lan_access ----
check "allow_lan_access: the laptop reaches cafe directly (cafe sees 192.168.88.1)" \
	sees laptop 192.168.88.1 192.168.88.2
check "allow_lan_access: ping cafe" quiet_ping laptop -c1 -W1 192.168.88.2
topo_laptop_conf LAN_ACCESS=false
check "laptop reloads with allow_lan_access = false" topo_reload laptop
capture_start laptop lan-tun "$TUN_LAPTOP" "host 192.168.88.2"
capture_start cafe lan-cafe eth0 "ip"
check "no LAN access: cafe unreachable" not whoami laptop 192.168.88.2
check "no LAN access: no ping to cafe" not quiet_ping laptop -c1 -W1 192.168.88.2
capture_stop lan-tun
capture_stop lan-cafe
check "no LAN access: the traffic to cafe went into the tunnel" captured_some lan-tun dst host 192.168.88.2
check "no LAN access: cafe got nothing" captured_none lan-cafe
check "no LAN access: the internet host still sees 203.0.113.2" sees laptop 203.0.113.2 192.0.2.80
topo_laptop_conf
check "laptop reloads with allow_lan_access = true" topo_reload laptop
check "LAN access back: cafe sees 192.168.88.1" sees laptop 192.168.88.1 192.168.88.2
check "the session survived both reloads of the laptop" same_session "$hs"

# ---- the exit node goes down: nothing leaks ----
check "home stops on SIGTERM" mg_stop home TERM
check "SIGTERM: home's namespace as before" ns_state_same home
capture_start laptop uplink-down up0 "ip or ip6"
check "exit down: no ping to the internet host" not quiet_ping laptop -c2 -W1 192.0.2.80
check "exit down: no TCP to the internet host" not whoami laptop 192.0.2.80
check "exit down: no TCP to the internet host over IPv6" not whoami laptop 2001:db8:80::80
capture_stop uplink-down
check "exit down: the laptop tried to reach home (UDP to 203.0.113.2:41641)" \
	captured_some uplink-down udp and dst host 203.0.113.2 and dst port 41641
check "exit down: no packet to or from the internet host on the uplink" \
	captured_none uplink-down "$internet"
check "exit down: the laptop sent nothing but UDP to home's port" \
	captured_none uplink-down "(src host 198.51.100.2 or src host 2001:db8:1::2) and
		not (udp and dst host 203.0.113.2 and dst port 41641) and
		not (icmp6 and (ip6[40] == 135 or ip6[40] == 136))"

# ---- the laptop's daemon dies: the kill switch holds until --cleanup ----
check "laptop dies on SIGKILL" mg_stop laptop KILL
check "SIGKILL: the laptop's TUN is gone" wait_for 20 0.1 not ns_ip laptop link show "$TUN_LAPTOP"
check "SIGKILL: the kernel refuses 192.0.2.80" refused laptop 192.0.2.80
check "SIGKILL: the kernel refuses 2001:db8:80::80" refused laptop 2001:db8:80::80
capture_start laptop uplink-dead up0 "ip or ip6"
check "SIGKILL: no ping to the internet host" not quiet_ping laptop -c2 -W1 192.0.2.80
check "SIGKILL: no TCP to the internet host" not whoami laptop 192.0.2.80
check "SIGKILL: no TCP to the internet host over IPv6" not whoami laptop 2001:db8:80::80
capture_stop uplink-dead
check "SIGKILL: no packet to or from the internet host on the uplink" \
	captured_none uplink-dead "$internet"
check "SIGKILL: the LAN is still reachable" sees laptop 192.168.88.1 192.168.88.2
check "--cleanup on the laptop" ns_exec laptop "$MESHGATED" --cleanup -c "${TOPO_CONF[laptop]}"
check "--cleanup: laptop's namespace as before" ns_state_same laptop
check "--cleanup: the laptop reaches the internet host directly again" \
	sees laptop 198.51.100.2 192.0.2.80

# ---- no mesh source address ever reached inet ----
capture_stop inet-mesh
check "inet never saw a mesh address" captured_none inet-mesh
# The capture does see such a packet (inet sends one itself).
capture_start inet inet-probe any "$mesh_src"
ns_ip inet addr add 100.100.100.100/32 dev lo
ns_exec inet ping -c1 -W1 -I 100.100.100.100 203.0.113.2 >/dev/null 2>&1 || true
capture_stop inet-probe
check "(the capture on inet sees a mesh source when there is one)" captured_some inet-probe
pass "exit node"
