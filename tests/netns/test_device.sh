#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# A phone with only the stock WireGuard client joins the mesh through its
# hub. home (coordinator, exit node) prints a wg-quick file with `meshgate
# device add phone --exit`; its PNG decodes to exactly that text. The phone,
# behind the cafe's masquerading NAT, brings the file up unchanged with
# `wg-quick up` (Debian's wireguard-go underneath) and reaches home, office
# and the laptop (and back), the switch behind office's approved subnet
# route, and the internet host through home's exit, which sees home's WAN
# address and not the cafe's, only while home offers it; a
# private-range target through the exit is refused. `device list` shows the phone's handshake and traffic; no key of
# the phone appears in any status document, /api/status or the page. Bad
# input gets a one-line error and creates nothing. `device remove` cuts the
# phone off within seconds and its old key is refused; a new key gets the
# freed address back. The phone keeps its session over a reload of home and
# comes back by itself after a restart. No state dir or log of a daemon
# holds the phone's private key.
#
#                      internet host: inet lo 192.0.2.80, 10.99.0.80 (whoami)
#  phone ── cafe ──┐
#  (wg-quick) (NAT)│
#                  inet ── home       coordinator + exit node + the phone's hub
#  laptop ─────────┤
#                  └──── office ── switch
#
#  phone   up0   192.168.1.2/24      default via cafe; wg-quick mgphone<pid>
#  cafe    lan0  192.168.1.1/24      masquerade out of out0, nothing new comes in
#          out0  198.51.101.2/24     default via inet
#  laptop  up0   198.51.100.2/24     meshgated, member
#  inet    pho0  198.51.101.1/24  lap0 198.51.100.1/24  home0 203.0.113.1/24
#          off0  198.18.0.1/24    lo 192.0.2.80/32, 10.99.0.80/32 (whoami :7777)
#  home    wan0  203.0.113.2/24      meshgated: coordinator (100.64.0.0/10,
#                                    fd7a:6d67:7465::/48), exit node, UDP 41641,
#                                    status page on 127.0.0.1:8080
#  office  wan0  198.18.0.2/24       meshgated, member: subnet router for
#          lan0  192.168.77.1/24     192.168.77.0/24 (snat)
#  switch  eth0  192.168.77.2/24     no VPN software (whoami :7777)
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
require_cmd ip ping wg wg-quick wireguard-go nft curl zbarimg python3 timeout dig
root_state_snapshot

dir=$(mg_workdir)
PHONE_IF=mgphone$MG_PID # wg-quick names the interface after the file
PHONE_CONF=$dir/$PHONE_IF.conf

setup() {
	ns_create phone cafe laptop inet home office switch
	mesh_forwarding inet cafe
	mesh_uplink phone up0 cafe lan0 192.168.1
	mesh_uplink cafe out0 inet pho0 198.51.101
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink office wan0 inet off0 198.18.0
	mesh_uplink switch eth0 office lan0 192.168.77
	ns_ip inet addr add 192.0.2.80/32 dev lo
	ns_ip inet addr add 10.99.0.80/32 dev lo
	nat_eim cafe out0
}

# The stock client, as a phone runs it. A DNS line would make wg-quick call
# resolvconf: a stub stands in for it, so nothing touches a resolv.conf.
phone_wg_quick() { # up|down
	ns_exec phone env PATH="$dir/bin:$PATH" wg-quick "$1" "$PHONE_CONF" \
		>>"$dir/wg-quick.log" 2>&1
}

# The phone's latest handshake with home (unix seconds), as wg-quick's
# wireguard-go tells it.
phone_handshake() {
	ns_exec phone wg show "$PHONE_IF" latest-handshakes | awk '{ print $2 }'
}

