# shellcheck shell=bash
# Helpers of the mesh scenarios (test_mesh_*.sh), on top of lib.sh and
# meshgate.sh. Every node listens on UDP 41641, keeps its files in the
# scratch directory and is named after its namespace.
#
#   mesh_topology_flat            laptop, phone and home, each on a link of its
#                                 own to the router inet (no NAT)
#   mesh_uplink NS IF UP UPIF NET a veth NS:IF ── UP:UPIF on NET.0/24 (NET: three
#                                 octets); UP is NET.1, NS is NET.2 and routes
#                                 by default via UP
#   mesh_forwarding NS...         IPv4 forwarding on in each NS
#   mesh_conf NAME EXTRA          write NAME's config (EXTRA: more libconfig lines)
#   mesh_conf_coordinator NAME ITEMS EXTRA
#                                 the same for a coordinator of 100.64.0.0/10 and
#                                 fd7a:6d67:7465::/48 (ITEMS: more of its settings)
#   mesh_start NAME               start meshgated in namespace NAME
#   mesh_reload NAME              SIGHUP, wait until the reload is logged
#   mesh_join NAME                join home's mesh with a fresh invite
#   mesh_ping NS ADDR             one ping, 2 s
#   mesh_addr NAME                NAME's mesh IPv4 address, from the coordinator
#   mesh_peer NAME PEER FIELD     a field of PEER in NAME's status (--json)
#   mesh_node NAME FIELD          a field of NAME in the coordinator's node list
#   mesh_has NAME FIELD VALUE     that list field holds VALUE
#   mesh_ctl NAME JSON            one request on NAME's control socket; prints
#                                 the answer
#   mesh_json JSON PYEXPR         PYEXPR evaluated on the parsed JSON "d"
#   nat_eim NS OUT                nft: masquerade out of OUT, endpoint-independent
#                                 mapping, and a home router's firewall (nothing
#                                 new comes in from OUT)
#   nat_symmetric NS OUT          the same with a new random port per flow
#   nat_forget NS OUT ADDR GW     drop the NAT's mappings (its public address
#                                 goes and comes back)

MESH_DIR=$(mg_workdir)
declare -A MESH_RELOADS=()

#   laptop 198.51.100.2 ── lap0 ┐
#                               inet (forwards) ── home0 203.0.113.1 ── home 203.0.113.2
#   phone  198.51.101.2 ── pho0 ┘
mesh_topology_flat() {
	ns_create laptop phone inet home
	mesh_forwarding inet
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink phone up0 inet pho0 198.51.101
	mesh_uplink home wan0 inet home0 203.0.113
}

mesh_uplink() {
	veth_pair "$1" "$2" "$3" "$4"
	ns_ip "$3" addr add "$5.1/24" dev "$4"
	ns_ip "$1" addr add "$5.2/24" dev "$2"
	ns_ip "$1" route add default via "$5.1"
}

mesh_forwarding() {
	local ns
	for ns in "$@"; do
		ns_exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	done
}

mesh_conf() {
	local name=$1 extra=${2:-}
	cat >"$MESH_DIR/$name.conf" <<CONF
interface = "mg${name:0:1}${name: -3}$MG_PID";
listen_port = 41641;
private_key_file = "$MESH_DIR/$name.key";
state_dir = "$MESH_DIR/state-$name";
control_socket = "$MESH_DIR/$name.sock";
hostname = "$name";
addresses = [];
web = { enabled = false; };
$extra
CONF
	MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/mg${name:0:1}${name: -3}$MG_PID.sock")
}

mesh_conf_coordinator() {
	mesh_conf "$1" "coordinator = { enabled = true; stun = []; prefix4 = \"100.64.0.0/10\";
	prefix6 = \"fd7a:6d67:7465::/48\"; ${2:-} };
${3:-}"
}

mesh_start() {
	mg_start "$1" "$1" "$MESH_DIR/$1.conf"
	MESH_RELOADS[$1]=$(grep -c 'configuration reloaded' "$MESH_DIR/$1.log" || true)
}

mesh_reload() {
	local name=$1 want
	want=$((MESH_RELOADS[$name] + 1))
	kill -HUP "$(mg_pid "$name")"
	wait_for 50 0.1 _mesh_reloaded "$name" "$want" || return 1
	MESH_RELOADS[$name]=$want
}

_mesh_reloaded() {
	[ "$(grep -c 'configuration reloaded' "$MESH_DIR/$1.log")" -ge "$2" ]
}

mesh_join() {
	local name=$1 code out
	code=$(mg_cli home home invite) || return 1
	out=$(mg_cli "$name" "$name" join "$code" 2>&1) || {
		mg_log "$name" >&2
		log "join $name: $out"
		return 1
	}
	log "$out"
}

mesh_ping() {
	ns_exec "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1
}

mesh_addr() {
	mg_cli home home nodes --json | python3 -c 'import json,sys
for n in json.load(sys.stdin):
    if n["name"] == sys.argv[1]: print(n["addresses"][0].split("/")[0])' "$1"
}

mesh_peer() {
	mg_cli "$1" "$1" status --json | python3 -c 'import json,sys
for p in json.load(sys.stdin)["peers"]:
    if p["name"] == sys.argv[1]: print(p[sys.argv[2]])' "$2" "$3"
}

mesh_node() {
	mg_cli home home nodes --json | python3 -c 'import json,sys
for n in json.load(sys.stdin):
    if n["name"] == sys.argv[1]: print(json.dumps(n[sys.argv[2]]))' "$1" "$2"
}

mesh_has() {
	mesh_node "$1" "$2" | grep -qF "\"$3\""
}

# The server answers one line and closes; the loop stops at either. The
# socket is a file: no need to enter NAME's namespace.
mesh_ctl() {
	timeout 10 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while not data.endswith(b"\n"):
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.decode().strip())' "$MESH_DIR/$1.sock" "$2"
}

mesh_json() {
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(eval(sys.argv[2]))' "$1" "$2"
}

_nat() { # NS OUT MASQUERADE
	ns_exec "$1" nft -f - <<NFT
table inet nat
delete table inet nat
table inet nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "$2" $3
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		iifname != "$2" accept
		ct state established,related accept
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "$2" ct state new drop
	}
}
NFT
}

nat_eim() {
	_nat "$1" "$2" masquerade
}

nat_symmetric() {
	_nat "$1" "$2" "masquerade random,fully-random"
}

# Masqueraded flows are forgotten when their address goes away.
nat_forget() {
	ns_ip "$1" addr del "$3" dev "$2"
	ns_ip "$1" addr add "$3" dev "$2"
	ns_ip "$1" route replace default via "$4"
}
