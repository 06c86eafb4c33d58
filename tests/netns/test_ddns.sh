#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317 # functions run through check
# Endpoint names followed through an address change, as a home behind a
# dynamic address with a DDNS name sees it. Names come from per-namespace
# hosts files (/etc/netns/NS/hosts, which `ip netns exec` mounts over
# /etc/hosts for what it runs), rewritten in place.
#
# home is a coordinator whose invites carry its name
# (coordinator.endpoints = ["home.ddns.test:41641"]); laptop joins through
# that name. server and client are plain static peers: client's endpoint
# for server is "server.ddns.test:51820", server has no endpoint for client
# (only client's re-resolution can bring the tunnel back).
#
# laptop and client sit behind a home router's NAT (nothing new comes in):
# once home and server move, their packets from the new addresses do not
# get through to laptop and client, so only a re-resolution on laptop's and
# client's side brings the tunnels back (not roaming from the other end).
#
#  laptop ── in0 ┐                                 ┌ home0 ── home    (coordinator)
#                nat (masquerade) ── out0 ── inet ─┤
#  client ── in1 ┘                                 └ srv0 ── server  (static peer)
#
#  laptop  up0   10.1.0.2/24        hosts: home.ddns.test
#  client  up0   10.2.0.2/24        hosts: server.ddns.test
#  nat     in0 10.1.0.1  in1 10.2.0.1  out0 203.0.113.2/24
#  inet    nat0 203.0.113.1  home0 198.51.100.1  srv0 198.51.101.1
#  home    wan0  198.51.100.10/24 -> 198.51.100.20/24
#  server  wan0  198.51.101.10/24 -> 198.51.101.20/24, tunnel 10.99.0.1/24
#  client  tunnel 10.99.0.2/24
#
# 1. laptop joins by the name, client reaches server; status names both.
# 2. The names stop resolving: each keeps its last address, tunnels stay up.
# 3. home and server move to .20, the hosts files follow: laptop's mesh
#    traffic to home and client's ping to server work again, each within
#    90 s (the target is a minute); the seconds taken are printed.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping getent python3 timeout wg
root_state_snapshot

dir=$(mg_workdir)
SRV_IF="mgds$MG_PID"
CLI_IF="mgdc$MG_PID"

# hosts_init NS: NS's own hosts file, and a resolv.conf whose only server
# is NS's loopback (a name missing from the hosts file fails at once, and
# no query leaves the namespace).
hosts_init() {
	local etc
	etc="/etc/netns/$(ns_name "$1")"
	mkdir -p "$etc"
	MG_EXTRA_CLEANUP+=("rm -rf '$etc'")
	echo "nameserver 127.0.0.1" >"$etc/resolv.conf"
	: >"$etc/hosts"
}

# hosts_set NS LINE: NS's hosts file holds LINE (none: empty), rewritten in
# place so that the mount over /etc/hosts sees it.
hosts_set() {
	local file
	file="/etc/netns/$(ns_name "$1")/hosts"
	printf '127.0.0.1 localhost\n%s\n' "${2:-}" >"$file"
}

resolves_to() { # NS NAME ADDR
	[ "$(ns_exec "$1" getent ahostsv4 "$2" 2>/dev/null | awk 'NR == 1 { print $1 }')" = "$3" ]
}

resolves_not() { # NS NAME
	! ns_exec "$1" getent ahostsv4 "$2" >/dev/null 2>&1
}

# move NS FROM TO: NS's uplink address FROM/24 becomes TO/24.
move() {
	ns_ip "$1" addr del "$2/24" dev wan0
	ns_ip "$1" addr add "$3/24" dev wan0
	ns_ip "$1" route replace default via "${3%.*}.1"
}

logged() { # NAME TEXT
	grep -qF "$2" "$dir/$1.log"
}

static_ping() {
	ns_exec client ping -c 1 -W 1 10.99.0.1 >/dev/null 2>&1
}

static_status() { # FIELD: of server in client's status
	mg_cli client "$CLI_IF" status --json | python3 -c 'import json,sys
for p in json.load(sys.stdin)["peers"]:
    if p["name"] == "server": print(p.get(sys.argv[1], ""))' "$1"
}

static_field_is() { # FIELD VALUE
	[ "$(static_status "$1")" = "$2" ]
}

coord_field_is() { # FIELD VALUE: of home in laptop's status
	[ "$(mesh_peer laptop home "$1")" = "$2" ]
}

setup() {
	ns_create laptop client nat inet home server
	mesh_forwarding inet nat
	mesh_uplink laptop up0 nat in0 10.1.0
	mesh_uplink client up0 nat in1 10.2.0
	mesh_uplink nat out0 inet nat0 203.0.113
	nat_eim nat out0
	veth_pair home wan0 inet home0
	veth_pair server wan0 inet srv0
	ns_ip inet addr add 198.51.100.1/24 dev home0
	ns_ip inet addr add 198.51.101.1/24 dev srv0
	ns_ip home addr add 198.51.100.10/24 dev wan0
	ns_ip home route add default via 198.51.100.1
	ns_ip server addr add 198.51.101.10/24 dev wan0
	ns_ip server route add default via 198.51.101.1
	hosts_init laptop
	hosts_init client
	hosts_set laptop "198.51.100.10 home.ddns.test"
	hosts_set client "198.51.101.10 server.ddns.test"
}

setup
check "laptop resolves home.ddns.test in its namespace" \
	resolves_to laptop home.ddns.test 198.51.100.10
check "client resolves server.ddns.test in its namespace" \
	resolves_to client server.ddns.test 198.51.101.10

