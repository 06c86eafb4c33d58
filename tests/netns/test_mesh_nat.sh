#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The mesh through NATs: laptop behind an endpoint-independent NAT, phone
# behind a symmetric one. Both join home's coordinator through their NATs;
# laptop <-> home is direct through laptop's NAT; laptop <-> phone cannot be
# direct and goes through home's relay, end-to-end encrypted; when phone's
# NAT becomes endpoint-independent, the path turns direct by itself. laptop
# and phone run MTU 1420 behind home's 1280: their largest packets still
# cross the relay.
# Neither NAT lets anything new in, so home's port probe (a datagram from a
# socket laptop and phone never talked to) reaches neither: their udp_port
# checks fail, while home's passes (their traffic reaches it).
#
#  laptop ── lnat ──┐
#                   inet ── home
#  phone ─── pnat ──┘
#
#  laptop  up0  10.1.0.2/24        default via lnat
#  lnat    in0  10.1.0.1/24   out0 198.51.100.2/24   masquerade (EIM), no new flows in
#  phone   up0  10.2.0.2/24        default via pnat
#  pnat    in0  10.2.0.1/24   out0 198.51.101.2/24   masquerade random,fully-random
#                                                    (symmetric), no new flows in
#  inet    lap0 198.51.100.1/24  pho0 198.51.101.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10, UDP 41641,
#                                 MTU 1280 (laptop and phone: 1420)
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
require_cmd ip ping nft tcpdump python3 timeout
root_state_snapshot

dir=$(mg_workdir)
PATTERN=6d67706c61696e21 # "mgplain!", the inner ICMP payload

setup() {
	ns_create laptop lnat phone pnat inet home
	mesh_forwarding inet lnat pnat
	mesh_uplink laptop up0 lnat in0 10.1.0
	mesh_uplink lnat out0 inet lap0 198.51.100
	mesh_uplink phone up0 pnat in0 10.2.0
	mesh_uplink pnat out0 inet pho0 198.51.101
	mesh_uplink home wan0 inet home0 203.0.113
	nat_eim lnat out0
	nat_symmetric pnat out0
}

# pattern_seen NAME: the inner payload appears in capture NAME.
pattern_seen() {
	python3 -c 'import sys
data = open(sys.argv[1], "rb").read()
sys.exit(0 if bytes.fromhex(sys.argv[2]) in data else 1)' "$dir/$1.pcap" "$PATTERN"
}

ping_pattern() { # NS ADDR
	ns_exec "$1" ping -c 3 -i 0.3 -W 2 -p "$PATTERN" "$2" >/dev/null 2>&1
}

relay_drops() { # NAME: RELAY datagrams NAME did not forward
	mg_cli "$1" "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["drops"]["mesh_relay"])'
}

path_is() { # NAME PEER PATH
	[ "$(mesh_peer "$1" "$2" path)" = "$3" ]
}

setup
mesh_conf_coordinator home '' 'mtu = 1280;'
mesh_conf laptop 'mtu = 1420;'
mesh_conf phone 'mtu = 1420;'
mesh_start home
mesh_start laptop
mesh_start phone

# Joining through the NATs to home's public endpoint.
check "laptop joins through its NAT" mesh_join laptop
check "phone joins through its symmetric NAT" mesh_join phone
LAPTOP=$(mesh_addr laptop)
PHONE=$(mesh_addr phone)
HOME_MESH=$(mesh_addr home)
log "laptop $LAPTOP, phone $PHONE, home $HOME_MESH"
check "laptop reaches home" wait_for 50 0.2 mesh_ping laptop "$HOME_MESH"
check "phone reaches home" wait_for 50 0.2 mesh_ping phone "$HOME_MESH"

# The port probe through the NATs' firewalls.
check "laptop's udp_port check fails: nothing new gets through its NAT" \
	wait_for 60 0.5 mg_preflight_is laptop laptop udp_port false
msg=$(mg_preflight laptop laptop udp_port message)
log "laptop: udp_port: $msg"
check "it names the NAT's address home sees" grep -qF "(seen as 198.51.100.2:" <<<"$msg"
check "it says how peers get through" grep -qF "where NAT traversal works, else the relay" <<<"$msg"
fix=$(mg_preflight laptop laptop udp_port fix)
check "the fix: forward the port" [ "$fix" = "forward UDP 41641 to this node on the router in front of it" ]
check "phone's udp_port check fails behind the symmetric NAT" \
	wait_for 60 0.5 mg_preflight_is phone phone udp_port false
