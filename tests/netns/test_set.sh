#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# meshgate set: a node's preferences changed at run time, over its config
# file. On laptop, --exit-node home sends its internet traffic through home
# and none takes it back, the choice survives a SIGHUP and a restart, and
# --reset returns to the file; --accept-routes=false drops the route to the
# switch. On ex2, --advertise-routes and --advertise-exit change what the
# coordinator records. --exit-node auto takes an exit that is offered and
# online, and moves to the other when that one stops. Bad options exit 2,
# a bad prefix exits 1 and changes nothing; status names the origins; a
# corrupt prefs.json is ignored at start, not fatal.
#
#  laptop ── veth ── inet ── veth ── home ── veth ── switch
#                     │
#                     └── veth ── ex2
#
#  laptop  up0  198.51.100.2/24   member; accept_routes
#  inet    lap0 198.51.100.1/24  home0 203.0.113.1/24  ex20 203.0.114.1/24
#          lo   192.0.2.80/32     the "internet" host (whoami)
#  home    wan0 203.0.113.2/24    coordinator; exit node; subnet router for
#          lan0 192.168.77.1/24   192.168.77.0/24 (snat)
#  ex2     wan0 203.0.114.2/24    member; exit node (approved by the admin)
#  switch  eth0 192.168.77.2/24   no VPN software, default via home
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
require_cmd ip ping nft python3 timeout
root_state_snapshot

INTERNET=192.0.2.80
PREFS=$MESH_DIR/state-laptop/prefs.json

setup() {
	ns_create laptop inet home switch ex2
	mesh_forwarding inet
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink ex2 wan0 inet ex20 203.0.114
	mesh_uplink switch eth0 home lan0 192.168.77
	ns_ip inet addr add "$INTERNET/32" dev lo
}

set_on() { # NAME ARGS...: meshgate set on NAME, output dropped
	local name=$1
	shift
	mg_cli "$name" "$name" set "$@" >/dev/null
}

# The JSON of self.preferences.KEY on NAME.
pref() { # NAME KEY
	mg_cli "$1" "$1" status --json | python3 -c 'import json, sys
print(json.dumps(json.load(sys.stdin)["self"]["preferences"][sys.argv[1]], sort_keys=True))' "$2"
}

pref_is() { # NAME KEY VALUE(JSON) ORIGIN
	[ "$(pref "$1" "$2")" = "{\"origin\": \"$4\", \"value\": $3}" ]
}

status_says() { # NAME TEXT
	mg_cli "$1" "$1" status | grep -qF -- "$2"
}

exit_in_use() { # NAME PEER
	[ "$(mg_cli "$1" "$1" status --json | python3 -c 'import json, sys
print(json.load(sys.stdin)["self"]["exit_node_in_use"])')" = "$2" ]
}

# Exit code and the lines on stderr of a refused set on laptop.
refused() { # CODE TEXT ARGS...
	local code=$1 text=$2 err rc=0
	shift 2
	err=$(mg_cli laptop laptop set "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$code" ] || { log "set $*: exit $rc, expected $code ($err)"; return 1; }
	case "$err" in *"$text"*) ;; *) log "set $*: said '$err'"; return 1 ;; esac
	[ "$code" = 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]
}

setup
mesh_conf_coordinator home '' 'exit_node = { enabled = true; };
subnet_router = { routes = [ "192.168.77.0/24" ]; snat = true; };'
mesh_conf ex2 'exit_node = { enabled = true; };'
mesh_conf laptop 'accept_routes = true;'
mesh_start home
mesh_start ex2
mesh_start laptop
topo_whoami_start inet "$INTERNET"

check "ex2 joins" mesh_join ex2
check "laptop joins" mesh_join laptop
mg_cli home home routes approve ex2 0.0.0.0/0 ::/0 >/dev/null
check "laptop reaches the switch through home" wait_for 50 0.2 mesh_ping laptop 192.168.77.2
check "without an exit node, the internet host sees laptop itself" \
	sees laptop 198.51.100.2 "$INTERNET"
check "set with no option: no overrides" \
	[ "$(mg_cli laptop laptop set)" = "no overrides; the config file decides" ]
check "status: the exit node comes from the config" pref_is laptop exit_node null config

# --exit-node NAME, then none; kept across SIGHUP and restart.
set_on laptop --exit-node home
check "set --exit-node home: the internet host sees home" \
	wait_for 50 0.2 sees laptop 203.0.113.2 "$INTERNET"
check "kept in prefs.json" grep -q '"exit_node": "home"' "$PREFS"
check "status JSON: exit_node home from meshgate set" \
	pref_is laptop exit_node '"home"' "meshgate set"
check "status: exit node: home (meshgate set)" status_says laptop "exit node: home (meshgate set)"
check "set with no option lists the override" \
	[ "$(mg_cli laptop laptop set)" = "exit node: home" ]
mesh_reload laptop
check "after a SIGHUP the exit node is still home" wait_for 25 0.2 sees laptop 203.0.113.2 "$INTERNET"
mg_stop laptop
mesh_start laptop
check "after a restart the exit node is home again" \
	wait_for 100 0.2 sees laptop 203.0.113.2 "$INTERNET"
check "and its origin is still meshgate set" pref_is laptop exit_node '"home"' "meshgate set"
set_on laptop --exit-node ex2
check "set --exit-node ex2: the internet host sees ex2" \
	wait_for 50 0.2 sees laptop 203.0.114.2 "$INTERNET"
set_on laptop --exit-node none
check "set --exit-node none: laptop goes out directly" \
	wait_for 50 0.2 sees laptop 198.51.100.2 "$INTERNET"
