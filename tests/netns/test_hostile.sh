#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Hostile input gets silence and no crash: garbage of every size, bad MAC1,
# replayed and older initiations, an initiation from an unknown key, replayed
# and tampered data, and data whose inner source b may not use. Each is
# dropped without a word on the wire, counted under "daemon"."drops", and the
# tunnel with the legitimate peer keeps working.
#
#   a: meshgated            b: wireguard-go (peer)     m: attacker: python3
#   mga<pid> 10.10.0.1/24   wgb<pid> 10.10.0.2/24         (wgcraft.py) and a
#                                    + 10.10.0.99/32      wireguard-go with a
#                                                         key a does not know
#                                                      wgm<pid> 10.10.0.3/24
#   veth-a 192.0.2.1/24     veth-b 192.0.2.2/24        veth-m 192.0.2.66/24
#          2001:db8::1/64                                     2001:db8::66/64
#   UDP 51820               UDP 51821                  UDP 51822
#        |                       |                          |
#        +---------------- br0 in namespace s --------------+
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip ping wg wireguard-go tcpdump python3
root_state_snapshot

mga=mga$MG_PID
wgb=wgb$MG_PID
wgm=wgm$MG_PID
dir=$(mg_workdir)
craft=(python3 "$(dirname "$(readlink -f "$0")")/wgcraft.py")

# ---- helpers ----

# bridge_port NS IF ADDR: a veth from NS to the bridge in s.
bridge_port() {
	veth_pair "$1" "$2" s "p-$1"
	ns_ip s link set "p-$1" master br0
	ns_ip "$1" addr add "$3" dev "$2"
}

status_json() {
	mg_cli a a status --json
}

# drop REASON: meshgated's counter for that drop reason.
drop() {
	status_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["drops"][sys.argv[1]])' "$1"
}

# rose BEFORE REASON: the counter is now above BEFORE.
rose() {
	local now
	now=$(drop "$2")
	log "$2: $1 -> $now"
	[ "$now" -gt "$1" ]
}

# attack CMD ARGS...: wgcraft.py from m; logs its summary; fails on any reply.
attack() {
	local out rc=0
	out=$(ns_exec m "${craft[@]}" "$1" --bind 192.0.2.66 "${@:2}") || rc=$?
	log "$1: $out"
	return "$rc"
}

attack6() {
	local out rc=0
	out=$(ns_exec m "${craft[@]}" "$1" --bind 2001:db8::66 "${@:2}") || rc=$?
	log "$1 over IPv6: $out"
	return "$rc"
}

# capture NS IF FILTER FILE: start tcpdump writing FILE (its pid: the last
# of MG_PIDS).
capture() {
	ns_bg "$1" tcpdump -n -U --immediate-mode -i "$2" -w "$4" "$3" >/dev/null 2>"$4.log"
	wait_for 50 0.1 grep -q "listening on" "$4.log" || fail "tcpdump on $1/$2 did not start"
}

stop_capture() {
	kill -INT "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
}

# packets FILE [FILTER]: how many packets of the capture match.
packets() {
	tcpdump -n -r "$1" "${@:2}" 2>/dev/null | wc -l
}

# rose_by BEFORE REASON N: the counter is now exactly BEFORE + N.
rose_by() {
	local now
	now=$(drop "$2")
	log "$2: $1 -> $now"
	[ "$now" -eq $(($1 + $3)) ]
}

# drops_total: the sum of meshgated's receive-side drop counters.
drops_total() {
	status_json | python3 -c 'import json,sys; print(sum(v for k, v in json.load(sys.stdin)["daemon"]["drops"].items() if k.startswith("rx_")))'
}

# quiet_ping NS ARGS...: ping from NS, output discarded.
quiet_ping() {
	ns_exec "$1" ping "${@:2}" >/dev/null 2>&1
}

tun_rx() {
	ns_exec a cat "/sys/class/net/$mga/statistics/rx_packets"
}

endpoint_of_b() {
	status_json | python3 -c 'import json,sys; print([p["endpoint"] for p in json.load(sys.stdin)["peers"] if p["name"] == "b"][0])'
}

# ---- topology ----

