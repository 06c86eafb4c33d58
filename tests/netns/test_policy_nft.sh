#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The access policy in the node's nftables table, with real packets and
# without a node: policytable computes the plan of a subnet router whose
# netmap carries a policy and applies its table as the router does, on a
# router namespace whose veth toward the client carries the
# TUN's name (the table knows the TUN only as an iifname/oifname). A
# subnet router with snat serves 192.168.77.0/24; the policy allows
# 10.0.0.2 -> 192.168.77.0/24 tcp:22 (and the IPv6 twin) and the client
# -> the router tcp:8080 only. Without a policy (default "allow") port 80
# on the switch answers; with it: 22 answers (masqueraded: the existing
# checks still run after the policy), 80 and ping are dropped and counted,
# the router answers on 8080 but not 9090; a policy entry for a prefix the
# router does not serve (192.168.78.0/24) lets nothing through, since the
# table's existing checks still follow the policy; the counters read back
# per rule and hook; `nft list` shows the named sets. The router is an exit
# node too: the policy lets the client out to the internet host on tcp:80
# only (masqueraded, the exit's own checks after the policy's). A policy
# change (one batch on the owner's socket, as the router applies it) opens
# the router's 9090, and a TCP session opened before it lives on.
#
#  client ── veth ── router ── veth ── switch
#  (stands in for     (the node's         (LAN host,
#   a mesh peer)       table)              whoami :22 :80)
#                        │
#                      veth ── inet (the internet: 192.0.2.80 on lo, whoami :22 :80)
#
#  client eth0 10.0.0.2 fd00:1::2 ── mgpol0 10.0.0.1 fd00:1::1  router (whoami :8080 :9090)
#  router lan0 192.168.77.1 fd77::1 ── switch eth0 192.168.77.2 fd77::2
#              192.168.78.1 (not served)            192.168.78.2
#  router wan0 203.0.113.1 (default route) ── inet eth0 203.0.113.2
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd ip ping nft python3 timeout
root_state_snapshot

here=$(dirname "$(readlink -f "$0")")
table=${MG_POLICYTABLE:-$(dirname "${MESHGATED:-.}")/tests/policytable}
[ -x "$table" ] || skip "no policytable helper (MG_POLICYTABLE)"
TUN=mgpol0

# ---- topology ----
ns_create client router switch inet
veth_pair client eth0 router "$TUN"
veth_pair router lan0 switch eth0
veth_pair router wan0 inet eth0
ns_ip router addr add 203.0.113.1/24 dev wan0
ns_ip router route add default via 203.0.113.2
ns_ip inet addr add 203.0.113.2/24 dev eth0
ns_ip inet addr add 192.0.2.80/32 dev lo
ns_ip client addr add 10.0.0.2/24 dev eth0
ns_ip client addr add fd00:1::2/64 dev eth0 nodad
ns_ip client route add default via 10.0.0.1
ns_ip client -6 route add default via fd00:1::1
ns_ip router addr add 10.0.0.1/24 dev "$TUN"
ns_ip router addr add fd00:1::1/64 dev "$TUN" nodad
ns_ip router addr add 192.168.77.1/24 dev lan0
ns_ip router addr add fd77::1/64 dev lan0 nodad
ns_ip switch addr add 192.168.77.2/24 dev eth0
ns_ip switch addr add fd77::2/64 dev eth0 nodad
ns_ip router addr add 192.168.78.1/24 dev lan0
ns_ip switch addr add 192.168.78.2/24 dev eth0
# Only for the first pings, before any table: with snat no reply needs them.
ns_ip switch route add default via 192.168.77.1
ns_ip switch -6 route add default via fd77::1
ns_exec router sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# A TUN carries no neighbour discovery, this veth does, and the policy
# would drop it on input: the neighbours are fixed instead.
mac() {
	ns_ip "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}
ns_ip client -6 neigh replace fd00:1::1 lladdr "$(mac router "$TUN")" dev eth0 nud permanent
ns_ip router -6 neigh replace fd00:1::2 lladdr "$(mac client eth0)" dev "$TUN" nud permanent

for port in 22 80; do
	ns_bg switch python3 "$here/whoami.py" serve "$port" 192.168.77.2 fd77::2 192.168.78.2 \
		--lifetime 120
done
# An echo service, one connection at a time, for the session across a change.
ns_bg switch python3 -c '
import socket, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("192.168.77.2", 2222))
srv.listen(4)
srv.settimeout(1)
end = time.monotonic() + 120
while time.monotonic() < end:
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        continue
    conn.settimeout(30)
    with conn:
        try:
            for line in conn.makefile("r"):
                conn.sendall(line.encode())
        except OSError:
            pass
