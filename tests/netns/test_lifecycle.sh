#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# meshgated's life cycle against wireguard-go peers: SIGTERM leaves nothing
# behind; SIGKILL leaves only socket files, which `meshgated --cleanup`
# removes (idempotent, and refused while a daemon runs); a restart
# re-establishes the tunnels; SIGHUP applies a new peer list without dropping
# the sessions of peers that stay; a reload with a syntax error keeps the
# running configuration and names FILE:LINE; `--check` names FILE:LINE of an
# unknown key.
#
#   b: wireguard-go                a: meshgated                  c: wireguard-go
#   wgb<pid> 10.10.0.2/24          mga<pid> 10.10.0.1/24         wgc<pid> 10.10.0.3/24
#   veth-b 192.0.2.2/24 ───────── veth-ab 192.0.2.1/24
#   UDP 51821                      veth-ac 198.51.100.1/24 ───── veth-c 198.51.100.3/24
#                                  UDP 51820                     UDP 51823
#   d: a key only (10.10.0.4/32, no endpoint): added by a reload.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip ping wg wireguard-go nft
root_state_snapshot

mga=mga$MG_PID
wgb=wgb$MG_PID
wgc=wgc$MG_PID
dir=$(mg_workdir)
conf=$dir/a.conf
uapi=/var/run/wireguard/$mga.sock
# A SIGKILLed daemon leaves its UAPI socket: never leave it to the host.
MG_EXTRA_CLEANUP+=("rm -f '$uapi'")

# ---- helpers ----

quiet_ping() {
	ns_exec "$1" ping "${@:2}" >/dev/null 2>&1
}

# Namespace a's kernel state: what meshgated may change and must restore.
a_state() {
	ns_ip a -o link
	ns_ip a -o addr
	ns_ip a route show table all
	ns_ip a -6 route show table all
	ns_ip a rule
	ns_ip a -6 rule
	ns_exec a nft list ruleset
}

same_state() {
	a_state >"$dir/state-now"
	diff -u "$dir/state-before" "$dir/state-now" >&2
}

tun_exists() {
	ns_ip a link show "$mga" >/dev/null 2>&1
}

status_answers() {
	mg_cli a "$1" status >/dev/null
}

no_sockets_left() {
	[ -z "$(find "$dir" -type s)" ] && [ ! -e "$uapi" ]
}

# stop_daemon NAME SIGNAL: signal it and wait; STOP_RC = its exit status.
stop_daemon() {
	local pid
	pid=$(mg_pid "$1")
	kill -"$2" "$pid"
	wait_for 100 0.1 not kill -0 "$pid" || return 1
	STOP_RC=0
	wait "$pid" 2>/dev/null || STOP_RC=$?
	log "meshgated $1 exited with status $STOP_RC after SIG$2"
}

# exits_with RC CMD...: CMD exits with status RC.
exits_with() {
	local want=$1 rc=0
	shift
	"$@" || rc=$?
	[ "$rc" -eq "$want" ]
}

config_valid() {
	ns_exec a "$MESHGATED" --check -c "$1" >/dev/null
}

cleanup_cmd() {
	ns_exec a "$MESHGATED" --cleanup -c "$conf"
}

# wg_show FIELD: meshgated's `wg show` FIELD, through its UAPI socket.
wg_show() {
	ns_exec a wg show "$mga" "$1"
}

# field_of FIELD KEY: the value `wg show` gives for one peer.
field_of() {
	wg_show "$1" | awk -v k="$2" '$1 == k { print $2 }'
}

counter() {
	mg_cli a "$1" status --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"][sys.argv[1]])' "$2"
}

# reloads NAME N: the daemon logged its N-th successful reload.
reloads() {
	[ "$(grep -c 'configuration reloaded' "$dir/$1.log")" -ge "$2" ]
}

# ---- topology ----

ns_create a b c
ns_exec a sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
veth_pair a veth-ab b veth-b
veth_pair a veth-ac c veth-c
ns_ip a addr add 192.0.2.1/24 dev veth-ab
ns_ip b addr add 192.0.2.2/24 dev veth-b
ns_ip a addr add 198.51.100.1/24 dev veth-ac
ns_ip c addr add 198.51.100.3/24 dev veth-c

for n in a b c d; do
	(umask 077 && mg_genkey >"$dir/$n.key")
