#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317,SC2119 # functions run through check
# The access policy from the coordinator's config to every node: without a
# policy every member is a peer of every other and `policy show` says there
# is none; a reload with `default = "deny"` and one rule (laptop may reach
# home on tcp/22) reaches both members within seconds: each shows the
# policy's revision, laptop and phone are no longer each other's peers
# (home stays theirs), `policy check` on home explains each case with exit
# status 0, 1 or 2, and a member refuses it. A reload with a policy that
# does not parse is refused and the running policy stays on every node; a
# reload without the policy gives the peers back. Each change, and only a
# change, is in the coordinator's audit log.
#
#   laptop 198.51.100.2 ── lap0 ┐
#                               inet (forwards) ── home0 203.0.113.1 ── home 203.0.113.2
#   phone  198.51.101.2 ── pho0 ┘
#
#  home    coordinator of 100.64.0.0/10 and fd7a:6d67:7465::/48
#  laptop  member
#  phone   member
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip python3 timeout
root_state_snapshot

POLICY='policy = {
  default = "deny";
  rules = (
    { from = [ "laptop" ]; to = [ "home:22" ]; proto = "tcp"; }
  );
};'
BROKEN='policy = {
  default = "deny";
  rules = (
    { from = [ "group:nobody" ]; to = [ "home:22" ]; }
  );
};'

# A field of the policy NAME enforces (policy show --json).
shown() { # NAME FIELD
	mg_cli "$1" "$1" policy show --json | python3 -c 'import json, sys
print(json.dumps(json.load(sys.stdin)[sys.argv[1]]))' "$2"
}

shown_is() { # NAME FIELD VALUE(JSON)
	[ "$(shown "$1" "$2")" = "$3" ]
}

# Whether NAME has PEER among its peers (status --json).
has_peer() { # NAME PEER
	mg_cli "$1" "$1" status --json | python3 -c 'import json, sys
sys.exit(0 if any(p["name"] == sys.argv[1] for p in json.load(sys.stdin)["peers"]) else 1)' "$2"
}

# Whether the output of `meshgate ARGS` on NAME (stdout and stderr) matches
# the extended regular expression RE.
says() { # NAME RE ARGS...
	local name=$1 re=$2
	shift 2
	mg_cli "$name" "$name" "$@" 2>&1 | grep -Eq -- "$re"
}

status_policy() { # NAME FIELD
	mg_cli "$1" "$1" status --json | python3 -c 'import json, sys
print(json.dumps(json.load(sys.stdin)["policy"][sys.argv[1]]))' "$2"
}

# Exit status of `policy check ARGS` on NAME, and its output on stdout.
check_rc() { # WANT NAME ARGS...
	local want=$1 name=$2 rc=0 out
	shift 2
	out=$(mg_cli "$name" "$name" policy check "$@" 2>&1) || rc=$?
	log "policy check $*: $out (exit $rc)"
	[ "$rc" = "$want" ]
}

home_policy() { # TEXT: home's config with TEXT as its policy section
	mesh_conf_coordinator home '' "$1"
}

mesh_topology_flat
home_policy ''
mesh_conf laptop
mesh_conf phone
mesh_start home
mesh_start laptop
mesh_start phone
check "laptop joins" mesh_join laptop
check "phone joins" mesh_join phone

check "without a policy laptop has phone as a peer" wait_for 50 0.2 has_peer laptop phone
check "and phone has laptop" wait_for 50 0.2 has_peer phone laptop
check "policy show on laptop: none" \
	[ "$(mg_cli laptop laptop policy show)" = "no access policy: this node lets the mesh through" ]
check "status: allow, revision 0" [ "$(status_policy laptop revision)" = 0 ]
check "policy check without a policy: allowed by default" check_rc 0 home phone laptop tcp:22

home_policy "$POLICY"
T0=$(date +%s%N)
mesh_reload home
check "laptop takes the policy within seconds" wait_for 50 0.2 shown_is laptop present true
log "laptop shows the policy $((($(date +%s%N) - T0) / 1000000)) ms after the SIGHUP"
REV=$(shown home revision)
log "policy revision $REV"
check "the revision is not 0" [ "$REV" != 0 ]
check "laptop shows the coordinator's revision" [ "$(shown laptop revision)" = "$REV" ]
check "phone too" wait_for 50 0.2 shown_is phone revision "$REV"
check "home enforces rule 1 (laptop to it on tcp/22)" \
	says home '^input +1 +tcp +22 ' policy show
