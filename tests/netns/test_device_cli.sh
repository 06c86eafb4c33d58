#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# `meshgate device` against a real coordinator: home, which is its own hub,
# adds phone (a key pair made by the CLI) and prints a wg-quick file that
# wg-quick parses, with home's WAN address as Endpoint and the mesh and the
# approved LAN as AllowedIPs; the PNG QR code decodes to exactly that file;
# --exit passes the coordinator's warning on while the exit is not approved;
# DNS is the hub's resolver and the mesh's domain as search domain;
# refusals are one line on stderr and exit 1; remove revokes the key (an add
# with --public-key of it is refused); the printed private key is nowhere in
# home's state directory or log. On laptop, a member, the CLI waits through
# "pending" for the coordinator and prints the file with laptop as the hub.
#
#  laptop ── veth ── inet ── veth ── home
#  phone  ── veth ──/                 (phone unused here)
#
#  laptop  up0  198.51.100.2/24   member
#
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10, serves
#                                 192.168.77.0/24 (auto-approved), offers an
#                                 exit (not approved)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip wg wg-quick python3
root_state_snapshot

# cli OUT ERR ARGS...: `meshgate ARGS` on home, stdout and stderr into files
# of the scratch directory that only root reads (else the CLI warns that the
# private key lands in a world-readable file); returns its exit status.
cli() {
	local out=$1 err=$2
	shift 2
	(
		umask 077
		mg_cli home home "$@" >"$MESH_DIR/$out" 2>"$MESH_DIR/$err"
	)
}

# value FILE KEY: the value of "KEY = value" in a wg-quick file.
value() {
	sed -n "s/^$2 = //p" "$MESH_DIR/$1"
}

# refused WANT ARGS...: the command fails (1) with the one line WANT.
refused() {
	local want=$1 status=0
	shift
	cli refused.out refused.err "$@" || status=$?
	log "meshgate $*: exit $status, $(cat "$MESH_DIR/refused.err")"
	[ "$status" -eq 1 ] && [ "$(cat "$MESH_DIR/refused.err")" = "meshgate: $want" ] &&
		[ "$(wc -l <"$MESH_DIR/refused.err")" -eq 1 ] && [ ! -s "$MESH_DIR/refused.out" ]
}

# wgquick_reads FILE: wg-quick parses FILE (named after an interface).
wgquick_reads() {
	wg-quick strip "$1" >/dev/null
}

mesh_topology_flat
mesh_conf_coordinator home 'auto_approve = { routes = ["192.168.77.0/24"]; };' \
	'subnet_router = { routes = ["192.168.77.0/24"]; };
exit_node = { enabled = true; };'
mesh_start home

check "device add phone succeeds" cli phone.conf add.err device add phone \
	--qr-png "$MESH_DIR/phone.png"
log "phone.conf:"
sed 's/^PrivateKey = .*/PrivateKey = (hidden)/; s/^/#   /' "$MESH_DIR/phone.conf"
log "stderr: $(cat "$MESH_DIR/add.err")"
check "no warning (home's WAN address is public enough)" [ ! -s "$MESH_DIR/add.err" ]
check "the file starts with its comment, with the phone's DNS name" \
	[ "$(head -1 "$MESH_DIR/phone.conf")" = \
		"# meshgate device phone (phone.mesh.internal), hub home" ]
check "phone's addresses are the next free ones" \
	[ "$(value phone.conf Address)" = "100.64.0.2/32, fd7a:6d67:7465::2/128" ]
check "the endpoint is home's WAN address" \
	[ "$(value phone.conf Endpoint)" = "203.0.113.2:41641" ]
check "AllowedIPs: the mesh and the approved LAN, no default" \
	[ "$(value phone.conf AllowedIPs)" = "100.64.0.0/10, 192.168.77.0/24, fd7a:6d67:7465::/48" ]
check "the hub's key" [ "$(value phone.conf PublicKey)" = "$(wg pubkey <"$MESH_DIR/home.key")" ]
check "MTU 1280" [ "$(value phone.conf MTU)" = 1280 ]
check "DNS: the hub's resolver (dns.enabled by default), then the mesh's domain" \
	[ "$(value phone.conf DNS)" = "100.100.100.100, fd7a:6d67:7465::53, mesh.internal" ]
priv=$(value phone.conf PrivateKey)
check "the private key is a key" [ "$(echo "$priv" | wg pubkey | wc -c)" -eq 45 ]
cp "$MESH_DIR/phone.conf" "$MESH_DIR/mgphone.conf"
check "wg-quick reads the file" wgquick_reads "$MESH_DIR/mgphone.conf"
check "the PNG is readable by its owner only" \
	[ "$(stat -c %a "$MESH_DIR/phone.png")" = 600 ]
