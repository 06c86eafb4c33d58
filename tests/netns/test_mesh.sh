#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The mesh control plane: home runs the coordinator; laptop and phone join
# with invite codes (`meshgate join` and `join =` in the config), receive
# their addresses and netmaps, and reach home and each other through the
# mesh. A bad code gets no answer, a used one a clear error. Nothing stands
# between laptop and home, so home's port probe reaches laptop's UDP port
# and laptop's traffic reaches home's: both udp_port checks pass; a forged
# probe is dropped and counted.
#
#  laptop ── veth ── inet ── veth ── home
#  phone  ── veth ──/
#
#  laptop  up0  198.51.100.2/24   default via inet
#  phone   up0  198.51.101.2/24   default via inet
#  inet    lap0 198.51.100.1/24  pho0 198.51.101.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping wg nft python3 timeout
root_state_snapshot

dir=$(mg_workdir)

# conf NAME EXTRA: a mesh node's config.
conf() {
	local name=$1 extra=$2
	cat >"$dir/$name.conf" <<CONF
interface = "mg$name$MG_PID";
listen_port = 41641;
private_key_file = "$dir/$name.key";
state_dir = "$dir/state-$name";
control_socket = "$dir/$name.sock";
hostname = "$name";
addresses = [];
web = { enabled = false; };
$extra
CONF
}

mesh_topology_flat
conf home 'coordinator = { enabled = true; stun = []; prefix4 = "100.64.0.0/10"; prefix6 = "fd7a:6d67:7465::/48"; };
dns = { domain = "Corp.Mesh"; records = ( { name = "switch"; address = "192.168.77.2"; } ); };'
conf laptop ''
mg_start home home "$dir/home.conf"
mg_start laptop laptop "$dir/laptop.conf"

code=$(mg_cli home home invite)
check "invite prints an mg1- code" [ "${code#mg1-}" != "$code" ]

out=$(mg_cli laptop laptop join "$code" 2>&1) || { mg_log laptop; mg_log home; fail "join: $out"; }
log "$out"
check "laptop joined" grep -q "joined as laptop" <<<"$out"
check "laptop's mesh address is 100.64.0.2" grep -q "100.64.0.2/10" <<<"$out"
check "laptop reaches home through the mesh" wait_for 50 0.2 mesh_ping laptop 100.64.0.1
check "home reaches laptop" mesh_ping home 100.64.0.2

