#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Devices and exit offers in the status, end to end: home (coordinator, an
# approved exit offer) hubs phone, a stock WireGuard client (wireguard-go +
# wg, the device's config from device_add); phone's handshake and traffic
# show in home's `status --json` devices[], its text, /api/status, /metrics
# and the page in headless Chromium, and phone is not among home's peers;
# laptop lists phone under its hub home, home's addresses without phone's,
# and home as a peer that offers an exit; no response anywhere carries the
# device's key; device_remove takes phone out of home's status at once.
#
#  laptop ── veth ── inet ── veth ── home
#  phone  ── veth ──/
#
#  laptop  up0  198.51.100.2/24   member, meshgated
#  phone   up0  198.51.101.2/24   wireguard-go wgp<pid>, the device's mesh
#                                 addresses, AllowedIPs the mesh prefix
#  inet    lap0 198.51.100.1/24  pho0 198.51.101.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10, exit
#                                 node (auto-approved), page on 127.0.0.1:8080
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip wg wireguard-go curl python3 timeout
root_state_snapshot

wgp=wgp$MG_PID

# status_is NAME PYEXPR: PYEXPR holds on NAME's status --json ("d").
status_is() {
	mg_cli "$1" "$1" status --json >"$MESH_DIR/$1.status.json" || return 1
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
dev = {x["name"]: x for x in d.get("devices", [])}
peer = {x["name"]: x for x in d["peers"]}
sys.exit(not eval("(" + sys.argv[2] + ")"))' "$MESH_DIR/$1.status.json" "$2"
}

mesh_topology_flat
mesh_conf_coordinator home 'auto_approve = { exit_node = true; };' \
	'exit_node = { enabled = true; };'
sed -i 's|^web = .*|web = { listen = ["127.0.0.1:8080"]; };|' "$MESH_DIR/home.conf"
mesh_conf laptop ''
mesh_start home
mesh_start laptop
check "laptop joins" mesh_join laptop
check "laptop sees home's approved exit offer" \
	wait_for 50 0.2 status_is laptop 'peer["home"]["exit_node_offered"] is True and peer["home"]["exit_node"] is False'
check "meshgate status marks it" \
	sh -c "$(printf '%q ' ip netns exec "$(ns_name laptop)" "$MESHGATE" --socket "$MESH_DIR/laptop.sock" status) |
	       grep -E '^100\.64\.0\.1 +home .*offers exit node'"