check "status: exit node: none (meshgate set)" status_says laptop "exit node: none (meshgate set)"

# Bad options and values change nothing.
cp "$PREFS" "$MESH_DIR/prefs.before"
check "an unknown option exits 2" refused 2 "unknown option '--bogus'" --bogus
check "a boolean takes =true or =false (exit 2)" refused 2 "takes =true or =false" \
	--accept-routes=maybe
check "--exit-node without a value exits 2" refused 2 "--exit-node takes" --exit-node
check "a prefix with host bits exits 1, in one line" \
	refused 1 "advertise_routes: '10.1.2.3/24' has host bits set; did you mean '10.1.2.0/24'?" \
	--advertise-routes 10.1.2.3/24
check "a default route exits 1 with the loader's words" \
	refused 1 "subnet_router.routes: 0.0.0.0/0 is a default route" --advertise-routes 0.0.0.0/0
check "an exit node and an exit offer exclude each other (exit 1)" \
	refused 1 "exclude each other" --exit-node home --advertise-exit
check "prefs.json is unchanged" cmp -s "$PREFS" "$MESH_DIR/prefs.before"
check "and so is the running state" sees laptop 198.51.100.2 "$INTERNET"

# --reset: back to the file.
set_on laptop --reset --accept-routes=false
check "reset with --accept-routes=false: only that override" \
	[ "$(mg_cli laptop laptop set)" = "accept routes: false" ]
check "--accept-routes=false: the switch is out of reach" \
	wait_for 50 0.2 not mesh_ping laptop 192.168.77.2
check "status: accept routes: no (meshgate set)" \
	status_says laptop "accept routes: no (meshgate set)"
set_on laptop --reset
check "--reset: the switch again" wait_for 50 0.2 mesh_ping laptop 192.168.77.2
check "--reset: no prefs.json" not test -e "$PREFS"
check "--reset: the origins are the config's" pref_is laptop accept_routes true config
# prefs.json that cannot be written: the set is undone.
mkdir "$PREFS"
check "a set whose prefs.json cannot be written exits 1" \
	refused 1 "cannot write $PREFS" --exit-node home
check "and is undone: laptop still goes out directly" sees laptop 198.51.100.2 "$INTERNET"
check "its origin is still the config" pref_is laptop exit_node null config
rmdir "$PREFS"

# What a member advertises, as the coordinator sees it.
set_on ex2 --advertise-routes 10.77.0.0/24,10.78.0.0/24
check "ex2 --advertise-routes: the coordinator has them" \
	wait_for 50 0.2 mesh_has ex2 routes_advertised 10.78.0.0/24
check "and ex2's status says so" status_says ex2 "routes: 10.77.0.0/24, 10.78.0.0/24 (meshgate set)"
set_on ex2 --advertise-exit=false
check "ex2 --advertise-exit=false: its exit offer leaves the coordinator" \
	wait_for 50 0.2 not mesh_has ex2 routes_advertised 0.0.0.0/0
check "while its routes stay" mesh_has ex2 routes_advertised 10.77.0.0/24
set_on ex2 --advertise-routes "" --advertise-exit
check "--advertise-routes \"\": none left at the coordinator" \
	wait_for 50 0.2 not mesh_has ex2 routes_advertised 10.77.0.0/24
check "--advertise-exit: the exit offer is back" \
	wait_for 50 0.2 mesh_has ex2 routes_advertised 0.0.0.0/0

# auto: with home's offer off, ex2; it stays when home offers again, and
# home takes over when ex2 stops.
set_on home --advertise-exit=false
check "home (coordinator) --advertise-exit=false: its offer leaves" \
	wait_for 50 0.2 not mesh_has home routes_advertised 0.0.0.0/0
# A withdrawn offer is forgotten: offered again, it waits for the admin.
mg_cli home home routes approve ex2 0.0.0.0/0 ::/0 >/dev/null
check "ex2's exit offer is approved again" wait_for 50 0.2 mesh_has ex2 routes_approved 0.0.0.0/0
set_on laptop --exit-node auto
check "auto picks ex2, the one exit offered" wait_for 50 0.2 sees laptop 203.0.114.2 "$INTERNET"
check "status: exit node: ex2 (auto, meshgate set)" \
	status_says laptop "exit node: ex2 (auto, meshgate set)"
set_on home --reset
check "home offers its exit again" wait_for 50 0.2 mesh_has home routes_approved 0.0.0.0/0
check "auto stays on ex2 while it is online" exit_in_use laptop ex2
mg_stop ex2
check "ex2 stopped: auto moves to home" wait_for 100 0.2 sees laptop 203.0.113.2 "$INTERNET"
check "status: exit node: home (auto, meshgate set)" \
	status_says laptop "exit node: home (auto, meshgate set)"

# A corrupt prefs.json: logged, ignored, shown; the node starts.
mg_stop laptop
echo '{"exit_node": ' >"$PREFS"
mesh_start laptop
check "laptop starts with a corrupt prefs.json" \
	wait_for 50 0.2 mesh_ping laptop "$(mesh_addr home)"
check "the log says it is ignored" grep -q "prefs.json ignored" "$MESH_DIR/laptop.log"
check "status shows why" status_says laptop "preferences: $PREFS ignored"
check "the config file decides" pref_is laptop exit_node null config
check "laptop goes out directly" wait_for 25 0.2 sees laptop 198.51.100.2 "$INTERNET"
for n in home ex2 laptop; do
	check "$n: no sanitizer report" not grep -q "Sanitizer\|runtime error" "$MESH_DIR/$n.log"
done

pass
