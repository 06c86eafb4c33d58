#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# meshgated <-> Debian's wireguard-go: each side as initiator, IPv4 and IPv6
# inside and outside the tunnel, ping and iperf3 both ways, stock `wg` against
# meshgated's UAPI, SIGTERM leaves nothing behind, a restart reconnects.
#
#   a: meshgated                                 b: wireguard-go + wg
#   mga<pid> 10.10.0.1/24  fd10::1/64            wgb<pid> 10.10.0.2/24  fd10::2/64
#   veth-a   192.0.2.1/24  2001:db8:1::1/64 ──── veth-b   192.0.2.2/24  2001:db8:1::2/64
#            UDP 51820                                    UDP 51821
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip ping wg wireguard-go iperf3
root_state_snapshot

mga=mga$MG_PID
wgb=wgb$MG_PID
dir=$(mg_workdir)

ns_create a b
veth_pair a veth-a b veth-b
ns_ip a addr add 192.0.2.1/24 dev veth-a
ns_ip b addr add 192.0.2.2/24 dev veth-b
ns_ip a addr add 2001:db8:1::1/64 dev veth-a nodad
ns_ip b addr add 2001:db8:1::2/64 dev veth-b nodad

key_a=$(mg_genkey)
key_b=$(mg_genkey)
pub_a=$(mg_pubkey "$key_a")
pub_b=$(mg_pubkey "$key_b")
echo "$key_a" >"$dir/a.key"
chmod 600 "$dir/a.key"

mg_config "$dir/a.conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24", "fd10::1/64"' \
	"{ name = \"b\"; public_key = \"$pub_b\"; endpoint = \"192.0.2.2:51821\";
	   allowed_ips = [\"10.10.0.2/32\", \"fd10::2/128\"]; }"
check "config is valid" "$MESHGATED" --check -c "$dir/a.conf"

wggo_start b "$wgb"
echo "$key_b" >"$dir/b.key"
ns_exec b wg set "$wgb" private-key "$dir/b.key" listen-port 51821 \
	peer "$pub_a" allowed-ips 10.10.0.1/32,fd10::1/128
ns_ip b addr add 10.10.0.2/24 dev "$wgb"
ns_ip b addr add fd10::2/64 dev "$wgb" nodad
ns_ip b link set "$wgb" up

# ---- meshgated initiates (b does not know a's endpoint yet) ----
mg_start a a "$dir/a.conf"
check "TUN device exists with its addresses" \
	sh -c "ip -n $(ns_name a) -o addr show dev $mga | grep -q 10.10.0.1/24"
check "a -> b ping over IPv4 (a initiates)" wait_for 30 0.5 ns_exec a ping -c1 -W1 10.10.0.2
check "a -> b ping over IPv6 inside" wait_for 10 0.5 ns_exec a ping -6 -c1 -W1 fd10::2
check "b learned a's endpoint by roaming" \
	sh -c "ip netns exec $(ns_name b) wg show $wgb endpoints | grep -q 192.0.2.1:51820"

check "meshgate ping reports the direct path and an RTT" \
	sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" "$MESHGATE" --socket "$dir/$mga.sock" ping -c 2 b) |
	       grep -q 'pong from b (10.10.0.2) via direct 192.0.2.2:51821 in [0-9.]* ms'"
check "meshgate ping of an unknown peer fails with exit 1" \
	sh -c "ip netns exec $(ns_name a) $MESHGATE --socket $dir/$mga.sock ping nobody; test \$? -eq 1"

# ---- stock wg against meshgated's UAPI ----
check "wg show lists the peer with a handshake" \
	sh -c "ns() { ip netns exec $(ns_name a) \"\$@\"; }; ns wg show $mga latest-handshakes | awk '{exit !(\$2 > 0)}'"
check "wg show reports the listen port" \
	sh -c "ip netns exec $(ns_name a) wg show $mga listen-port | grep -qx 51820"
check "wg showconf has the peer and its allowed IPs" \
	sh -c "ip netns exec $(ns_name a) wg showconf $mga | grep -q 'AllowedIPs = 10.10.0.2/32, fd10::2/128'"
check "wg set changes the persistent keepalive" \
	ns_exec a wg set "$mga" peer "$pub_b" persistent-keepalive 7
check "wg show reads it back" \
	sh -c "ip netns exec $(ns_name a) wg show $mga persistent-keepalive | grep -q '	7$'"

# ---- traffic both ways ----
ns_bg b iperf3 -s -B 10.10.0.2 -p 5201 >"$dir/iperf3-b.log" 2>&1
ns_bg a iperf3 -s -B 10.10.0.1 -p 5202 >"$dir/iperf3-a.log" 2>&1
wait_for 50 0.1 ns_exec b sh -c 'ss -ltn | grep -q :5201'
wait_for 50 0.1 ns_exec a sh -c 'ss -ltn | grep -q :5202'
check "iperf3 TCP a -> b" ns_exec a iperf3 -c 10.10.0.2 -p 5201 -t 2 -J --logfile "$dir/tcp-ab.json"
check "iperf3 TCP b -> a" ns_exec b iperf3 -c 10.10.0.1 -p 5202 -t 2 -J --logfile "$dir/tcp-ba.json"
check "iperf3 UDP a -> b, no loss to speak of" \
	sh -c "ip netns exec $(ns_name a) iperf3 -c 10.10.0.2 -p 5201 -u -b 50M -t 2 -J > $dir/udp-ab.json &&
	       python3 -c 'import json,sys; d=json.load(open(\"$dir/udp-ab.json\")); sys.exit(d[\"end\"][\"sum\"][\"lost_percent\"] > 5)'"
check "iperf3 UDP b -> a, no loss to speak of" \
	sh -c "ip netns exec $(ns_name b) iperf3 -c 10.10.0.1 -p 5202 -u -b 50M -t 2 -J > $dir/udp-ba.json &&
	       python3 -c 'import json,sys; d=json.load(open(\"$dir/udp-ba.json\")); sys.exit(d[\"end\"][\"sum\"][\"lost_percent\"] > 5)'"

# ---- IPv6 outside: b moves to a's IPv6 endpoint; a roams with it ----
ns_exec b wg set "$wgb" peer "$pub_a" endpoint "[2001:db8:1::1]:51820"
check "b -> a ping over the IPv6 transport" wait_for 20 0.5 ns_exec b ping -c1 -W1 10.10.0.1
check "a's status shows b's IPv6 endpoint" \
	sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" "$MESHGATE" --socket "$dir/$mga.sock" status --json) | grep -q '\"endpoint\": \"\[2001:db8:1::2\]:51821\"'"
check "IPv6 inside over IPv6 outside" wait_for 10 0.5 ns_exec a ping -6 -c1 -W1 fd10::2

# ---- SIGTERM leaves nothing behind ----
check "meshgated stops on SIGTERM" mg_stop a TERM
check "the TUN device is gone" not ns_ip a link show "$mga"
check "the control socket is gone" not test -e "$dir/$mga.sock"
check "the UAPI socket is gone" not test -e "/var/run/wireguard/$mga.sock"

# ---- restart; this time wireguard-go initiates ----
ns_exec b wg set "$wgb" peer "$pub_a" endpoint 192.0.2.1:51820
mg_start a a2 "$dir/a.conf"
check "b -> a ping after restart (b initiates)" wait_for 30 0.5 ns_exec b ping -c1 -W1 10.10.0.1
check "b -> a ping over IPv6 inside" wait_for 10 0.5 ns_exec b ping -6 -c1 -W1 fd10::1
check "meshgated stops again" mg_stop a2 TERM
pass "wireguard-go interop"