ns_create s a b m
ns_ip s link add br0 type bridge
ns_ip s link set br0 up
bridge_port a veth-a 192.0.2.1/24
bridge_port b veth-b 192.0.2.2/24
bridge_port m veth-m 192.0.2.66/24
ns_ip a addr add 2001:db8::1/64 dev veth-a nodad
ns_ip m addr add 2001:db8::66/64 dev veth-m nodad

key_a=$(mg_genkey)
key_b=$(mg_genkey)
key_m=$(mg_genkey)
pub_a=$(mg_pubkey "$key_a")
pub_b=$(mg_pubkey "$key_b")
echo "$key_a" >"$dir/a.key"
echo "$key_b" >"$dir/b.key"
echo "$key_m" >"$dir/m.key"
chmod 600 "$dir"/*.key

mg_config "$dir/a.conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' \
	"{ name = \"b\"; public_key = \"$pub_b\"; endpoint = \"192.0.2.2:51821\";
	   allowed_ips = [\"10.10.0.2/32\"]; }"

wggo_start b "$wgb"
ns_exec b wg set "$wgb" private-key "$dir/b.key" listen-port 51821 \
	peer "$pub_a" endpoint 192.0.2.1:51820 allowed-ips 10.10.0.1/32
ns_ip b addr add 10.10.0.2/24 dev "$wgb"
ns_ip b link set "$wgb" up

# Everything a sends to m, for the whole test: it must stay empty.
capture m veth-m "udp and (src host 192.0.2.1 or src host 2001:db8::1)" "$dir/to-m.pcap"
m_cap=${MG_PIDS[-1]}

# The initiations b sends, captured on b's side of the link.
capture b veth-b "udp and dst port 51820 and udp[8] = 1" "$dir/init.pcap"
init_cap=${MG_PIDS[-1]}

mg_start a a "$dir/a.conf"
check "b -> a ping (b initiates)" wait_for 30 0.5 ns_exec b ping -c1 -W1 10.10.0.1

# A second initiation with a newer timestamp: b forgets its session with a.
ns_exec b wg set "$wgb" peer "$pub_a" remove
ns_exec b wg set "$wgb" peer "$pub_a" endpoint 192.0.2.1:51820 allowed-ips 10.10.0.1/32
check "b -> a ping after b re-initiates" wait_for 30 0.5 ns_exec b ping -c1 -W1 10.10.0.1
stop_capture "$init_cap"
check "two initiations from b captured" \
	test "$("${craft[@]}" list "$dir/init.pcap" | grep -c 'type 1 len 148')" -ge 2

# ---- garbage of every size ----
malformed=$(drop rx_malformed)
bad_mac=$(drop rx_bad_mac)
unknown_index=$(drop rx_unknown_index)
total=$(drops_total)
check "garbage of every size, and after each type header: no reply" attack garbage 192.0.2.1 51820
# 7511 datagrams; a few may be lost in the socket buffer, none may pass.
check "(nearly) every garbage datagram counted as a drop" test "$(($(drops_total) - total))" -ge 7000
total=$(drops_total)
check "the same garbage over IPv6: no reply" attack6 garbage 2001:db8::1 51820
check "(nearly) every one counted as a drop" test "$(($(drops_total) - total))" -ge 7000
check "meshgated still runs" kill -0 "$(mg_pid a)"
check "rx_malformed rose" rose "$malformed" rx_malformed
check "rx_bad_mac rose" rose "$bad_mac" rx_bad_mac
check "rx_unknown_index rose" rose "$unknown_index" rx_unknown_index
check "the tunnel with b still works" wait_for 5 0.5 ns_exec b ping -c1 -W1 10.10.0.1

# ---- bad MAC1 ----
bad_mac=$(drop rx_bad_mac)
check "type 1/2/3 with random content (bad MAC1): no reply" attack badmac 192.0.2.1 51820
check "rx_bad_mac rose" rose "$bad_mac" rx_bad_mac

# ---- replayed and older initiations ----
replay=$(drop rx_handshake_replay)
check "the latest initiation replayed: no reply" \
	attack replay "$dir/init.pcap" 192.0.2.1 51820 --type 1 --pick -1
check "counted as rx_handshake_replay" rose_by "$replay" rx_handshake_replay 1
check "the first (older) initiation replayed: no reply" \
	attack replay "$dir/init.pcap" 192.0.2.1 51820 --type 1 --pick 0
check "counted as rx_handshake_replay" rose_by "$replay" rx_handshake_replay 2
check "b's endpoint did not move to the attacker" \
	test "$(endpoint_of_b)" = "192.0.2.2:51821"

# ---- an initiation from a key a does not know ----
unknown_peer=$(drop rx_unknown_peer)
wggo_start m "$wgm"
ns_exec m wg set "$wgm" private-key "$dir/m.key" listen-port 51822 \
	peer "$pub_a" endpoint 192.0.2.1:51820 allowed-ips 10.10.0.1/32
ns_ip m addr add 10.10.0.3/24 dev "$wgm"
ns_ip m link set "$wgm" up
quiet_ping m -c1 -W2 10.10.0.1 || true
check "rx_unknown_peer rose" wait_for 20 0.5 rose "$unknown_peer" rx_unknown_peer
check "m's wireguard-go got no handshake" \
	sh -c "ip netns exec $(ns_name m) wg show $wgm latest-handshakes | awk '{exit \$2 != 0}'"
check "m's wireguard-go received nothing" \
	sh -c "ip netns exec $(ns_name m) wg show $wgm transfer | awk '{exit \$2 != 0}'"
ns_ip m link set "$wgm" down

# ---- replayed and tampered data ----
capture b veth-b "udp and dst port 51820 and udp[8] = 4 and udp[4:2] > 48" "$dir/data.pcap"
data_cap=${MG_PIDS[-1]}
check "b -> a ping, captured" quiet_ping b -c3 -i0.2 -W1 10.10.0.1
stop_capture "$data_cap"
count_data() {
	"${craft[@]}" list "$dir/data.pcap" | grep -c 'type 4'
}
check "data packets from b captured" test "$(count_data)" -ge 3

rx=$(tun_rx)
replay=$(drop rx_replay)
check "b's data replayed: no reply" attack replay "$dir/data.pcap" 192.0.2.1 51820 --type 4
check "each counted as rx_replay" rose_by "$replay" rx_replay "$(count_data)"
decrypt=$(drop rx_decrypt)
check "b's data with one byte flipped: no reply" \
	attack replay "$dir/data.pcap" 192.0.2.1 51820 --type 4 --flip
check "each counted as rx_decrypt" rose_by "$decrypt" rx_decrypt "$(count_data)"
check "nothing replayed or tampered reached a's TUN" test "$(tun_rx)" = "$rx"
check "b's endpoint did not move to the attacker" \
	test "$(endpoint_of_b)" = "192.0.2.2:51821"

# ---- spoofed inner source: b sends from an address a does not allow for b ----
ns_ip b addr add 10.10.0.99/32 dev "$wgb"
capture a "$mga" icmp "$dir/tun-a.pcap"
tun_cap=${MG_PIDS[-1]}
not_allowed=$(drop rx_source_not_allowed)
quiet_ping b -c3 -i0.2 -W1 -I 10.10.0.99 10.10.0.1 || true
check "rx_source_not_allowed rose" wait_for 10 0.2 rose "$not_allowed" rx_source_not_allowed
check "b -> a ping from b's own address still works" quiet_ping b -c1 -W1 10.10.0.1
stop_capture "$tun_cap"
check "a's TUN saw b's own ping" test "$(packets "$dir/tun-a.pcap" src host 10.10.0.2)" -ge 1
check "a's TUN saw nothing from 10.10.0.99" test "$(packets "$dir/tun-a.pcap" src host 10.10.0.99)" -eq 0

# ---- afterwards ----
check "meshgated still runs" kill -0 "$(mg_pid a)"
check "a -> b ping" quiet_ping a -c1 -W1 10.10.0.2
stop_capture "$m_cap"
check "a sent nothing at all to the attacker" test "$(packets "$dir/to-m.pcap")" -eq 0
check "meshgated stops on SIGTERM" mg_stop a TERM
pass "hostile input"