# The coordinator's dns.domain and dns.records, in the netmap laptop caches.
netmap_dns_is() {
	[ "$(python3 -c 'import json, sys
d = json.loads(json.load(open(sys.argv[1]))["netmap"])["dns"]
print(d["domain"], *[r["name"] + "=" + r["address"] for r in d["records"]])' \
		"$dir/state-laptop/netmap.json" 2>/dev/null)" = "$1" ]
}
check "laptop's netmap carries the mesh's names" \
	wait_for 50 0.2 netmap_dns_is "corp.mesh switch=192.168.77.2"
check "laptop is online on the coordinator" wait_for 50 0.2 \
	sh -c "'$MESHGATE' --socket '$dir/home.sock' nodes --json | grep -q '\"online\": true'"
mg_cli home home nodes
coordinator_lists_laptop() {
	"$MESHGATE" --socket "$dir/home.sock" status --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
names = [n["name"] for n in doc["coordinator"]["nodes"]]
sys.exit(0 if "laptop" in names and "home" in names else 1)'
}
check "the coordinator's status document lists the mesh's nodes" coordinator_lists_laptop

# The port probe: home sends one datagram from a fresh socket to the IP it
# sees laptop at, and it arrives.
check "laptop's udp_port check passes (the coordinator's probe arrived)" \
	wait_for 50 0.2 mg_preflight_is laptop laptop udp_port true
msg=$(mg_preflight laptop laptop udp_port message)
log "laptop: udp_port: $msg"
check "it names the endpoint home sees" grep -qF "(seen as 198.51.100.2:41641)" <<<"$msg"
check "home's udp_port check passes (laptop reaches it)" \
	wait_for 50 0.2 mg_preflight_is home home udp_port true
msg=$(mg_preflight home home udp_port message)
log "home: udp_port: $msg"
check "home counts the nodes that reach it" grep -qx "UDP 41641 is reached by 1 node" <<<"$msg"
mesh_probe_drops() { # NAME
	mg_cli "$1" "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["drops"]["mesh_probe"])'
}
check "no probe dropped so far" [ "$(mesh_probe_drops laptop)" -eq 0 ]
# A PORT_PROBE datagram (0x84) with a nonce laptop never asked for.
ns_exec inet python3 -c 'import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"\x84\0\0\0" + os.urandom(16), ("198.51.100.2", 41641))
s.sendto(b"\x84\0\0\0" + os.urandom(3), ("198.51.100.2", 41641))'
probe_drops_reach() { # NAME COUNT
	[ "$(mesh_probe_drops "$1")" -ge "$2" ]
}
check "forged probes are dropped and counted as mesh_probe" wait_for 20 0.1 probe_drops_reach laptop 2
check "laptop's udp_port check still passes" mg_preflight_is laptop laptop udp_port true

# A used single-use code: a clear error. A damaged one: no answer.
conf phone ''
mg_start phone phone "$dir/phone.conf"
out=$(mg_cli phone phone join "$code" 2>&1) && fail "a used code joined: $out"
check "a used invite is refused clearly" grep -q "already been used" <<<"$out"
bad=$(mg_cli home home invite)
# The same code with one bit of its secret flipped: it still decodes.
bad=$(python3 -c 'import base64,sys
c = sys.argv[1][4:]; b = bytearray(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))
b[45] ^= 1
print("mg1-" + base64.urlsafe_b64encode(bytes(b)).decode().rstrip("="))' "$bad")
out=$(timeout 40 "$MESHGATE" --socket "$dir/phone.sock" join "$bad" 2>&1 || true)
log "wrong secret: $out"
check "a wrong secret gets no answer" grep -q "no answer" <<<"$out"
short=$(mg_cli home home invite --ttl 1s)
sleep 2
out=$(mg_cli phone phone join "$short" 2>&1) && fail "an expired code joined: $out"
check "an expired invite is refused clearly" grep -q "expired" <<<"$out"

# Joining from the config file.
code=$(mg_cli home home invite --ttl 10m)
mg_stop phone
conf phone "join = \"$code\";"
mg_start phone phone "$dir/phone.conf"
check "phone joined from its config" wait_for 100 0.2 mesh_ping phone 100.64.0.1
check "phone reaches laptop" wait_for 100 0.2 mesh_ping phone 100.64.0.2
check "laptop reaches phone" wait_for 50 0.2 mesh_ping laptop 100.64.0.3

# The coordinator down: the mesh keeps working; a restarted node comes back
# from its cached netmap.
mg_stop home
check "laptop reaches phone without the coordinator" wait_for 50 0.2 mesh_ping laptop 100.64.0.3
mg_stop laptop
mg_start laptop laptop "$dir/laptop.conf"
check "a restarted laptop reaches phone from its cache" wait_for 100 0.2 mesh_ping laptop 100.64.0.3
mg_start home home "$dir/home.conf"
check "the restarted coordinator knows its nodes" wait_for 50 0.2 \
	sh -c "'$MESHGATE' --socket '$dir/home.sock' nodes | grep -q phone"
check "laptop reaches home again" wait_for 100 0.2 mesh_ping laptop 100.64.0.1

# A removed node loses the mesh within seconds.
mg_cli home home nodes remove phone
check "phone is unreachable from laptop after removal" wait_for 50 0.2 not mesh_ping laptop 100.64.0.3
check "phone is unreachable from home after removal" not mesh_ping home 100.64.0.3

pass
