#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# A flood of initiations that are not for us (random MAC1) is dropped before
# it counts as load: b's wireguard-go connects on its first initiation, with
# no cookie reply, while m sends ~2000 of them a second.
# An initiation flood gets cookie replies while a legitimate peer still
# connects. m sends ~2000 initiations a second with a valid MAC1 and random
# content (far past UNDER_LOAD_HANDSHAKES_PER_SECOND); meshgated, under load,
# answers each with a cookie reply instead of doing public-key work. b's
# wireguard-go gets a cookie reply too, retries with MAC2 and connects while
# the flood goes on. Then a second flood from an attacker that opens its
# cookie reply and proves its address with MAC2: the per-source rate limiter
# drops nearly all of it, silently, and b (another source) connects again.
#
#   a: meshgated            b: wireguard-go (peer)     m: attacker: python3
#   mga<pid> 10.10.0.1/24   wgb<pid> 10.10.0.2/24         (wgcraft.py flood)
#   veth-a 192.0.2.1/24     veth-b 192.0.2.2/24        veth-m 192.0.2.66/24
#   UDP 51820               UDP 51821
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
dir=$(mg_workdir)
craft=(python3 "$(dirname "$(readlink -f "$0")")/wgcraft.py")
flood_seconds=15

# ---- helpers ----

bridge_port() {
	veth_pair "$1" "$2" s "p-$1"
	ns_ip s link set "p-$1" master br0
	ns_ip "$1" addr add "$3" dev "$2"
}

# counter NAME: a counter of meshgated's "daemon" status object.
counter() {
	mg_cli a a status --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"][sys.argv[1]])' "$1"
}

# at_least N NAME: the counter NAME is at least N.
at_least() {
	local now
	now=$(counter "$2")
	log "$2 = $now"
	[ "$now" -ge "$1" ]
}

quiet_ping() {
	ns_exec "$1" ping "${@:2}" >/dev/null 2>&1
}

# flood_field NAME [FILE]: a field of the flood sender's summary.
flood_field() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"${2:-$dir/flood.json}" "$1"
}

drop() {
	mg_cli a a status --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["drops"][sys.argv[1]])' "$1"
}

# drop_above REASON N: that drop counter is above N.
drop_above() {
	[ "$(drop "$1")" -gt "$2" ]
}

# b forgets its session with a: its next packet starts a new handshake.
b_forgets_a() {
	ns_exec b wg set "$wgb" peer "$pub_a" remove
	ns_exec b wg set "$wgb" peer "$pub_a" endpoint 192.0.2.1:51820 allowed-ips 10.10.0.1/32
}

# a and b forget each other's sessions, so that neither has a timer that
# could start a handshake: the next one is b's, with its next packet.
forget_each_other() {
	b_forgets_a
	ns_exec a wg set "$mga" peer "$pub_b" remove
	ns_exec a wg set "$mga" peer "$pub_b" allowed-ips 10.10.0.2/32
}

# ---- topology ----

ns_create s a b m
ns_ip s link add br0 type bridge
ns_ip s link set br0 up
bridge_port a veth-a 192.0.2.1/24
bridge_port b veth-b 192.0.2.2/24
bridge_port m veth-m 192.0.2.66/24

