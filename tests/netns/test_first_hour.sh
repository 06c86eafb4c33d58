#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317,SC2119 # functions run through check
# A plain install's first hour: every node runs the packaged configuration
# (packaging/meshgate.conf, its paths moved into the scratch directory) and
# so starts in no mesh. `meshgate init` makes home a coordinator that makes
# invites; laptop joins with one `meshgate join`. phone, made a coordinator
# of its own by `meshgate init`, has no members and joins home's mesh with
# `join`: its registry is set aside (kept, not deleted) and it stays a
# member after a restart. home, with members, refuses `join` without
# --force and names how many nodes it would strand; with --force it leaves
# (its registry set aside). The audit log records who created the mesh and,
# in the registry set aside, who left it and what that stranded.
#
#  laptop ── veth ── inet ── veth ── home
#  phone  ── veth ──/
#
#  laptop  up0  198.51.100.2/24   default via inet
#  phone   up0  198.51.101.2/24   default via inet
#  inet    lap0 198.51.100.1/24  pho0 198.51.101.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping python3 timeout
root_state_snapshot

dir=$(mg_workdir)
packaged="$(dirname "$(readlink -f "$0")")/../../packaging/meshgate.conf"

# packaged_conf NAME: the packaged file with its paths in the scratch
# directory and the node named NAME; nothing else changes.
packaged_conf() {
	local name=$1
	sed -e "s|^interface = .*|interface = \"mgf${name:0:1}$MG_PID\";|" \
		-e "s|^private_key_file = .*|private_key_file = \"$dir/$name.key\";|" \
		-e "s|^state_dir = .*|state_dir = \"$dir/state-$name\";|" \
		-e "s|^control_socket = .*|control_socket = \"$dir/$name.sock\";|" \
		-e "s|^# hostname = .*|hostname = \"$name\";|" \
		"$packaged" >"$dir/$name.conf"
	grep -q "^state_dir = \"$dir" "$dir/$name.conf" || fail "packaged config: no state_dir line"
	MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/mgf${name:0:1}$MG_PID.sock")
}

self_field() { # NAME FIELD: a field of the node's own status
	mg_cli "$1" "$1" status --json | python3 -c 'import json,sys
v = json.load(sys.stdin)["self"][sys.argv[1]]
print(v if isinstance(v, str) else json.dumps(v))' "$2"
}

is_role() { # NAME ROLE ORIGIN
	[ "$(self_field "$1" role)" = "$2" ] && [ "$(self_field "$1" role_origin)" = "$3" ]
}

set_aside() { # NAME: its registry renamed to registry.sqlite.TIME
	compgen -G "$dir/state-$1/registry.sqlite.[0-9]*" >/dev/null
}

mesh_topology_flat
for n in home laptop phone; do
	packaged_conf "$n"
	mg_start "$n" "$n" "$dir/$n.conf"
done

# ---- the packaged default: in no mesh ----
check "home (packaged config) is not a coordinator" [ "$(self_field home coordinator)" = false ]
check "laptop (packaged config) is in no mesh" is_role laptop none config
out=$(mg_cli home home invite 2>&1) && fail "invite on a node in no mesh: $out"
log "invite before init: $out"
check "invite before init says how to become a coordinator" grep -q "meshgate init" <<<"$out"

# ---- meshgate init ----
out=$(mg_cli home home init 2>&1) || { mg_log home; fail "init: $out"; }
log "$out"
check "init says home is now a coordinator" grep -q "now a coordinator" <<<"$out"
check "home is a coordinator by meshgate init" is_role home coordinator "meshgate init"
check "the CLI status names the origin" \
	grep -q "coordinator (meshgate init)" <<<"$(mg_cli home home status)"
check "the audit log starts with who created the mesh" \
	grep -qE '^[0-9-]+ [0-9:]+ root create-mesh home this node is its coordinator$' \
	<<<"$(mg_cli home home log)"
check "init again says so and changes nothing" \
	grep -q "already a coordinator (meshgate init)" <<<"$(mg_cli home home init)"