# ---- 1. up through the names ----
mesh_conf_coordinator home 'endpoints = [ "home.ddns.test:41641" ];'
mesh_conf laptop
mesh_start home
mesh_start laptop
check "laptop joins through the name" mesh_join laptop
HOME_MESH=$(mesh_addr home)
check "laptop reaches home" wait_for 50 0.2 mesh_ping laptop "$HOME_MESH"
check "laptop saved the name's address" \
	grep -qF '"home.ddns.test:41641": "198.51.100.10:41641"' "$dir/state-laptop/mesh.json"
check "laptop's status names the coordinator's endpoint" \
	wait_for 20 0.2 coord_field_is endpoint_name home.ddns.test:41641
check "and when it resolved" not coord_field_is endpoint_resolved_at 0

key_srv=$(mg_genkey)
key_cli=$(mg_genkey)
echo "$key_srv" >"$dir/srv.key"
echo "$key_cli" >"$dir/cli.key"
chmod 600 "$dir/srv.key" "$dir/cli.key"
mg_config "$dir/srv.conf" "$SRV_IF" 51820 "$dir/srv.key" '"10.99.0.1/24"' \
	"{ name = \"client\"; public_key = \"$(mg_pubkey "$key_cli")\"; allowed_ips = [ \"10.99.0.2/32\" ]; }"
mg_config "$dir/cli.conf" "$CLI_IF" 51820 "$dir/cli.key" '"10.99.0.2/24"' \
	"{ name = \"server\"; public_key = \"$(mg_pubkey "$key_srv")\"; allowed_ips = [ \"10.99.0.1/32\" ];
	   endpoint = \"server.ddns.test:51820\"; persistent_keepalive = 5; }"
MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/$SRV_IF.sock /var/run/wireguard/$CLI_IF.sock")
mg_start server "$SRV_IF" "$dir/srv.conf"
mg_start client "$CLI_IF" "$dir/cli.conf"
check "client reaches server through the name" wait_for 50 0.2 static_ping
check "client's status: server's endpoint name" [ "$(static_status endpoint_name)" = server.ddns.test:51820 ]
check "client's status: when it resolved" [ "$(static_status endpoint_resolved_at)" -gt 0 ]
check "client's status: the address" [ "$(static_status endpoint)" = 198.51.101.10:51820 ]
check "the CLI shows the name beside the address" \
	sh -c "$(printf '%q ' ip netns exec "$(ns_name client)" "$MESHGATE" --socket "$dir/$CLI_IF.sock" status) | grep -qF '198.51.101.10:51820 (server.ddns.test:51820)'"

# ---- 2. DNS fails: the last address stays ----
hosts_set laptop
hosts_set client
check "laptop's namespace no longer resolves home.ddns.test" resolves_not laptop home.ddns.test
check "client's namespace no longer resolves server.ddns.test" resolves_not client server.ddns.test
check "laptop says once that the name does not resolve" \
	wait_for 100 0.5 logged laptop "cannot resolve endpoint name home.ddns.test:41641"
check "client says so too" \
	wait_for 100 0.5 logged "$CLI_IF" "cannot resolve endpoint name server.ddns.test:51820"
check "laptop keeps the last address and reaches home" mesh_ping laptop "$HOME_MESH"
check "client keeps server's address" [ "$(static_status endpoint)" = 198.51.101.10:51820 ]
check "and reaches server" wait_for 10 0.5 static_ping
check "the failure is said once, not at every lookup" \
	[ "$(grep -cF 'cannot resolve endpoint name' "$dir/$CLI_IF.log")" -eq 1 ]

# ---- 3. the addresses move, the names follow ----
move home 198.51.100.10 198.51.100.20
move server 198.51.101.10 198.51.101.20
check "laptop no longer reaches home at the old address" not mesh_ping laptop "$HOME_MESH"
hosts_set laptop "198.51.100.20 home.ddns.test"
hosts_set client "198.51.101.20 server.ddns.test"
start=$(date +%s)
check "laptop's namespace sees the new address" resolves_to laptop home.ddns.test 198.51.100.20
check "client's namespace sees the new address" resolves_to client server.ddns.test 198.51.101.20
mesh_s="" static_s=""
for _ in $(seq 1 90); do
	if [ -z "$mesh_s" ] && mesh_ping laptop "$HOME_MESH"; then
		mesh_s=$(($(date +%s) - start))
	fi
	if [ -z "$static_s" ] && static_ping; then
		static_s=$(($(date +%s) - start))
	fi
	[ -z "$mesh_s" ] || [ -z "$static_s" ] || break
	[ $(($(date +%s) - start)) -lt 90 ] || break
	sleep 0.5
done
log "laptop reached home again after ${mesh_s:-more than 90} s"
log "client reached server again after ${static_s:-more than 90} s"
check "laptop's mesh traffic to home works again within 90 s" [ -n "$mesh_s" ]
check "client's ping to server works again within 90 s" [ -n "$static_s" ]
check "laptop logged the new address" \
	logged laptop "home.ddns.test:41641 resolves to 198.51.100.20:41641 now (was 198.51.100.10:41641)"
check "client logged the new address" \
	logged "$CLI_IF" "server.ddns.test:51820 resolves to 198.51.101.20:51820 now (was 198.51.101.10:51820)"
check "laptop saved the new address as relay" \
	wait_for 20 0.2 grep -qF '"relay": "198.51.100.20:41641"' "$dir/state-laptop/mesh.json"
check "client's status: server at the new address" \
	wait_for 20 0.2 static_field_is endpoint 198.51.101.20:51820

pass "home followed in ${mesh_s} s, server in ${static_s} s"