key_a=$(mg_genkey)
key_b=$(mg_genkey)
pub_a=$(mg_pubkey "$key_a")
pub_b=$(mg_pubkey "$key_b")
echo "$key_a" >"$dir/a.key"
echo "$key_b" >"$dir/b.key"
chmod 600 "$dir"/*.key

# a knows b's key but not its endpoint: b has to get through on its own.
mg_config "$dir/a.conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' \
	"{ name = \"b\"; public_key = \"$pub_b\"; allowed_ips = [\"10.10.0.2/32\"]; }"
mg_start a a "$dir/a.conf"

wggo_start b "$wgb"
ns_exec b wg set "$wgb" private-key "$dir/b.key" listen-port 51821 \
	peer "$pub_a" endpoint 192.0.2.1:51820 allowed-ips 10.10.0.1/32
ns_ip b addr add 10.10.0.2/24 dev "$wgb"
ns_ip b link set "$wgb" up

# Cookie replies that reach b.
ns_bg b tcpdump -n -U --immediate-mode -i veth-b -w "$dir/b-cookies.pcap" \
	"udp and src host 192.0.2.1 and udp[8] = 3" >/dev/null 2>"$dir/b-cookies.log"
cookie_cap=${MG_PIDS[-1]}
wait_for 50 0.1 grep -q "listening on" "$dir/b-cookies.log" || fail "tcpdump did not start"

# ---- a junk flood: not load ----
ns_bg m "${craft[@]}" flood 192.0.2.1 51820 "$pub_a" --bind 192.0.2.66 --junk \
	--rate 2000 --seconds 8 >"$dir/junk.json" 2>"$dir/junk.log"
flood=${MG_PIDS[-1]}
check "meshgated drops the junk" wait_for 50 0.1 drop_above rx_bad_mac 1000
started=$(date +%s%N)
check "b -> a ping during the junk flood" wait_for 20 0.5 quiet_ping b -c1 -W1 10.10.0.1
log "b reached a after $((($(date +%s%N) - started) / 1000000)) ms"
check "the junk flood was still going on" kill -0 "$flood"
check "no cookie reply to anyone" test "$(counter cookie_replies_tx)" -eq 0
check "no cookie reply reached b" \
	test "$(tcpdump -n -r "$dir/b-cookies.pcap" 2>/dev/null | wc -l)" -eq 0
check "b connected on its first initiation" test "$(counter handshake_initiations_rx)" -eq 1
check "the junk flood sender stops by itself" wait_for 200 0.1 not kill -0 "$flood"
check "the junk got no reply at all" wait "$flood"
log "junk flood: $(cat "$dir/junk.json"), rx_bad_mac $(drop rx_bad_mac)"
forget_each_other
responses=$(counter handshake_responses_tx)
sessions=$(counter sessions_established)

# ---- the flood ----
ns_bg m "${craft[@]}" flood 192.0.2.1 51820 "$pub_a" --bind 192.0.2.66 \
	--rate 2000 --seconds "$flood_seconds" >"$dir/flood.json" 2>"$dir/flood.log"
flood=${MG_PIDS[-1]}
check "meshgated answers the flood with cookie replies" wait_for 50 0.1 at_least 100 cookie_replies_tx

# b's first initiation gets a cookie reply; its retry, REKEY_TIMEOUT later,
# carries MAC2 and gets through.
check "b -> a ping during the flood" wait_for 20 0.5 quiet_ping b -c1 -W1 10.10.0.1
check "the flood was still going on" kill -0 "$flood"
check "b received a cookie reply" \
	test "$(tcpdump -n -r "$dir/b-cookies.pcap" 2>/dev/null | wc -l)" -ge 1
check "a -> b ping during the flood" quiet_ping a -c1 -W1 10.10.0.2
check "meshgated answered b's retry" at_least $((responses + 1)) handshake_responses_tx
check "a session with b" at_least $((sessions + 1)) sessions_established

check "the flood sender stops by itself" wait_for $((flood_seconds * 10 + 100)) 0.1 not kill -0 "$flood"
check "the flood got cookie replies" wait "$flood"
log "flood: $(cat "$dir/flood.json")"
check "nearly every flood initiation got its cookie reply" \
	test "$(($(flood_field cookies) * 10))" -ge "$(($(flood_field sent) * 9))"
check "nothing but cookie replies for the flood" test "$(flood_field other)" -eq 0
check "meshgated counted them" at_least "$(flood_field cookies)" cookie_replies_tx
check "meshgated still runs" kill -0 "$(mg_pid a)"
check "b -> a ping after the flood" quiet_ping b -c1 -W1 10.10.0.1

# ---- a flood with valid MAC2: the rate limiter's turn ----
b_forgets_a
sessions=$(counter sessions_established)
ratelimited=$(drop rx_ratelimited)
invalid=$(drop rx_handshake_invalid)
ns_bg m "${craft[@]}" flood 192.0.2.1 51820 "$pub_a" --bind 192.0.2.66 --mac2 \
	--rate 2000 --seconds "$flood_seconds" >"$dir/flood2.json" 2>"$dir/flood2.log"
flood=${MG_PIDS[-1]}
check "rate-limited initiations pile up" wait_for 50 0.1 drop_above rx_ratelimited $((ratelimited + 500))
check "b -> a ping during the MAC2 flood" wait_for 20 0.5 quiet_ping b -c1 -W1 10.10.0.1
check "the MAC2 flood was still going on" kill -0 "$flood"
check "b made a new session" at_least $((sessions + 1)) sessions_established
check "the MAC2 flood sender stops by itself" wait_for $((flood_seconds * 10 + 100)) 0.1 not kill -0 "$flood"
check "the attacker opened its cookie and no MAC2 initiation got a reply" wait "$flood"
log "MAC2 flood: $(cat "$dir/flood2.json")"
with_mac2=$(flood_field sent_with_mac2 "$dir/flood2.json")
now_ratelimited=$(drop rx_ratelimited)
now_invalid=$(drop rx_handshake_invalid)
log "rx_ratelimited $ratelimited -> $now_ratelimited, rx_handshake_invalid $invalid -> $now_invalid"
check "nearly all MAC2 initiations rate-limited" \
	test $((now_ratelimited - ratelimited)) -ge $((with_mac2 * 8 / 10))
check "the few let through failed as handshakes (valid MAC2, bogus content)" \
	test "$now_invalid" -gt "$invalid"
check "meshgated still runs" kill -0 "$(mg_pid a)"
check "a -> b ping after the MAC2 flood" quiet_ping a -c1 -W1 10.10.0.2
kill -INT "$cookie_cap" 2>/dev/null || true
check "meshgated stops on SIGTERM" mg_stop a TERM
pass "initiation flood"
