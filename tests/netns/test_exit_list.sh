#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The exit node a member chose, and what status says of it. home, the
# coordinator, offers an exit (approved by its own config); office, a
# member, offers one that waits for approval; laptop names office in
# use_exit_node.peer. While office's offer is pending, laptop's status says
# internet traffic is blocked and why, and the internet host is out of
# reach (dropped, not sent out directly); `routes approve` puts office in
# use and the internet host sees office's address; office's daemon stopped,
# laptop's status says offline within a bounded wait (the coordinator's
# keepalive, ~16 s), and traffic is blocked again. `meshgate exit-node
# list` shows both offers with their state and marks the one in use;
# --json parses.
#
#  laptop ── veth ── inet ── veth ── home
#                     └──── veth ── office
#
#  laptop  up0  198.51.100.2/24   default via inet; use_exit_node office
#  inet    lap0 198.51.100.1/24  home0 203.0.113.1/24  off0 198.18.0.1/24
#          lo   192.0.2.80/32     the "internet" host (whoami, port 7777)
#  home    wan0 203.0.113.2/24    coordinator, exit node (approved by config)
#  office  wan0 198.18.0.2/24     member, exit node (pending until approved)
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
require_cmd ip ping nft python3 jq timeout
root_state_snapshot

setup() {
	ns_create laptop inet home office
	mesh_forwarding inet
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink office wan0 inet off0 198.18.0
	ns_ip inet addr add 192.0.2.80/32 dev lo
}

# exit_field FIELD: laptop's self.exit_node.FIELD.
exit_field() {
	mg_cli laptop laptop status --json | jq -r ".self.exit_node.$1"
}

exit_is() { # STATE [REASON_PART]
	local state reason
	state=$(exit_field state) || return 1
	reason=$(exit_field reason) || return 1
	[ "$state" = "$1" ] && [[ $reason == *"${2:-}"* ]]
}

# list_row NAME: office's or home's line of `exit-node list`.
list_row() {
	mg_cli laptop laptop exit-node list | grep -E "^[* ] +$1 "
}

list_json() { # JQ: on `exit-node list --json`
	mg_cli laptop laptop exit-node list --json | jq -e "$1" >/dev/null
}

setup
mesh_conf_coordinator home '' 'exit_node = { enabled = true; };'
mesh_conf office 'exit_node = { enabled = true; };'
mesh_conf laptop ''
mesh_start home
mesh_start office
mesh_start laptop
topo_whoami_start inet 192.0.2.80

check "office joins" mesh_join office
check "laptop joins" mesh_join laptop
OFFICE_MESH=$(mesh_addr office)
check "laptop reaches office" wait_for 50 0.2 mesh_ping laptop "$OFFICE_MESH"
check "office's exit offer is pending" mesh_has office routes_pending 0.0.0.0/0
check "without an exit node, the internet host sees laptop itself" \
	sees laptop 198.51.100.2 192.0.2.80

mesh_conf laptop 'use_exit_node = { peer = "office"; };'
mesh_reload laptop
check "pending: laptop's status says blocked, not approved" \
	wait_for 25 0.2 exit_is blocked "exit node 'office' is not approved (on the coordinator: meshgate routes approve office 0.0.0.0/0 ::/0)"
check "and no exit in use" [ "$(mg_cli laptop laptop status --json | jq -r .self.exit_node_in_use)" = null ]
check "the human status says it in a line of its own" \
	grep -qx "internet traffic is blocked: exit node 'office' is not approved .*" \
	<<<"$(mg_cli laptop laptop status)"
check "the internet host is out of reach (dropped, not sent directly)" \
	not whoami laptop 192.0.2.80
check "exit-node list: office pending, chosen and blocked" \
	grep -qE "^  +office +$OFFICE_MESH +pending approval +online .*chosen, blocked$" \
	<<<"$(list_row office)"
check "exit-node list: home approved" grep -qE "^  +home .* approved +online " <<<"$(list_row home)"
check "exit-node list --json parses, both listed" \
	list_json '(map(.name) | sort) == ["home", "office"]'
check "--json: office pending, wanted, not in use" \
	list_json '.[] | select(.name == "office") | .state == "pending" and .wanted and (.in_use | not)'

mg_cli home home routes approve office 0.0.0.0/0 ::/0 >/dev/null
check "approved: laptop's status says in use" wait_for 25 0.2 exit_is in_use
check "with no reason" [ "$(exit_field reason)" = null ]
check "exit_node_in_use names office" \
	[ "$(mg_cli laptop laptop status --json | jq -r .self.exit_node_in_use)" = office ]
check "through office, the internet host sees office's address" \
	wait_for 25 0.2 sees laptop 198.18.0.2 192.0.2.80
check "exit-node list marks office in use" \
	grep -qE "^\* +office +.* approved +online .*in use$" <<<"$(list_row office)"
check "--json: office approved and in use" \
	list_json '.[] | select(.name == "office") | .state == "approved" and .in_use and .usable'

# The control connection runs through the tunnel that went with office:
# the coordinator sees it offline by TCP keepalive, ~16 s.
mg_stop office
stopped_at=$SECONDS
check "office stopped: laptop's status says blocked, offline (last handshake)" \
	wait_for 300 0.2 exit_is blocked "exit node 'office' is offline (last handshake "
log "blocked $((SECONDS - stopped_at)) s after office stopped: $(exit_field reason)"
check "the internet host is out of reach again" not whoami laptop 192.0.2.80
check "exit-node list: office approved, offline, chosen and blocked" \
	grep -qE "^  +office +.* approved +offline .*chosen, blocked$" <<<"$(list_row office)"

pass