'
# session ADDR PORT GO: one connection says 1, waits for the file GO (20 s
# at most), says 2; prints the echoes.
session_py='
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
echo = s.makefile("r")
s.sendall(b"1\n")
print(echo.readline().strip(), flush=True)
end = time.monotonic() + 20
while not os.path.exists(sys.argv[3]) and time.monotonic() < end:
    time.sleep(0.1)
s.sendall(b"2\n")
print(echo.readline().strip(), flush=True)
'
dir=$(mktemp -d "${TMPDIR:-/tmp}/mg-policy_nft-$MG_PID.XXXXXX")
MG_EXTRA_CLEANUP+=("rm -rf '$dir'")
for port in 22 80; do
	ns_bg inet python3 "$here/whoami.py" serve "$port" 192.0.2.80 --lifetime 120
done
for port in 8080 9090; do
	ns_bg router python3 "$here/whoami.py" serve "$port" 10.0.0.1 --lifetime 120
done

# answers ADDR PORT WANT: the client's question gets WANT back.
answers() {
	local got
	got=$(ns_exec client python3 "$here/whoami.py" ask "$1" "$2" --timeout 2 2>/dev/null) ||
		return 1
	[ "$got" = "$3" ] || { log "$1 port $2 answered '$got', not '$3'"; return 1; }
}

silent() {
	not ns_exec client python3 "$here/whoami.py" ask "$1" "$2" --timeout 2
}

listening() {
	ns_exec "$1" python3 "$here/whoami.py" ask "$2" "$3" --timeout 1
}

# table_up ARGS...: the table, held by a background policytable.
table_up() {
	ns_bg router "$table" apply --tun "$TUN" --addresses 10.0.0.1/24,fd00:1::1/64 \
		--lan 192.168.77.0/24,fd77::/64 --snat --exit wan0 "$@"
	TABLE_PID=$!
	wait_for 50 0.1 ns_exec router nft list table inet meshgate
}

table_down() {
	kill -TERM "$TABLE_PID"
	wait "$TABLE_PID" 2>/dev/null || true
	wait_for 50 0.1 not ns_exec router nft list table inet meshgate
}

# counter KIND ARGS...: the packets of one line of `policytable counters`.
counter() {
	ns_exec router "$table" counters | awk -v key="$*" '
		{ k = $1; for (i = 2; i < NF; i++) k = k " " $i }
		k == key { print $NF; found = 1 }
		END { if (!found) print -1 }'
}

at_least() {
	local got
	got=$(counter "${@:2}")
	log "counter $*: $got"
	[ "$got" -ge "$1" ]
}

is_zero() {
	[ "$(counter "$@")" -eq 0 ]
}

for port in 22 80; do
	check "switch listens on $port" wait_for 50 0.1 listening switch 192.168.77.2 "$port"
done
check "router listens on 8080" wait_for 50 0.1 listening router 10.0.0.1 8080
check "inet listens on 22" wait_for 50 0.1 listening inet 192.0.2.80 22
# No table yet: the paths work (and neighbour discovery is done).
check "client reaches the switch" wait_for 20 0.2 ns_exec client ping -c1 -W1 192.168.77.2
check "client reaches the switch over IPv6" wait_for 20 0.2 ns_exec client ping -c1 -W1 fd77::2