code=$(mg_cli home home invite)
check "home makes invites" [ "${code#mg1-}" != "$code" ]

# ---- laptop: one join ----
out=$(mg_cli laptop laptop join "$code" 2>&1) || {
	mg_log laptop
	mg_log home
	fail "laptop join: $out"
}
log "$out"
check "laptop joined with one meshgate join" grep -q "joined as laptop" <<<"$out"
check "laptop is a member" is_role laptop member config
check "laptop reaches home through the mesh" wait_for 50 0.2 mesh_ping laptop 100.64.0.1
check "init on a member refuses" not mg_cli laptop laptop init

# ---- phone: a member-less coordinator joins another mesh ----
mg_cli phone phone init >/dev/null
check "phone is a coordinator by meshgate init" is_role phone coordinator "meshgate init"
phone_code=$(mg_cli phone phone invite)
check "phone makes invites too" [ "${phone_code#mg1-}" != "$phone_code" ]
out=$(mg_cli phone phone join "$phone_code" 2>&1) && fail "join of its own invite: $out"
check "phone refuses its own invite" grep -q "own" <<<"$out"
code=$(mg_cli home home invite)
out=$(mg_cli phone phone join "$code" 2>&1) || {
	mg_log phone
	mg_log home
	fail "phone join: $out"
}
log "$out"
check "the member-less coordinator phone joined home's mesh" grep -q "joined as phone" <<<"$out"
check "phone is a member by meshgate join" is_role phone member "meshgate join"
check "phone's registry is set aside, not deleted" set_aside phone
check "phone's live registry is gone" not test -e "$dir/state-phone/registry.sqlite"
check "phone reaches home through home's mesh" wait_for 50 0.2 mesh_ping phone 100.64.0.1
check "phone reaches laptop" wait_for 50 0.2 mesh_ping phone 100.64.0.2

mg_stop phone || fail "phone did not stop"
mg_start phone phone "$dir/phone.conf"
check "after a restart phone is still a member, not a coordinator" \
	is_role phone member "meshgate join"
check "phone reaches home after the restart" wait_for 50 0.2 mesh_ping phone 100.64.0.1

# ---- a coordinator with members refuses join without --force ----
out=$(mg_cli home home join "$phone_code" 2>&1) && fail "home left its mesh: $out"
log "home join: $out"
check "home refuses, naming the 2 nodes it would strand" grep -q "2 other node(s)" <<<"$out"
check "the refusal names --force" grep -q -- "--force" <<<"$out"
check "home is still the coordinator" is_role home coordinator "meshgate init"
check "home's registry is in place" test -e "$dir/state-home/registry.sqlite"
check "laptop still reaches home" wait_for 50 0.2 mesh_ping laptop 100.64.0.1

# --force leaves anyway: phone's old mesh is gone, so the join itself gets
# no answer, but home has stopped being a coordinator and kept its registry.
out=$(mg_cli home home join --force "$phone_code" 2>&1) && fail "join to a gone mesh: $out"
log "home join --force: $out"
check "--force passes the refusal" not grep -q "would strand" <<<"$out"
check "home is a member by meshgate join now" [ "$(self_field home role_origin)" = "meshgate join" ]
check "home's registry is set aside, not deleted" set_aside home
# The last entry of the set-aside registry says who left and what it stranded.
last_entry() { # NAME
	python3 -c 'import glob, sqlite3, sys
db = sqlite3.connect(sorted(glob.glob(sys.argv[1] + "/registry.sqlite.[0-9]*"))[-1])
print(" ".join(str(v) for v in db.execute("SELECT actor, action, subject, detail FROM audit ORDER BY id DESC LIMIT 1").fetchone()))' "$dir/state-$1"
}
check "its audit log ends with root leaving, 2 nodes stranded" \
	[ "$(last_entry home)" = "root leave-mesh home for another mesh; 2 other node(s) and 0 device(s) stranded" ]

for n in home laptop phone; do
	mg_stop "$n" || fail "$n did not stop"
	check "$n: no sanitizer report" not grep -q "Sanitizer\|runtime error" "$dir/$n.log"
done

pass