check "status on laptop: deny" [ "$(status_policy laptop default)" = '"deny"' ]
check "status on laptop: revision $REV" [ "$(status_policy laptop revision)" = "$REV" ]
check "status line on home" says home "^policy: deny by default, revision $REV" status
check "the audit log has the change" \
	says home " daemon change-policy policy revision $REV: default deny, 1 rule\(s\)$" log
check "laptop loses phone as a peer" wait_for 50 0.2 not has_peer laptop phone
check "phone loses laptop" wait_for 50 0.2 not has_peer phone laptop
check "home stays laptop's peer" has_peer laptop home
check "home stays phone's peer" has_peer phone home
check "home keeps laptop" has_peer home laptop
check "home keeps phone" has_peer home phone
check "policy check laptop home tcp:22: allowed (0)" check_rc 0 home laptop home tcp:22
check "and names rule 1 and its line" \
	says home '^allowed by rule 1 \(line [0-9]+\)' policy check laptop home tcp:22
check "policy check laptop home tcp:80: denied (1)" check_rc 1 home laptop home tcp:80
check "policy check phone laptop: denied (1)" check_rc 1 home phone laptop
check "an unknown name: 2" check_rc 2 home laptop nosuchnode tcp:22
check "a bad PROTO:PORT: 2" check_rc 2 home laptop home tcp:0
check "on a member: 2, run it on the coordinator" check_rc 2 laptop laptop home tcp:22
check "the member says where to run it" says laptop "run it there" policy check laptop home

home_policy "$BROKEN"
kill -HUP "$(mg_pid home)"
check "a policy naming an unknown group is refused" \
	wait_for 50 0.1 grep -q "reload failed, keeping the running configuration" "$MESH_DIR/home.log"
check "the refusal names the file and line" grep -q "home.conf:[0-9]" "$MESH_DIR/home.log"
sleep 4 # more than a rebuild period: nothing must change
check "home keeps revision $REV" [ "$(shown home revision)" = "$REV" ]
check "laptop keeps revision $REV" [ "$(shown laptop revision)" = "$REV" ]
check "laptop still has no phone peer" not has_peer laptop phone
check "the old policy still decides" check_rc 0 home laptop home tcp:22
check "the refused reload is no change in the audit log" \
	[ "$(mg_cli home home log | grep -c change-policy)" = 1 ]

# A restart with the same policy is no new revision and no log entry; a
# policy changed while home was stopped is both.
home_policy "$POLICY"
mg_stop home
mesh_start home
check "a restart keeps revision $REV" wait_for 50 0.2 shown_is home revision "$REV"
check "... and adds no change-policy entry" \
	[ "$(mg_cli home home log | grep -c change-policy)" = 1 ]
check "laptop still has revision $REV" shown_is laptop revision "$REV"
mg_stop home
home_policy "${POLICY/\"home:22\"/\"home:22,80\"}"
mesh_start home
check "a policy changed while stopped: a new revision" \
	wait_for 50 0.2 not shown_is home revision "$REV"
REV2=$(shown home revision)
log "policy revision after the change while stopped: $REV2"
check "laptop takes it" wait_for 100 0.2 shown_is laptop revision "$REV2"
check "the audit log has that change too" \
	says home " daemon change-policy policy revision $REV2: default deny, 1 rule\(s\)$" log
check "policy check laptop home tcp:80: now allowed (0)" check_rc 0 home laptop home tcp:80

home_policy ''
mesh_reload home
check "without the policy laptop shows none again" \
	wait_for 50 0.2 shown_is laptop present false
check "and has phone as a peer again" wait_for 50 0.2 has_peer laptop phone
check "status: revision 0 again" [ "$(status_policy laptop revision)" = 0 ]
check "the audit log has the policy's removal" \
	says home " daemon change-policy policy none: every node reaches every other$" log

pass