# one_line_error NS NAME ARGS...: the CLI fails with exactly one line on
# stderr and nothing on stdout.
one_line_error() {
	local ns=$1 name=$2 out err
	shift 2
	if mg_cli "$ns" "$name" "$@" >"$dir/bad.out" 2>"$dir/bad.err"; then
		log "meshgate $*: succeeded: $(cat "$dir/bad.out")"
		return 1
	fi
	out=$(cat "$dir/bad.out")
	err=$(cat "$dir/bad.err")
	log "meshgate $*: $err"
	[ -z "$out" ] && [ -n "$err" ] && [ "$(wc -l <"$dir/bad.err")" -le 1 ]
}

# devices NAME: the device names in NAME's status, one a line.
devices() {
	mg_cli "$1" "$1" status --json | python3 -c 'import json,sys
for d in json.load(sys.stdin).get("devices", []): print(d["name"])'
}

lists() { # NAME DEVICE: NAME's status lists DEVICE
	devices "$1" | grep -qx "$2"
}

# registered: the devices in the coordinator's registry (`nodes --json`),
# "name hub" a line, sorted.
registered() {
	mg_cli home home nodes --json | python3 -c 'import json,sys
for n in json.load(sys.stdin):
    for d in n.get("devices", []): print(d["name"], d["hub"])' | sort
}