priv=$(wg genkey)
pub=$(echo "$priv" | wg pubkey)
ans=$(mesh_ctl home "{\"cmd\": \"device_add\", \"name\": \"phone\", \"public_key\": \"$pub\", \"exit\": true}")
log "device_add: $ans"
read -r addr4 addr6 hub_key endpoint < <(python3 -c 'import json, sys
r = json.loads(sys.argv[1])["result"]
print(*r["device"]["addresses"], r["config"]["hub_public_key"], r["config"]["endpoint"])' "$ans")
check "phone has its addresses" [ "$addr4" = 100.64.0.3/32 ]

# The stock client: only what the config says.
wggo_start phone "$wgp"
echo "$priv" >"$MESH_DIR/phone.key"
ns_exec phone wg set "$wgp" private-key "$MESH_DIR/phone.key" \
	peer "$hub_key" endpoint "$endpoint" allowed-ips 100.64.0.0/10,fd7a:6d67:7465::/48 \
	persistent-keepalive 25
ns_ip phone addr add "$addr4" dev "$wgp"
ns_ip phone -6 addr add "$addr6" dev "$wgp"
ns_ip phone link set "$wgp" up
ns_ip phone route add 100.64.0.0/10 dev "$wgp"

check "phone reaches home's mesh address" wait_for 30 0.5 mesh_ping phone 100.64.0.1
check "home: phone attached, online, with traffic and its endpoint" \
	wait_for 30 0.2 status_is home 'dev["phone"]["attached"] and dev["phone"]["online"] and
		dev["phone"]["hub"] == "home" and dev["phone"]["exit_node"] and
		dev["phone"]["last_handshake"] > 0 and dev["phone"]["rx_bytes"] > 0 and
		dev["phone"]["tx_bytes"] > 0 and dev["phone"]["endpoint"].startswith("198.51.101.2:") and
		dev["phone"]["addresses"] == ["100.64.0.3/32", "fd7a:6d67:7465::3/128"]'
check "home: phone is no peer" status_is home 'list(peer) == ["laptop"]'
check "laptop: phone under its hub home, no engine facts" \
	wait_for 50 0.2 status_is laptop 'dev["phone"]["hub"] == "home" and not dev["phone"]["attached"] and
		dev["phone"]["endpoint"] is None and dev["phone"]["rx_bytes"] == 0'
check "laptop: home's addresses are its own" \
	status_is laptop 'not any(a.startswith(("100.64.0.3/", "fd7a:6d67:7465::3/")) for a in peer["home"]["addresses"])'

mg_cli home home status >"$MESH_DIR/home.status.txt"
log "$(cat "$MESH_DIR/home.status.txt")"
check "meshgate status: the devices section, phone's row" \
	sh -c "grep -qx 'devices:' $MESH_DIR/home.status.txt &&
	       grep -Eq '^100\.64\.0\.3 +phone +hub home +198\.51\.101\.2:[0-9]+ +[0-9]+s ago +rx .* +tx .* +exit allowed$' $MESH_DIR/home.status.txt"
mg_cli laptop laptop status >"$MESH_DIR/laptop.status.txt"
check "laptop's text: phone via home" grep -Eq '^100\.64\.0\.3 +phone +hub home +exit allowed$' "$MESH_DIR/laptop.status.txt"

get() { # NAME OUT PATH
	ns_exec home curl -sf --max-time 5 -o "$MESH_DIR/$1" "http://127.0.0.1:8080$2"
}
check "GET /api/status" get api.json /api/status
check "GET /metrics" get metrics.txt /metrics
check "/api/status: phone attached" \
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not [x for x in d["devices"] if x["name"] == "phone" and x["attached"]])' "$MESH_DIR/api.json"
check "/metrics: phone's traffic by name" \
	sh -c "grep -Eq '^meshgate_device_rx_bytes_total\{device=\"phone\"\} [1-9][0-9]*$' $MESH_DIR/metrics.txt &&
	       grep -qx 'meshgate_devices_attached 1' $MESH_DIR/metrics.txt &&
	       grep -qx 'meshgate_device_online{device=\"phone\"} 1' $MESH_DIR/metrics.txt"

chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chromium_bin" ]; then
	HOME=$MESH_DIR timeout 90 ip netns exec "$(ns_name home)" "$chromium_bin" --headless \
		--no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage --user-data-dir="$MESH_DIR/chromium" \
		--virtual-time-budget=5000 --dump-dom http://127.0.0.1:8080/ \
		>"$MESH_DIR/dom.html" 2>>"$MESH_DIR/chromium.log" || true
	check "the page: phone's row in the devices table" \
		grep -q '<tr class="device"><td class="device-name" data-label="Name">phone</td><td class="wrap" data-label="Addresses">100.64.0.3, fd7a:6d67:7465::3</td><td data-label="Hub">home (this node)</td><td data-label="Endpoint">198.51.101.2:' "$MESH_DIR/dom.html"
else
	log "no chromium: the page is not rendered"
	: >"$MESH_DIR/dom.html"
fi

hex=$(python3 -c 'import base64, sys; print(base64.b64decode(sys.argv[1]).hex())' "$pub")
check "the device's keys are in no status, page or metrics" \
	not grep -qiF -e "$pub" -e "$hex" -e "$priv" "$MESH_DIR/home.status.json" \
	"$MESH_DIR/laptop.status.json" "$MESH_DIR/home.status.txt" "$MESH_DIR/laptop.status.txt" \
	"$MESH_DIR/api.json" "$MESH_DIR/metrics.txt" "$MESH_DIR/dom.html"

ans=$(mesh_ctl home '{"cmd": "device_remove", "name": "phone"}')
log "device_remove: $ans"
check "after device_remove, phone is gone from home's devices and peers" \
	wait_for 25 0.2 status_is home '"phone" not in dev and list(peer) == ["laptop"]'
check "and from laptop's" wait_for 50 0.2 status_is laptop '"phone" not in dev'

pass "devices in the status"