if command -v zbarimg >/dev/null 2>&1; then
	zbarimg --raw -q "$MESH_DIR/phone.png" 2>/dev/null | head -c -1 >"$MESH_DIR/decoded.conf"
	check "the QR code decodes to exactly the printed file" \
		cmp "$MESH_DIR/phone.conf" "$MESH_DIR/decoded.conf"
else
	log "zbarimg is not installed (zbar-tools): the PNG is not decoded"
fi
check "nodes lists phone under home" mesh_has home devices phone
# The status document lists devices once the view carries them.
if mg_cli home home status --json | python3 -c 'import json, sys
sys.exit(0 if "devices" in json.load(sys.stdin) else 1)'; then
	check "device list shows phone with hub home" \
		grep -q '^phone  *100\.64\.0\.2  *home ' <(mg_cli home home device list)
	check "device list --json holds no key" \
		not grep -qi key <(mg_cli home home device list --json)
else
	log "the status document has no devices yet: device list is not checked"
fi

check "--exit on home, whose own config approves its exit" \
	cli tab.conf tab.err device add tab --exit
check "needs no warning" [ ! -s "$MESH_DIR/tab.err" ]
check "tab routes everything through home" [ "$(value tab.conf AllowedIPs)" = \
	"100.64.0.0/10, 192.168.77.0/24, fd7a:6d67:7465::/48, 0.0.0.0/0, ::/0" ]

# On a terminal the QR code follows the text unasked: the text's last line,
# a blank line, then lines of half blocks (script(1) gives it a terminal).
on_terminal() {
	ns_exec home script -qec "$MESHGATE --socket $MESH_DIR/home.sock device add term" \
		/dev/null >"$MESH_DIR/tty.out"
}
check "device add on a terminal" on_terminal
qr_after_text() {
	grep -A2 '^PersistentKeepalive = 25' "$MESH_DIR/tty.out" | grep -q '^██'
}
check "draws the QR code after the text" qr_after_text
check "a name taken by a device is refused" refused "the name Phone is taken by a device" \
	device add Phone
check "a name taken by a node is refused" refused "the name home is taken by a node" \
	device add home
check "a bad endpoint is refused before the daemon is asked" \
	refused "device add: --endpoint 'x:0' is not HOST:PORT or [IPV6]:PORT with a port from 1 to 65535" \
	device add pad --endpoint x:0
check "an unknown device is not removed" refused "no device named pad" device remove pad

check "device remove phone" cli remove.out remove.err device remove phone
check "it says so" grep -q '^removed phone' "$MESH_DIR/remove.out"
check "phone's key is refused after its removal" \
	refused "this key belonged to removed device phone; generate a new key" \
	device add phone --public-key "$(echo "$priv" | wg pubkey)"
check "the private key is nowhere in home's state or log" \
	not grep -rqF "$priv" "$MESH_DIR/state-home" "$MESH_DIR/home.log"

# A member: the request is pending until the coordinator answers.
mesh_conf laptop ''
mesh_start laptop
check "laptop joins" mesh_join laptop
check "laptop reaches home through the mesh" wait_for 50 0.2 mesh_ping laptop 100.64.0.1
member() {
	local status=0
	(
		umask 077
		mg_cli laptop laptop "$@" >"$MESH_DIR/member.out" 2>"$MESH_DIR/member.err"
	) || status=$?
	log "meshgate $* on laptop: exit $status $(cat "$MESH_DIR/member.err")"
	return "$status"
}
check "device add on a member waits for the coordinator" member device add pad
check "pad's hub is laptop" \
	[ "$(head -1 "$MESH_DIR/member.out")" = \
		"# meshgate device pad (pad.mesh.internal), hub laptop" ]
check "with laptop's key" \
	[ "$(value member.out PublicKey)" = "$(wg pubkey <"$MESH_DIR/laptop.key")" ]
check "and an address of the mesh" grep -q '^Address = 100\.64\.' "$MESH_DIR/member.out"
check "laptop's address is the endpoint" \
	[ "$(value member.out Endpoint)" = "198.51.100.2:41641" ]
check "laptop, the hub, answers pad's DNS" \
	[ "$(value member.out DNS)" = "100.100.100.100, fd7a:6d67:7465::53, mesh.internal" ]
check "device remove on a member" member device remove pad
check "says so" grep -q '^removed pad' "$MESH_DIR/member.out"

pass
