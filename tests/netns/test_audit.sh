#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The coordinator's audit log: root and a member of the control socket's
# operator group (the user nobody with group users, a group every Debian
# host has: nothing is created on the host) invite, approve and unapprove a
# route; laptop joins (auto_approve approves one of its routes: "daemon")
# and asks for a device of its own (node:laptop); a request that names
# another caller is recorded as the user who sent it; laptop stops
# advertising an approved route (node:laptop); root removes the device and
# the node; home's own routes are approved by its config, at start and
# by a reload, and a route dropped by a reload is the config's entry too.
# `meshgate log` lists every action in order with its actor and uid,
# --since and -n cut it, a member refuses with one line, the status document
# carries the last entries newest first, and a restart of the coordinator
# keeps them and adds none. A log longer than a page (1000 entries) comes
# out whole, in order.
#
#  laptop ── veth ── inet ── veth ── home
#  phone  ── veth ──/                 (phone unused)
#
#  laptop  up0  198.51.100.2/24   advertises 192.168.88.0/24 (pending) and
#                                 192.168.99.0/24 (auto_approve)
#  inet    lap0 198.51.100.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator; control_group = "users";
#                                 serves 192.168.77.0/24 (its config), then
#                                 192.168.78.0/24 too (a reload)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip wg python3 timeout setpriv getent
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3 (the user nobody runs it)"
root_state_snapshot
users_gid=$(getent group users | cut -d: -f3)
[ -n "$users_gid" ] || skip "no group users on this host"
getent passwd nobody >/dev/null || skip "no user nobody on this host"

# ARGS...: the CLI on home as nobody, a member of group users only.
as_operator() {
	ns_exec home setpriv --reuid 65534 --regid 65534 --groups "$users_gid" -- \
		"$MESHGATE" --socket "$MESH_DIR/home.sock" "$@"
}

# The log as "ACTOR UID ACTION SUBJECT" lines, oldest first (ARGS: more
# options for meshgate log).
log_lines() {
	mg_cli home home log --json "$@" | python3 -c 'import json, sys
for e in json.load(sys.stdin)["entries"]:
    print(e["actor"], e["uid"], e["action"], e["subject"])'
}

expect_lines() { # WANT GOT
	[ "$1" = "$2" ] || {
		printf 'want:\n%s\ngot:\n%s\n' "$1" "$2" >&2
		return 1
	}
}

mesh_topology_flat
mesh_conf_coordinator home 'auto_approve = { routes = ["192.168.99.0/24"]; };' \
	"control_group = \"users\"; subnet_router = { routes = [\"192.168.77.0/24\"]; };"
mesh_conf laptop 'subnet_router = { routes = ["192.168.88.0/24", "192.168.99.0/24"]; };'
chmod 711 "$MESH_DIR" # nobody reaches home's socket; it lists nothing here
mesh_start home
mesh_start laptop
check "laptop joins with root's invite" mesh_join laptop
check "laptop's route waits for approval" \
	wait_for 50 0.2 sh -c "$(printf '%q ' "$MESHGATE" --socket "$MESH_DIR/home.sock") nodes --json | grep -q 192.168.88.0/24"
check "root approves it" mg_cli home home routes approve laptop 192.168.88.0/24
check "nobody (group users) makes a reusable invite" \
	sh -c "$(printf '%q ' ip netns exec "$(ns_name home)" setpriv --reuid 65534 --regid 65534 --groups "$users_gid" -- "$MESHGATE" --socket "$MESH_DIR/home.sock") invite --reusable --json >$MESH_DIR/invite2.json"
invite2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$MESH_DIR/invite2.json")
check "nobody unapproves laptop's route" as_operator routes unapprove laptop 192.168.88.0/24

# Whole seconds apart, so --since can split the log here.
sleep 1.1
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.1
# Once laptop's control channel to home is up (it says "not connected" till then).
check "laptop asks for a device of its own" wait_for 50 0.2 \
	sh -c "$(printf '%q ' ip netns exec "$(ns_name laptop)" "$MESHGATE" --socket "$MESH_DIR/laptop.sock") device add pad >/dev/null"
forged=$(ns_exec home setpriv --reuid 65534 --regid 65534 --groups "$users_gid" -- /usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("{\"cmd\": \"invite_revoke\", \"id\": %s, \"caller\": {\"user\": \"mallory\", \"uid\": 7}}\n" % sys.argv[2]).encode())
print(s.recv(65536).decode().strip())' "$MESH_DIR/home.sock" "$invite2")
log "invite_revoke naming another caller: $forged"
check "a request naming another caller still runs" \
	[ "$(mesh_json "$forged" 'd["ok"]')" = True ]
# laptop stops advertising its auto-approved route: the approval goes.
sed -i 's|routes = \["192.168.88.0/24", "192.168.99.0/24"\]|routes = ["192.168.88.0/24"]|' "$MESH_DIR/laptop.conf"
check "laptop reloads without 192.168.99.0/24" mesh_reload laptop
check "... and home forgets that route" wait_for 50 0.2 \
	sh -c "! $(printf '%q ' "$MESHGATE" --socket "$MESH_DIR/home.sock") nodes --json | grep -q 192.168.99.0/24"