# cut_off NS ADDR T0: within 10 s (50 tries), a ping from NS to ADDR goes
# unanswered (1 s); logs when it was sent, after T0 (date +%s%N).
cut_off() {
	local i t
	for ((i = 0; i < 50; i++)); do
		t=$(date +%s%N)
		if ! ns_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; then
			log "the first unanswered ping went $(((t - $3) / 1000000)) ms after the remove began"
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# unreachable NS ADDR: ADDR's whoami gives no answer.
unreachable() {
	! whoami "$1" "$2" 2>/dev/null
}

# device_field NAME DEVICE FIELD: a field of DEVICE in `device list --json`
# on NAME (JSON).
device_field() {
	mg_cli "$1" "$1" device list --json | python3 -c 'import json,sys
for d in json.load(sys.stdin):
    if d["name"] == sys.argv[1]: print(json.dumps(d[sys.argv[2]]))' "$2" "$3"
}

device_has() { # NAME DEVICE FIELD PYTHON-EXPR (on v)
	local v
	v=$(device_field "$1" "$2" "$3")
	[ -n "$v" ] || return 1
	python3 -c 'import json,sys
v = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$v" "$4"
}

# conf_value KEY: the value of KEY in the phone's file.
conf_value() {
	sed -n "s/^$1 *= *//p" "$PHONE_CONF" | head -n 1
}

# no_key WHICH PRIVATE PUBLIC FILE...: none of the files holds the private
# key (WHICH = private) or either key (WHICH = any), as base64, hex or raw
# bytes.
no_key() {
	python3 - "$@" <<'PY'
import base64, sys
which, priv, pub, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
keys = [("private", priv)] + ([("public", pub)] if which == "any" else [])
needles = []
for what, k in keys:
    raw = base64.b64decode(k)
    for form, n in (("base64", k.encode()), ("hex", raw.hex().encode()),
                    ("HEX", raw.hex().upper().encode()), ("raw", raw)):
        needles.append((f"{what} key ({form})", n))
bad = 0
for f in files:
    data = open(f, "rb").read()
    for what, n in needles:
        if n in data:
            print(f"# {f} holds the phone's {what}", file=sys.stderr)
            bad = 1
sys.exit(bad)
PY
}

# phone_add: `device add phone --exit` on home, through a pipe (stdout is no
# terminal, so the text comes alone) with a PNG; the text is the phone's
# file; sets PHONE_PRIV, PHONE_PUB, PHONE_MESH, PHONE_MESH6.
phone_add() {
	mg_cli home home device add phone --exit --endpoint 203.0.113.2:41641 \
		--qr-png "$dir/phone.png" 2>"$dir/add.err" | cat >"$dir/phone.out"
	[ ! -s "$dir/add.err" ] || log "device add: $(cat "$dir/add.err")"
	check "device add prints a wg-quick file" grep -q '^\[Interface\]' "$dir/phone.out"
	rm -f "$PHONE_CONF"
	(umask 077 && cp "$dir/phone.out" "$PHONE_CONF")
	zbarimg --raw -q "$dir/phone.png" 2>"$dir/zbar.err" | head -c -1 >"$dir/phone.qr"
	check "the PNG decodes to exactly the printed text" cmp "$dir/phone.qr" "$dir/phone.out"
	PHONE_PRIV=$(conf_value PrivateKey)
	PHONE_PUB=$(mg_pubkey "$PHONE_PRIV")
	PHONE_MESH=$(conf_value Address | sed 's|/32.*||')
	PHONE_MESH6=$(conf_value Address | sed 's|.*, *||; s|/128||')
	log "phone: $PHONE_MESH $PHONE_MESH6"
}

# ---- topology, mesh ----
setup
mkdir -p "$dir/bin"
printf '#!/bin/sh\ncat >/dev/null\n' >"$dir/bin/resolvconf"
chmod 755 "$dir/bin/resolvconf"
MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/$PHONE_IF.sock")

mesh_conf_coordinator home '' 'exit_node = { enabled = true; };'
sed -i 's/^web = .*/web = { enabled = true; };/' "$MESH_DIR/home.conf"
mesh_conf office 'subnet_router = { routes = [ "192.168.77.0/24" ]; snat = true; };'
mesh_conf laptop ''
mesh_start home
mesh_start office
mesh_start laptop
topo_whoami_start inet 192.0.2.80 10.99.0.80
topo_whoami_start switch 192.168.77.2

check "office joins" mesh_join office
check "laptop joins" mesh_join laptop
mg_cli home home routes approve office 192.168.77.0/24 >/dev/null
HOME_MESH=$(mesh_addr home)
LAPTOP_MESH=$(mesh_addr laptop)
# phone_resolves NAME ADDR: the phone's DNS = line names 100.100.100.100,
# which its hub answers through the tunnel.
phone_resolves() {
	[ "$(ns_exec phone timeout 10 dig +time=1 +tries=1 +short @100.100.100.100 "$1" 2>/dev/null)" = "$2" ]
}
check "laptop reaches home" wait_for 50 0.2 mesh_ping laptop "$HOME_MESH"
check "laptop reaches the switch through office" wait_for 50 0.2 mesh_ping laptop 192.168.77.2
check "home reaches the internet host 10.99.0.80 itself" sees home 203.0.113.2 10.99.0.80
check "without the tunnel the internet host sees the cafe's 198.51.101.2" \
	sees phone 198.51.101.2 192.0.2.80
check "the laptop sees home's exit offered" \
	wait_for 50 0.2 output_is True mesh_peer laptop home exit_node_offered
check "and office's not" test "$(mesh_peer laptop office exit_node_offered)" = False

# ---- the config and its QR code ----
phone_add
check "its endpoint is the one asked for" test "$(conf_value Endpoint)" = 203.0.113.2:41641
check "its AllowedIPs carry the mesh, office's LAN and the defaults" \
	python3 -c 'import sys
got = {p.strip() for p in sys.argv[1].split(",")}
want = {"100.64.0.0/10", "fd7a:6d67:7465::/48", "192.168.77.0/24", "0.0.0.0/0", "::/0"}
sys.exit(0 if want <= got else 1)' "$(conf_value AllowedIPs)"
check "the registry has the phone, hub home" test "$(registered)" = "phone home"

# ---- the phone, stock client only ----
check "wg-quick up of the printed file in the phone" phone_wg_quick up
check "phone -> home's mesh address" wait_for 50 0.2 mesh_ping phone "$HOME_MESH"
check "phone -> home's mesh IPv6 address" \
	wait_for 25 0.2 mesh_ping phone "$(mesh_node home addresses | python3 -c 'import json,sys
print([a for a in json.load(sys.stdin) if ":" in a][0].split("/")[0])')"
check "phone -> laptop" wait_for 50 0.2 mesh_ping phone "$LAPTOP_MESH"
check "laptop -> phone" wait_for 50 0.2 mesh_ping laptop "$PHONE_MESH"
check "laptop -> phone over IPv6" wait_for 25 0.2 mesh_ping laptop "$PHONE_MESH6"
check "phone -> office's mesh address" wait_for 50 0.2 mesh_ping phone "$(mesh_addr office)"
check "phone -> the switch behind office's route" wait_for 50 0.2 mesh_ping phone 192.168.77.2
check "phone resolves laptop.mesh.internal at its hub, through the tunnel" \
	wait_for 25 0.2 phone_resolves laptop.mesh.internal "$LAPTOP_MESH"
check "the switch sees office's LAN address (snat)" sees phone 192.168.77.1 192.168.77.2
check "phone -> the internet host through home's exit" wait_for 50 0.2 mesh_ping phone 192.0.2.80
check "the internet host sees home's 203.0.113.2 (TCP), not the cafe" sees phone 203.0.113.2 192.0.2.80
check "the internet host sees home's 203.0.113.2 (UDP)" sees phone 203.0.113.2 --udp 192.0.2.80
check "a private-range target through the exit is refused (10.99.0.80)" unreachable phone 10.99.0.80
check "no ping to 10.99.0.80 either" not mesh_ping phone 10.99.0.80
sed -i 's/^exit_node = .*/exit_node = { enabled = false; };/' "$MESH_DIR/home.conf"
mesh_reload home
check "home's exit withdrawn: the phone's internet traffic stops" \
	wait_for 25 0.2 unreachable phone 192.0.2.80
check "the mesh still works for it" mesh_ping phone "$LAPTOP_MESH"
sed -i 's/^exit_node = .*/exit_node = { enabled = true; };/' "$MESH_DIR/home.conf"
mesh_reload home
check "offered again (approved by home's config): out through home" \
	wait_for 25 0.2 sees phone 203.0.113.2 192.0.2.80

# ---- what the hub and the others show ----
check "device list on home: the phone, attached to home" device_has home phone hub 'v == "home"'
check "with a handshake" wait_for 25 0.2 device_has home phone last_handshake 'v > 0'
check "and traffic both ways" device_has home phone rx_bytes 'v > 0'
check "(tx too)" device_has home phone tx_bytes 'v > 0'
check "exit allowed" device_has home phone exit_node 'v is True'
check "home's status lists the phone" lists home phone
check "attached" device_has home phone attached 'v is True'
check "laptop's status lists the phone (through home)" wait_for 25 0.2 lists laptop phone
check "there its hub is home" device_has laptop phone hub 'v == "home"'
check "and it is not attached" device_has laptop phone attached 'v is False'
mg_cli home home status --json >"$dir/status-home.json"
mg_cli laptop laptop status --json >"$dir/status-laptop.json"
mg_cli office office status --json >"$dir/status-office.json"
mg_cli home home device list --json >"$dir/list-home.json"
mg_cli home home device list >"$dir/list-home.txt"
mg_cli home home status >"$dir/status-home.txt"
mg_cli home home nodes >"$dir/nodes-home.txt"
ns_exec home curl -sf -m 3 -o "$dir/api-status.json" http://127.0.0.1:8080/api/status || true
ns_exec home curl -sf -m 3 -o "$dir/page.html" http://127.0.0.1:8080/ || true
check "/api/status answers" test -s "$dir/api-status.json"
check "/api/status lists the phone" grep -q '"phone"' "$dir/api-status.json"
check "meshgate nodes lists the phone" grep -qw phone "$dir/nodes-home.txt"
check "no key of the phone in the status documents, /api/status, the page or device list" \
	no_key any "$PHONE_PRIV" "$PHONE_PUB" "$dir"/status-*.json "$dir/status-home.txt" "$dir/api-status.json" "$dir/page.html" \
	"$dir/list-home.json" "$dir/list-home.txt" "$dir/nodes-home.txt"

# ---- bad input: one line, nothing created ----
before=$(registered)
log "registered: $before"
check "a duplicate name is refused" one_line_error home home device add phone
check "a node's name is refused" one_line_error home home device add laptop
check "a node's name in other case is refused" one_line_error home home device add LAPTOP
check "a name of digits and dots is refused" one_line_error home home device add 1.2.3
check "a bad --endpoint is refused" one_line_error home home device add tablet --endpoint 'no port here'
check "a bad --endpoint port is refused" one_line_error home home device add tablet --endpoint 203.0.113.2:99999
check "--exit on a hub without an exit (laptop) is refused" one_line_error laptop laptop device add tablet --exit
check "as laptop offers no exit" grep -q "laptop offers no exit node" "$dir/bad.err"
check "nothing was created (the registry as before)" test "$(registered)" = "$before"

# ---- remove: access ends within seconds, the old key stays out ----
check "the phone still pings home" mesh_ping phone "$HOME_MESH"
t0=$(date +%s%N)
check "device remove phone" mg_cli home home device remove phone >/dev/null
check "the phone is cut off within 10 s" cut_off phone "$HOME_MESH" "$t0"
check "and stays cut off (laptop, internet)" not mesh_ping phone "$LAPTOP_MESH"
check "(nor the internet host)" unreachable phone 192.0.2.80
check "the phone is gone from the registry" test -z "$(registered)"
check "and from home's status" not lists home phone
check "re-adding with the old key is refused" one_line_error home home device add phone --public-key "$PHONE_PUB"
check "as a removed device's key" grep -q "belonged to removed device phone" "$dir/bad.err"
check "nothing was created" test -z "$(registered)"

# ---- a new key: the freed address again ----
OLD_PRIV=$PHONE_PRIV
OLD_PUB=$PHONE_PUB
OLD_MESH=$PHONE_MESH
check "wg-quick down of the old file" phone_wg_quick down
phone_add
check "the phone gets its freed address back" test "$PHONE_MESH" = "$OLD_MESH"
check "with a new key" test "$PHONE_PUB" != "$OLD_PUB"
check "wg-quick up of the new file" phone_wg_quick up
check "the phone reaches home again" wait_for 50 0.2 mesh_ping phone "$HOME_MESH"
check "the laptop reaches the phone again" wait_for 50 0.2 mesh_ping laptop "$PHONE_MESH"

# ---- the hub reloads, then restarts: the phone comes back by itself ----
hs=$(phone_handshake)
sleep 1.1 # a new handshake now would carry a later second
check "home reloads (SIGHUP)" mesh_reload home
check "the phone still goes out through home" sees phone 203.0.113.2 192.0.2.80
check "in the same session (no new handshake)" test "$(phone_handshake)" = "$hs"
check "home stops" mg_stop home
mesh_start home
t0=$(date +%s)
check "the phone reaches the restarted home within 60 s" \
	wait_for 60 0.5 ns_exec phone ping -c 1 -W 1 "$HOME_MESH"
log "the phone reached home $(($(date +%s) - t0)) s after the restart"
check "and the laptop through it" wait_for 50 0.2 mesh_ping phone "$LAPTOP_MESH"
check "and the internet through its exit" wait_for 25 0.2 sees phone 203.0.113.2 192.0.2.80

# ---- no private key on disk or in a log ----
mapfile -t files < <(find "$dir"/state-* "$dir"/{home,office,laptop}.log -type f)
check "no state dir or log holds either private key of the phone (${#files[@]} files)" \
	no_key private "$OLD_PRIV" "$OLD_PUB" "${files[@]}"
check "(the new one)" no_key private "$PHONE_PRIV" "$PHONE_PUB" "${files[@]}"
check "(the search does find it in the phone's own file)" \
	not no_key private "$PHONE_PRIV" "$PHONE_PUB" "$PHONE_CONF"

# ---- everything down ----
check "wg-quick down" phone_wg_quick down
check "the phone's wireguard-go is gone" wait_for 50 0.1 not test -e "/var/run/wireguard/$PHONE_IF.sock"
mg_stop laptop
mg_stop office
mg_stop home
check "no daemon left in home, office, laptop" \
	test -z "$(for n in home office laptop; do ip netns pids "$(ns_name "$n")"; done)"
pass "device"