check "home's udp_port check passes: both nodes reach it" \
	wait_for 30 0.5 mg_preflight_is home home udp_port true
msg=$(mg_preflight home home udp_port message)
log "home: udp_port: $msg"
check "home counts both" grep -qx "UDP 41641 is reached by 2 nodes" <<<"$msg"
check "laptop's status lists its mesh address" \
	sh -c "'$MESHGATE' --socket '$dir/laptop.sock' status --json | grep -q '\"$LAPTOP/'"

# laptop <-> home: direct, through the NAT's public address as home sees it.
check "laptop <-> home is direct" path_is laptop home direct
check "home sees laptop at its NAT's address" \
	wait_for 20 0.2 sh -c "'$MESHGATE' --socket '$dir/home.sock' status --json | grep -q '198.51.100.2:'"
ep=$(mesh_peer home laptop endpoint)
log "home sees laptop at $ep"
check "home's endpoint for laptop is the NAT's public address" [ "${ep%:*}" = 198.51.100.2 ]
check "the coordinator lists laptop's observed endpoint" mesh_has laptop endpoint_observed "$ep"

# laptop <-> phone: the symmetric NAT defeats every direct path; relayed.
capture_start home wan wan0 udp
capture_start lnat lnat.out0 out0 udp
capture_start pnat pnat.out0 out0 udp
capture_start phone phone.up0 up0 "udp and src host 198.51.100.2"
tun=$(sed -n 's/^interface = "\(.*\)";/\1/p' "$dir/laptop.conf")
capture_start laptop laptop.tun "$tun" icmp
check "laptop reaches phone" wait_for 60 0.5 mesh_ping laptop "$PHONE"
check "laptop -> phone is relayed" wait_for 30 0.5 path_is laptop phone relay
check "phone -> laptop is relayed" wait_for 30 0.5 path_is phone laptop relay
check "ping through the relay" ping_pattern laptop "$PHONE"
check "ping back through the relay" ping_pattern phone "$LAPTOP"
# 1400 bytes, as MTU 1420 allows: a 1496-byte RELAY datagram, more than
# home's own MTU would size a datagram for.
check "a 1400-byte packet crosses the relay (MTU 1420 nodes, 1280 coordinator)" \
	ns_exec laptop ping -c 3 -i 0.3 -W 2 -s 1372 -Mdo "$PHONE"
check "and back" ns_exec phone ping -c 3 -i 0.3 -W 2 -s 1372 -Mdo "$LAPTOP"
drops=$(relay_drops home)
log "RELAY datagrams home dropped: $drops"
check "home dropped no RELAY datagram" [ "$drops" -eq 0 ]
sleep 0.5
for c in wan lnat.out0 pnat.out0 phone.up0; do
	capture_stop "$c"
done
n=$(capture_count wan 'udp[8] = 0x83')
log "RELAY datagrams on home's uplink: $n"
check "home's uplink carries RELAY datagrams (0x83)" [ "$n" -gt 0 ]
check "no direct datagram from laptop's NAT reached phone" [ "$(capture_count phone.up0)" -eq 0 ]
for c in wan lnat.out0 pnat.out0; do
	check "no plaintext on $c" not pattern_seen "$c"
done
capture_stop laptop.tun
check "the pattern is seen where it is in clear (laptop's TUN)" pattern_seen laptop.tun

# phone's NAT turns endpoint-independent: the relayed peers try the direct
# paths again and move to them.
nat_eim pnat out0
nat_forget pnat out0 198.51.101.2/24 198.51.101.1
check "home sees phone at its NAT's preserved port" \
	wait_for 60 0.5 sh -c "'$MESHGATE' --socket '$dir/home.sock' status --json | grep -q '198.51.101.2:41641'"
start=$(date +%s)
check "laptop -> phone becomes direct within a few probe periods" wait_for 80 0.5 path_is laptop phone direct
log "direct after $(($(date +%s) - start)) s"
check "phone -> laptop becomes direct" wait_for 40 0.5 path_is phone laptop direct
check "laptop reaches phone directly" ping_pattern laptop "$PHONE"
ep=$(mesh_peer laptop phone endpoint)
check "laptop's endpoint for phone is phone's NAT ($ep)" [ "$ep" = 198.51.101.2:41641 ]

pass