done
pub_a=$(mg_pubkey "$(cat "$dir/a.key")")
pub_b=$(mg_pubkey "$(cat "$dir/b.key")")
pub_c=$(mg_pubkey "$(cat "$dir/c.key")")
pub_d=$(mg_pubkey "$(cat "$dir/d.key")")

# wg_peer NS IF PORT ADDR ENDPOINT_OF_A
wg_peer() {
	wggo_start "$1" "$2"
	ns_exec "$1" wg set "$2" private-key "$dir/$1.key" listen-port "$3" \
		peer "$pub_a" endpoint "$5" allowed-ips 10.10.0.1/32
	ns_ip "$1" addr add "$4" dev "$2"
	ns_ip "$1" link set "$2" up
}
wg_peer b "$wgb" 51821 10.10.0.2/24 192.0.2.1:51820
wg_peer c "$wgc" 51823 10.10.0.3/24 198.51.100.1:51820

peer_b() { # peer_b [KEEPALIVE]
	echo "{ name = \"b\"; public_key = \"$pub_b\"; endpoint = \"192.0.2.2:51821\";
	        allowed_ips = [\"10.10.0.2/32\"];${1:+ persistent_keepalive = $1;} }"
}
peer_c="{ name = \"c\"; public_key = \"$pub_c\"; endpoint = \"198.51.100.3:51823\";
	  allowed_ips = [\"10.10.0.3/32\"]; }"
peer_d="{ name = \"d\"; public_key = \"$pub_d\"; allowed_ips = [\"10.10.0.4/32\"]; }"

mg_config "$conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' "$(peer_b), $peer_c"
check "config is valid" config_valid "$conf"
a_state >"$dir/state-before"

# ---- SIGTERM leaves nothing ----
mg_start a a1 "$conf"
check "a -> b ping" wait_for 30 0.5 quiet_ping a -c1 -W1 10.10.0.2
check "a -> c ping" wait_for 30 0.5 quiet_ping a -c1 -W1 10.10.0.3
check "meshgated stops on SIGTERM" stop_daemon a1 TERM
check "and exits with status 0" test "$STOP_RC" -eq 0
check "SIGTERM: the TUN device is gone" not tun_exists
check "SIGTERM: no socket left in the work directory or /var/run/wireguard" no_sockets_left
check "SIGTERM: namespace a's links, addresses, routes, rules, nftables as before" same_state

# ---- SIGKILL leaves socket files; --cleanup removes them ----
mg_start a a2 "$conf"
check "a -> b ping" wait_for 30 0.5 quiet_ping a -c1 -W1 10.10.0.2
check "meshgated dies on SIGKILL" stop_daemon a2 KILL
check "SIGKILL: the TUN device vanished with the process" wait_for 20 0.1 not tun_exists
check "SIGKILL: the control socket file is left" test -S "$dir/$mga.sock"
check "SIGKILL: the UAPI socket file is left" test -S "$uapi"
check "--cleanup exits 0" exits_with 0 cleanup_cmd
check "--cleanup removed both socket files" no_sockets_left
check "after --cleanup: namespace a as before" same_state
check "a second --cleanup is a no-op, exit 0" exits_with 0 cleanup_cmd
check "after the second --cleanup: namespace a as before" same_state

# ---- SIGKILL, then a start over the stale socket files ----
mg_start a a3 "$conf"
check "a -> b ping" wait_for 30 0.5 quiet_ping a -c1 -W1 10.10.0.2
check "meshgated dies on SIGKILL" stop_daemon a3 KILL
check "SIGKILL: the UAPI socket file is left" test -S "$uapi"
mg_start a a4 "$conf"
check "a start over stale socket files answers on the UAPI" wait_for 20 0.1 wg_show peers

# ---- --cleanup refuses while a daemon runs ----
check "--cleanup refuses with exit 1 while meshgated runs" exits_with 1 cleanup_cmd 2>"$dir/refused.err"
log "--cleanup: $(cat "$dir/refused.err")"
check "the TUN device is still there" tun_exists
check "the control socket still answers" status_answers a4

# ---- restart re-establishes the tunnels ----
check "a -> b ping after restart" wait_for 30 0.5 quiet_ping a -c1 -W1 10.10.0.2
check "a -> c ping after restart" wait_for 30 0.5 quiet_ping a -c1 -W1 10.10.0.3
check "c -> a ping after restart" quiet_ping c -c1 -W1 10.10.0.1
check "b -> a ping after restart" quiet_ping b -c1 -W1 10.10.0.1

# ---- SIGHUP: remove c, add d, change b's keepalive; b's session stays ----
hs_b=$(field_of latest-handshakes "$pub_b")
sessions=$(counter a4 sessions_established)
log "b's latest handshake $hs_b; sessions established $sessions"
check "b has a handshake" test "$hs_b" -gt 0
check "b's keepalive is off" test "$(field_of persistent-keepalive "$pub_b")" = off
# A new handshake now would carry a later second.
sleep 1.1
mg_config "$conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' "$(peer_b 17), $peer_d"
kill -HUP "$(mg_pid a4)"
check "meshgated reloads on SIGHUP" wait_for 50 0.1 reloads a4 1
check "c is gone from wg show" not sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" wg show "$mga" peers) | grep -qF '$pub_c'"
check "d is in wg show" sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" wg show "$mga" peers) | grep -qF '$pub_d'"
check "a -> b ping right after the reload" quiet_ping a -c1 -W1 10.10.0.2
check "b -> a ping right after the reload" quiet_ping b -c1 -W1 10.10.0.1
check "b's session was kept: same latest handshake" test "$(field_of latest-handshakes "$pub_b")" = "$hs_b"
check "b's session was kept: no new session" test "$(counter a4 sessions_established)" = "$sessions"
check "b's keepalive is now 17 s" test "$(field_of persistent-keepalive "$pub_b")" = 17
check "c can no longer reach a" not quiet_ping c -c1 -W1 10.10.0.1

# ---- a reload with a syntax error keeps the running configuration ----
bad_line=$(($(wc -l <"$conf") + 1))
echo "listen_port = = 51830;" >>"$conf"
kill -HUP "$(mg_pid a4)"
check "the reload fails with FILE:LINE in the log" \
	wait_for 50 0.1 grep -qF "$conf:$bad_line" "$dir/a4.log"
check "and says it keeps the running configuration" grep -q "keeping the running configuration" "$dir/a4.log"
check "no second successful reload" not reloads a4 2
check "still listening on 51820" test "$(wg_show listen-port)" = 51820
check "d still in wg show" sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" wg show "$mga" peers) | grep -qF '$pub_d'"
check "b's keepalive still 17 s" test "$(field_of persistent-keepalive "$pub_b")" = 17
check "a -> b ping after the failed reload" quiet_ping a -c1 -W1 10.10.0.2
check "b's session still the same" test "$(counter a4 sessions_established)" = "$sessions"

# ---- a reload the engine refuses part of is reported, not swallowed ----
# apply_error_is TEXT: the status document's daemon.last_apply_error (None: null).
apply_error_is() {
	test "$(counter a4 last_apply_error)" = "$1"
}
check "no apply error before" apply_error_is None
# A low-order public key parses but the engine refuses the peer.
peer_z="{ name = \"z\"; public_key = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\";
	  allowed_ips = [\"10.10.0.9/32\"]; }"
mg_config "$conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' "$(peer_b 17), $peer_d, $peer_z"
kill -HUP "$(mg_pid a4)"
check "the reload is applied" wait_for 50 0.1 reloads a4 2
check "the refused peer is logged" grep -q "reload: engine peers: Invalid argument" "$dir/a4.log"
check "and kept in the status" apply_error_is "reload: engine peers: Invalid argument"
check "the other peers are in place" sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" wg show "$mga" peers) | grep -qF '$pub_d'"
mg_config "$conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' "$(peer_b 17), $peer_d"
kill -HUP "$(mg_pid a4)"
check "the next reload is applied" wait_for 50 0.1 reloads a4 3
check "and clears the error" apply_error_is None
check "a -> b ping after the reloads" quiet_ping a -c1 -W1 10.10.0.2

# ---- --check names FILE:LINE of an unknown key ----
unknown=$dir/unknown.conf
mg_config "$unknown" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' "$(peer_b)"
unknown_line=$(($(wc -l <"$unknown") + 1))
echo "no_such_key = 1;" >>"$unknown"
check_out=$dir/check.out
check "--check rejects an unknown key" \
	not sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" "$MESHGATED" --check -c "$unknown") >'$check_out' 2>&1"
log "--check: $(cat "$check_out")"
check "--check names FILE:LINE" grep -qF "$unknown:$unknown_line: " "$check_out"

# ---- and a last SIGTERM leaves nothing ----
check "meshgated stops on SIGTERM" stop_daemon a4 TERM
check "and exits with status 0" test "$STOP_RC" -eq 0
check "no socket left" no_sockets_left
check "namespace a as before" same_state
pass "life cycle"