check "root removes the device" mg_cli home home device remove pad
check "root removes laptop" mg_cli home home nodes remove laptop

all="daemon None approve-route home
root 0 create-invite invite 1
node:laptop None join laptop
daemon None approve-route laptop
root 0 approve-route laptop
nobody 65534 create-invite invite $invite2
nobody 65534 unapprove-route laptop
node:laptop None add-device pad
nobody 65534 revoke-invite invite $invite2
node:laptop None unadvertise-route laptop
root 0 remove-device pad
root 0 remove-node laptop"
check "meshgate log: every action in order, with its actor and uid" \
	expect_lines "$all" "$(log_lines)"
check "the caller is the socket's peer, not what the request says" \
	not grep -q mallory <<<"$(mg_cli home home log)"
mg_cli home home log >"$MESH_DIR/log.txt"
log "meshgate log:"
cat "$MESH_DIR/log.txt" >&2
check "one line per entry: time, actor, action, subject, detail" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} root approve-route laptop 192.168.88.0/24$' "$MESH_DIR/log.txt"
check "home's own route is approved by its config" \
	grep -qE ' daemon approve-route home 192.168.77.0/24 \(config\)$' "$MESH_DIR/log.txt"
check "the join names its invite" \
	grep -qE ' node:laptop join laptop via invite 1, id 2$' "$MESH_DIR/log.txt"
check "auto_approve's approval is the coordinator's, with the join" \
	grep -qE ' daemon approve-route laptop 192.168.99.0/24 \(auto_approve\)$' "$MESH_DIR/log.txt"
check "an approved route laptop no longer advertises is laptop's entry" \
	grep -qE ' node:laptop unadvertise-route laptop 192.168.99.0/24 \(no longer advertised\)$' "$MESH_DIR/log.txt"
check "--since TIME: the actions after it" \
	expect_lines "$(tail -n 5 <<<"$all")" "$(log_lines --since "$since")"
check "--since 1h: all of them" expect_lines "$all" "$(log_lines --since 1h)"
check "-n 2: the last two" expect_lines "$(tail -n 2 <<<"$all")" "$(log_lines -n 2)"
check "the operator group reads the log too" as_operator log -n 1
check "a member says where the log is" \
	sh -c "! $(printf '%q ' ip netns exec "$(ns_name laptop)" "$MESHGATE" --socket "$MESH_DIR/laptop.sock") log 2>$MESH_DIR/member.err &&
	       grep -qx 'meshgate: the audit log is kept by the coordinator: run meshgate log there' $MESH_DIR/member.err"
status_audit() {
	mg_cli home home status --json | python3 -c 'import json, sys
for e in json.load(sys.stdin)["coordinator"]["audit"]:
    print(e["actor"], e["uid"], e["action"], e["subject"])'
}
check "the status document: the entries, newest first" \
	expect_lines "$(tac <<<"$all")" "$(status_audit)"

log_is_all() {
	expect_lines "$all" "$(log_lines 2>/dev/null)" 2>/dev/null
}

# OLD NEW ACTION PREFIX: a reload turns home's routes OLD into NEW, which
# is one entry, the config's: "daemon ACTION home PREFIX (config)".
home_routes_reload() {
	sed -i "s|routes = \\[$1\\]|routes = [$2]|" "$MESH_DIR/home.conf"
	check "home reloads its config: routes [$2]" mesh_reload home
	all="$all
daemon None $3 home"
	check "... one entry: $3" wait_for 50 0.2 log_is_all
	check "... the config's, for $4" \
		sh -c "$(printf '%q ' "$MESHGATE" --socket "$MESH_DIR/home.sock") log -n 1 | grep -qE ' daemon $3 home $4 \(config\)$'"
}
home_routes_reload '"192.168.77.0/24"' '"192.168.77.0/24", "192.168.78.0/24"' \
	approve-route 192.168.78.0/24
home_routes_reload '"192.168.77.0/24", "192.168.78.0/24"' '"192.168.78.0/24"' \
	unadvertise-route 192.168.77.0/24

mg_stop home
mesh_start home
check "a restart of the coordinator keeps the log, and adds nothing" wait_for 50 0.2 log_is_all

# More entries than one page of the log (1000): the CLI asks page after
# page and prints each entry once, in order.
ns_exec home python3 -c 'import json, socket, sys
for _ in range(1001):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"{\"cmd\": \"invite\"}\n")
    assert json.loads(s.makefile().readline())["ok"]
    s.close()' "$MESH_DIR/home.sock"
want=$(($(wc -l <<<"$all") + 1001))
check "1001 more invites: meshgate log -n 0 prints all $want entries" \
	[ "$(mg_cli home home log -n 0 | wc -l)" = "$want" ]
check "... --json too, each id once, in order" \
	sh -c "$(printf '%q ' "$MESHGATE" --socket "$MESH_DIR/home.sock") log -n 0 --json | python3 -c 'import json, sys
ids = [e[\"id\"] for e in json.load(sys.stdin)[\"entries\"]]
sys.exit(not (len(ids) == int(sys.argv[1]) and ids == sorted(set(ids))))' $want"
check "... -n 1010: the last 1010, across two pages" \
	[ "$(mg_cli home home log -n 1010 | wc -l)" = 1010 ]

pass