# ---- default "allow": the table as without policies ----
check "allow: table installed" table_up --allow
check "allow: switch port 80 answers (masqueraded)" answers 192.168.77.2 80 192.168.77.1
check "allow: switch port 22 answers" answers 192.168.77.2 22 192.168.77.1
check "allow: switch port 22 over IPv6" answers fd77::2 22 fd77::1
check "allow: router port 9090 answers" answers 10.0.0.1 9090 10.0.0.2
check "allow: the unserved prefix stays closed" silent 192.168.78.2 22
check "allow: out through the exit on 80 (masqueraded)" answers 192.0.2.80 80 203.0.113.1
check "allow: out through the exit on 22" answers 192.0.2.80 22 203.0.113.1
check "allow: no policy chain" not ns_exec router nft list chain inet meshgate policy_forward
table_down

# ---- default "deny" ----
check "deny: table installed" table_up \
	"1 forward 10.0.0.2/32,fd00:1::2/128 192.168.77.0/24,fd77::/64 tcp 22" \
	"2 input 10.0.0.0/24 10.0.0.1/32 tcp 8080" \
	"3 forward 10.0.0.2/32 192.168.78.0/24 tcp 22" \
	"4 exit 10.0.0.2/32 - tcp 80" \
	"5 forward 10.0.0.2/32 192.168.77.2/32 tcp 2222" \
	--alt "6 input 10.0.0.0/24 10.0.0.1/32 tcp 9090"
listing=$(ns_exec router nft list table inet meshgate)
for want in "jump policy_exit" "set p1_src4 {" "set p1_dst6 {" "set p1_ports {" "set p2_src4 {" "elements = { 22 }" \
	'comment "policy rule 1"' 'comment "policy default deny"' \
	'comment "policy rule 0: mesh control"' "jump policy_forward" "jump policy_input"; do
	check "nft list shows: $want" grep -qF "$want" <<<"$listing"
done

check "deny: switch port 22 answers, masqueraded (the reply passes)" \
	answers 192.168.77.2 22 192.168.77.1
check "deny: switch port 22 over IPv6" answers fd77::2 22 fd77::1
check "deny: switch port 80 silent" silent 192.168.77.2 80
check "deny: switch port 80 over IPv6 silent" silent fd77::2 80
check "deny: no ping to the switch" not ns_exec client ping -c1 -W1 192.168.77.2
check "deny: router port 8080 answers" answers 10.0.0.1 8080 10.0.0.2
check "deny: router port 9090 silent" silent 10.0.0.1 9090
check "deny: allowed but not served: closed" silent 192.168.78.2 22
check "deny: out through the exit on 80 (masqueraded)" answers 192.0.2.80 80 203.0.113.1
check "deny: not out through the exit on 22" silent 192.0.2.80 22

# One SYN per allowed connection (the rest of each flow is established).
check "counted: rule 1 forward" at_least 2 accepted 1 forward
check "counted: rule 2 input" at_least 1 accepted 2 input
check "counted: rule 3 forward (then from_mesh's drop)" at_least 1 accepted 3 forward
check "counted: rule 0 input, nothing" is_zero accepted 0 input
check "counted: forward denied (80 twice, ping)" at_least 3 denied forward
check "counted: input denied (9090)" at_least 1 denied input
check "counted: rule 4 exit" at_least 1 accepted 4 exit
check "counted: exit denied (22)" at_least 1 denied exit
ns_exec router "$table" counters >&2

# ---- a change of policy under a session ----
said() {
	[ "$(paste -sd ' ' "$dir/session")" = "$*" ]
}
ns_bg client python3 -c "$session_py" 192.168.77.2 2222 "$dir/go" >"$dir/session"
session=$!
check "session: the first echo" wait_for 50 0.1 said 1
kill -HUP "$TABLE_PID"
check "change: rule 6 in the table" wait_for 50 0.1 \
	eval 'ns_exec router nft list chain inet meshgate policy_input | grep -qF "policy rule 6"'
check "change: router port 9090 answers now" answers 10.0.0.1 9090 10.0.0.2
touch "$dir/go"
wait "$session" || true
check "session: the second echo after the change" said 1 2
table_down

pass
