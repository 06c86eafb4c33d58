#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The coordinator's side of stock WireGuard devices, through the control
# socket (the JSON commands device_add and device_remove, as the CLI sends
# them): home, the coordinator, registers a device it hubs and answers its
# address and configuration; laptop's signed netmap lists the device under
# home without a key; `nodes` lists it; a member's request goes to the
# coordinator (pending, then its answer); a duplicate name is refused;
# removing the device takes it out of laptop's netmap and revokes its key;
# devices outlive a restart of the coordinator; the private key made for
# the device is nowhere in home's state directory or logs.
#
#  laptop ── veth ── inet ── veth ── home
#  phone  ── veth ──/                 (phone unused)
#
#  laptop  up0  198.51.100.2/24   default via inet
#  inet    lap0 198.51.100.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10, serves
#                                 192.168.77.0/24 (auto-approved)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip wg python3 timeout
root_state_snapshot

# The devices laptop's cached netmap lists under its peer home, as JSON.
laptop_sees() {
	python3 -c 'import json, sys
msg = json.load(open(sys.argv[1]))
doc = json.loads(msg["netmap"])
home = [p for p in doc["peers"] if p["name"] == "home"][0]
print(json.dumps(home.get("devices", [])))' "$MESH_DIR/state-laptop/netmap.json"
}

laptop_sees_phone() {
	laptop_sees | grep -q '"name": "phone"'
}

mesh_topology_flat
mesh_conf_coordinator home 'auto_approve = { routes = ["192.168.77.0/24"]; };' \
	'subnet_router = { routes = ["192.168.77.0/24"]; };'
mesh_conf laptop ''
mesh_start home
mesh_start laptop
check "laptop joins" mesh_join laptop

priv=$(wg genkey)
pub=$(echo "$priv" | wg pubkey)
ans=$(mesh_ctl home "{\"cmd\": \"device_add\", \"name\": \"phone\", \"public_key\": \"$pub\"}")
log "device_add: $ans"
check "device_add on the coordinator is done at once" \
	[ "$(mesh_json "$ans" 'd["ok"] and d["result"]["state"]')" = "done" ]
check "phone gets the next mesh addresses" \
	[ "$(mesh_json "$ans" '",".join(d["result"]["device"]["addresses"])')" = \
		"100.64.0.3/32,fd7a:6d67:7465::3/128" ]
check "its hub is home" [ "$(mesh_json "$ans" 'd["result"]["device"]["hub"]')" = home ]
check "the config reaches the mesh and the approved LAN, no default" \
	[ "$(mesh_json "$ans" '",".join(d["result"]["config"]["allowed_ips"])')" = \
		"100.64.0.0/10,192.168.77.0/24,fd7a:6d67:7465::/48" ]
check "the config's endpoint is home's WAN address" \
	[ "$(mesh_json "$ans" 'd["result"]["config"]["endpoint"]')" = "203.0.113.2:41641" ]
check "no key in the answer" not grep -q "$pub" <<<"$ans"

check "laptop's netmap lists phone under home" wait_for 50 0.2 laptop_sees_phone
check "without its key" not grep -q public_key <<<"$(laptop_sees)"
check "nodes lists phone under home" mesh_has home devices phone

ans=$(mesh_ctl home "{\"cmd\": \"device_add\", \"name\": \"Phone\", \"public_key\": \"$(wg genkey | wg pubkey)\"}")
check "a duplicate name is refused" \
	[ "$(mesh_json "$ans" 'd["error"]')" = "the name Phone is taken by a device" ]
ans=$(mesh_ctl home "{\"cmd\": \"device_add\", \"name\": \"tab\", \"public_key\": \"$pub\", \"exit\": true}")
check "--exit on a hub without an exit offer is refused" \
	[ "$(mesh_json "$ans" 'd["error"]')" = "home offers no exit node (exit_node.enabled = false)" ]
ans=$(mesh_ctl laptop "{\"cmd\": \"device_add\", \"name\": \"pad\", \"public_key\": \"$(wg genkey | wg pubkey)\", \"exit\": true}")
check "a member's request goes to the coordinator: pending" \
	[ "$(mesh_json "$ans" 'd["result"]["state"]')" = pending ]
req=$(mesh_json "$ans" 'd["result"]["request"]')
member_refused() {
	[ "$(mesh_json "$(mesh_ctl laptop "{\"cmd\": \"device_status\", \"request\": \"$req\"}")" \
		'd.get("error")')" = "laptop offers no exit node (exit_node.enabled = false)" ]
}
check "... then the coordinator's refusal" wait_for 75 0.2 member_refused

ans=$(mesh_ctl home '{"cmd": "device_remove", "name": "phone"}')
check "device_remove is done at once" [ "$(mesh_json "$ans" 'd["result"]["removed"]')" = phone ]
check "phone leaves laptop's netmap" wait_for 50 0.2 not laptop_sees_phone
ans=$(mesh_ctl home "{\"cmd\": \"device_add\", \"name\": \"phone\", \"public_key\": \"$pub\"}")
check "the removed device's key is refused" \
	[ "$(mesh_json "$ans" 'd["error"]')" = "this key belonged to removed device phone; generate a new key" ]

ans=$(mesh_ctl home "{\"cmd\": \"device_add\", \"name\": \"tablet\", \"public_key\": \"$(wg genkey | wg pubkey)\"}")
check "tablet takes the address phone left" \
	[ "$(mesh_json "$ans" 'd["result"]["device"]["addresses"][0]')" = "100.64.0.3/32" ]
mg_stop home
mesh_start home
check "tablet outlives a restart of the coordinator" mesh_has home devices tablet

check "the device's private key is nowhere in home's state or log" \
	not grep -rqF "$priv" "$MESH_DIR/state-home" "$MESH_DIR/home.log"

pass
