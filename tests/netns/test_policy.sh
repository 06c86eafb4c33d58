#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317 # functions run through check
# The access policy end to end, least privilege: home, the coordinator and
# exit node, holds `default = "deny"` and three rules in its config:
#   1. group:admins (laptop) -> 192.168.77.0/24:22 and home:*
#   2. *                     -> exit
#   3. phone                 -> dns
# laptop reaches the switch behind router on tcp/22 but not tcp/80, and
# reaches home; the phone (a stock device of home, wg-quick) reaches the
# internet through home's exit and the mesh resolver, but neither the switch
# nor home; router does not reach home either. Replies pass: a long-lived
# stream from laptop to switch:22 echoes both ways. `meshgate policy check`
# explains each case (exit 0 allowed, 1 denied); `policy show` on router
# lists its forward entries; router's denied counter in /metrics grows on
# the switch:80 attempt. A fourth rule (admins -> switch:80) added on SIGHUP
# opens switch:80 within seconds (measured); taking it out closes it again;
# the stream survives both changes. A policy naming an unknown group is
# refused with FILE:LINE in home's log and the running one stays enforced.
# The audit log (`meshgate log`) lists the test's actions in order.
#
#  phone ───── pho0 ┐
#  (wg-quick)       │
#  laptop ──── lap0 ┤
#                   inet ── home0 ── home    coordinator, exit node, the
#  router ──── rtr0 ┘                        phone's hub, the policy
#    └── lan0 ── switch                      (tcp/22 and tcp/80)
#
#  phone   up0   198.51.101.2/24     default via inet; wg-quick mgphone<pid>
#  laptop  up0   198.51.100.2/24     meshgated, member, group admins
#  inet    pho0  198.51.101.1/24  lap0 198.51.100.1/24  home0 203.0.113.1/24
#          rtr0  198.18.0.1/24    lo 192.0.2.80/32 the internet host (whoami :7777)
#  home    wan0  203.0.113.2/24      meshgated: coordinator (100.64.0.0/10,
#                                    fd7a:6d67:7465::/48), exit node, UDP
#                                    41641; a TCP service on :7777 (both
#                                    families)
#  router  wan0  198.18.0.2/24       meshgated, member: subnet router for
#          lan0  192.168.77.1/24     192.168.77.0/24 (snat); metrics on
#                                    127.0.0.1:8080
#  switch  eth0  192.168.77.2/24     no VPN software; TCP services on :22, :80
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
require_cmd ip ping wg wg-quick wireguard-go nft curl python3 timeout dig
root_state_snapshot

dir=$(mg_workdir)
STREAM=$(dirname "$(readlink -f "$0")")/stream.py
PHONE_IF=mgphone$MG_PID # wg-quick names the interface after the file
PHONE_CONF=$dir/$PHONE_IF.conf
SWITCH=192.168.77.2

setup() {
	ns_create phone laptop inet home router switch
	mesh_forwarding inet
	mesh_uplink phone up0 inet pho0 198.51.101
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink router wan0 inet rtr0 198.18.0
	mesh_uplink switch eth0 router lan0 192.168.77
	ns_ip inet addr add 192.0.2.80/32 dev lo
}

# home_conf RULES...: home's config with the policy's rules (libconfig
# groups, one a line, so that each rule has a line of its own).
home_conf() {
	local rules
	rules=$(printf '    %s,\n' "$@" | sed '$ s/,$//')
	mesh_conf_coordinator home '' "exit_node = { enabled = true; };
policy = {
  default = \"deny\";
  groups = ( { name = \"admins\"; members = [\"laptop\"]; } );
  rules = (
$rules
  );
};"
}

RULE1='{ from = ["group:admins"]; to = ["192.168.77.0/24:22", "home:*"]; }'
RULE2='{ from = ["*"]; to = ["exit"]; }'
RULE3='{ from = ["phone"]; to = ["dns"]; }'
RULE4='{ from = ["group:admins"]; to = ["192.168.77.2/32:80"]; }'
BROKEN='{ from = ["phone", "group:nosuch"]; to = ["192.168.77.0/24"]; }'

# conf_line TEXT: the line of home's config that holds TEXT.
conf_line() {
	grep -nF -- "$1" "$MESH_DIR/home.conf" | head -n 1 | cut -d: -f1
}

# ask NS ADDR PORT [TIMEOUT]: the TCP service at ADDR:PORT answers NS
# (prints the source address it saw).
ask() {
	ns_exec "$1" python3 "$STREAM" ask "$2" "$3" --timeout "${4:-2}"
}

reaches() { # NS ADDR PORT
	ask "$1" "$2" "$3" >/dev/null 2>&1
}

# sees_tcp NS WANT ADDR PORT: the service saw exactly WANT as the source.
sees_tcp() {
	local got
	got=$(ask "$1" "$3" "$4" 2>/dev/null) || return 1
	[ "$got" = "$2" ] || { log "$3:$4 saw $got, expected $2"; return 1; }
}

# The stock client, as a phone runs it; a stub stands in for resolvconf.
phone_wg_quick() { # up|down
	ns_exec phone env PATH="$dir/bin:$PATH" wg-quick "$1" "$PHONE_CONF" \
		>>"$dir/wg-quick.log" 2>&1
}

phone_resolves() { # NAME ADDR
	[ "$(ns_exec phone timeout 5 dig +time=1 +tries=1 +short @100.100.100.100 "$1" 2>/dev/null)" = "$2" ]
}

# explains STATUS RULE FROM TO [PROTO:PORT]: `policy check` on home exits
# with STATUS and names the rule that decided (its number or its line in
# home's config), or the default when RULE is 0.
explains() {
	local want=$1 rule=$2 rc=0 out line pat
	shift 2
	out=$(mg_cli home home policy check "$@" 2>&1) || rc=$?
	log "policy check $*: exit $rc: $out"
	[ "$rc" = "$want" ] || return 1
	if [ "$rule" = 0 ]; then
		grep -qi default <<<"$out"
		return
	fi
	line=$(conf_line "$(eval echo "\$RULE$rule")")
	pat="rule[ #]*$rule([^0-9]|\$)|line $line([^0-9]|\$)|:$line([^0-9]|\$)"
	grep -qiE "$pat" <<<"$out"
}

# denied NS HOOK: meshgate_policy_denied_packets_total at HOOK in NS's
# /metrics; fails when there is none.
denied() {
	ns_exec "$1" curl -sf -m 3 http://127.0.0.1:8080/metrics >"$dir/metrics-$1.txt" || return 1
	awk -v want="meshgate_policy_denied_packets_total{hook=\"$2\"}" \
		'$1 == want { print $2; found = 1 } END { exit !found }' "$dir/metrics-$1.txt"
}

denied_grew() { # NS HOOK BEFORE
	local now
	now=$(denied "$1" "$2") && [ "$now" -gt "$3" ]
}

# The long-lived stream laptop -> switch:22, started by hold_start.
hold_start() {
	ns_bg laptop python3 "$STREAM" hold "$SWITCH" 22 "$dir/hold.log" --lifetime 300
	HOLD_PID=${MG_PIDS[-1]}
}

hold_echoes() { # the number of echoes the stream has had so far
	grep -c '^ok ' "$dir/hold.log" 2>/dev/null || true
}

echoes_over() { # N: the stream has had more than N echoes
	[ "$(hold_echoes)" -gt "$1" ]
}

# hold_alive: no error on the stream, and it echoes again (more than now).
hold_alive() {
	local n
	n=$(hold_echoes)
	wait_for 50 0.1 echoes_over "$((n + 2))" || return 1
	not grep -q '^error' "$dir/hold.log" && kill -0 "$HOLD_PID"
}

# reload_home: SIGHUP home with its new config; the time (date +%s%N) in T0.
reload_home() {
	T0=$(date +%s%N)
	mesh_reload home
}

# within WHAT COUNT CMD...: CMD succeeds within COUNT tries (each bounded by
# its own timeout, 0.2 s apart); logs how long after T0 it did.
within() {
	local what=$1 count=$2 i ms
	shift 2
	for ((i = 0; i < count; i++)); do
		if "$@" >/dev/null 2>&1; then
			ms=$((($(date +%s%N) - T0) / 1000000))
			log "$what $((ms / 1000)).$(printf %03d $((ms % 1000))) s after the SIGHUP"
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# ---- topology, mesh ----
setup
mkdir -p "$dir/bin"
printf '#!/bin/sh\ncat >/dev/null\n' >"$dir/bin/resolvconf"
chmod 755 "$dir/bin/resolvconf"
MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/$PHONE_IF.sock")

home_conf "$RULE1" "$RULE2" "$RULE3"
mesh_conf router 'subnet_router = { routes = [ "192.168.77.0/24" ]; snat = true; };'
sed -i 's/^web = .*/web = { enabled = true; };/' "$MESH_DIR/router.conf"
mesh_conf laptop ''
mesh_start home
mesh_start router
mesh_start laptop
topo_whoami_start inet 192.0.2.80
ns_bg switch python3 "$STREAM" serve 22 "$SWITCH" --lifetime 600
ns_bg switch python3 "$STREAM" serve 80 "$SWITCH" --lifetime 600
ns_bg home python3 "$STREAM" serve 7777 :: --lifetime 600

check "router joins" mesh_join router
check "laptop joins" mesh_join laptop
check "router's LAN approved" mg_cli home home routes approve router 192.168.77.0/24
HOME_MESH=$(mesh_addr home)
HOME_MESH6=$(mesh_node home addresses | python3 -c 'import json,sys
print([a for a in json.load(sys.stdin) if ":" in a][0].split("/")[0])')
LAPTOP_MESH=$(mesh_addr laptop)
mg_cli home home device add phone --exit --endpoint 203.0.113.2:41641 2>"$dir/add.err" |
	cat >"$PHONE_CONF"
chmod 600 "$PHONE_CONF"
check "device add phone --exit prints a wg-quick file" grep -q '^\[Interface\]' "$PHONE_CONF"
check "wg-quick up of it in the phone" phone_wg_quick up

# ---- what the policy lets through ----
check "laptop reaches home (admins -> home:*, tcp)" wait_for 50 0.2 reaches laptop "$HOME_MESH" 7777
check "and over IPv6" wait_for 10 0.2 reaches laptop "$HOME_MESH6" 7777
check "laptop pings home (home:* is every protocol)" wait_for 5 0.2 mesh_ping laptop "$HOME_MESH"
check "laptop reaches switch:22 (admins -> 192.168.77.0/24:22), seen as router's LAN address" \
	wait_for 50 0.2 sees_tcp laptop 192.168.77.1 "$SWITCH" 22
check "the phone reaches the internet through home's exit, seen as home's WAN" \
	wait_for 50 0.2 sees_tcp phone 203.0.113.2 192.0.2.80 7777
check "the phone resolves laptop.mesh.internal at its hub (phone -> dns)" \
	wait_for 25 0.2 phone_resolves laptop.mesh.internal "$LAPTOP_MESH"

# ---- what it does not ----
before=$(denied router forward) || before=-1
log "router's denied counter (forward) before the switch:80 attempt: $before"
check "laptop does not reach switch:80" not reaches laptop "$SWITCH" 80
check "router's /metrics has the policy's denied counter at its forward hook" test "$before" -ge 0
check "which grows on laptop's switch:80 attempt (read every 10 s)" wait_for 75 0.2 denied_grew router forward "$before"
log "router's denied counter (forward) after: $(denied router forward)"
grep -E '^meshgate_policy' "$dir/metrics-router.txt" | sed 's/^/#   /' >&2 || true
check "the phone does not reach switch:22" not reaches phone "$SWITCH" 22
check "nor switch:80" not reaches phone "$SWITCH" 80
check "the phone does not reach home (tcp)" not reaches phone "$HOME_MESH" 7777
check "(nor over IPv6)" not reaches phone "$HOME_MESH6" 7777
check "(nor ping it)" not mesh_ping phone "$HOME_MESH"
check "router does not reach home (not an admin)" not reaches router "$HOME_MESH" 7777

# ---- explained ----
check "policy check laptop switch tcp:22: allowed by rule 1" explains 0 1 laptop "$SWITCH" tcp:22
check "policy check laptop switch tcp:80: denied by the default" explains 1 0 laptop "$SWITCH" tcp:80
check "policy check laptop home: allowed by rule 1" explains 0 1 laptop home
check "policy check phone exit: allowed by rule 2" explains 0 2 phone exit
check "policy check phone dns udp:53: allowed by rule 3" explains 0 3 phone dns udp:53
check "policy check phone switch tcp:22: denied" explains 1 0 phone "$SWITCH" tcp:22
check "policy check phone home tcp:7777: denied" explains 1 0 phone home tcp:7777
check "policy check phone home udp:53: allowed by rule 2 (the exit's resolver)" \
	explains 0 2 phone home udp:53
check "policy check router home tcp:7777: denied" explains 1 0 router home tcp:7777
check_unknown() {
	local rc=0
	mg_cli home home policy check nosuch home >"$dir/check.out" 2>&1 || rc=$?
	log "policy check nosuch home: exit $rc: $(cat "$dir/check.out")"
	[ "$rc" -gt 1 ]
}
check "policy check of an unknown name is an error (exit > 1), not a verdict" check_unknown
mg_cli router router policy show >"$dir/show-router.txt" 2>&1 || true
log "policy show on router:"
sed 's/^/#   /' "$dir/show-router.txt" >&2
check "policy show on router lists a forward entry" grep -qi forward "$dir/show-router.txt"
check "to 192.168.77.0/24" grep -qF 192.168.77.0/24 "$dir/show-router.txt"
check "from laptop's address" grep -qF "$LAPTOP_MESH" "$dir/show-router.txt"
check "on port 22" grep -qwF 22 "$dir/show-router.txt"

# ---- a policy change opens switch:80 and closes it again ----
hold_start
check "a long-lived stream laptop -> switch:22 echoes both ways (replies pass)" \
	wait_for 50 0.1 echoes_over 2
home_conf "$RULE1" "$RULE2" "$RULE3" "$RULE4"
check "home reloads with rule 4 (admins -> switch:80)" reload_home
check "laptop reaches switch:80 within 30 s" within "switch:80 opened" 30 reaches laptop "$SWITCH" 80 1
check "the stream on switch:22 survived the change" hold_alive
check "policy check laptop switch tcp:80: allowed by rule 4" explains 0 4 laptop "$SWITCH" tcp:80
check "the phone still does not reach switch:22" not reaches phone "$SWITCH" 22

# A policy naming an unknown group: refused, FILE:LINE, the old one stays.
refusals() { # NAME: how many reloads NAME has refused
	grep -c 'reload failed' "$MESH_DIR/$1.log" || true
}
refused_over() { # NAME N
	[ "$(refusals "$1")" -gt "$2" ]
}
failed=$(refusals home)
home_conf "$RULE1" "$RULE2" "$RULE3" "$RULE4" "$BROKEN"
bad_line=$(conf_line "$BROKEN")
kill -HUP "$(mg_pid home)"
check "a policy naming group:nosuch is refused on SIGHUP" \
	wait_for 50 0.1 refused_over home "$failed"
log "home's log: $(grep -A2 'reload failed' "$MESH_DIR/home.log" | tail -n 3)"
check "home's log names home.conf:$bad_line" grep -qF "home.conf:$bad_line:" "$MESH_DIR/home.log"
check "and the group" grep -q 'nosuch' "$MESH_DIR/home.log"
check "the running policy stays: laptop still reaches switch:80" reaches laptop "$SWITCH" 80
check "the phone (in the refused rule) still does not reach the switch" \
	not reaches phone "$SWITCH" 22
check "policy check phone switch tcp:22: still denied" explains 1 0 phone "$SWITCH" tcp:22

home_conf "$RULE1" "$RULE2" "$RULE3"
check "home reloads without rule 4" reload_home
check "laptop no longer reaches switch:80, within 30 s" \
	within "switch:80 closed" 30 not reaches laptop "$SWITCH" 80 1
check "and stays shut out" not reaches laptop "$SWITCH" 80
check "the stream on switch:22 survived that change too" hold_alive
log "the stream: $(hold_echoes) echoes 0.2 s apart, the longest gap between two $(awk '$1 == "ok" {
	if (t && $3 - t > m) m = $3 - t; t = $3 } END { printf "%.2f", m }' "$dir/hold.log") s"
check "laptop still reaches home" reaches laptop "$HOME_MESH" 7777
check "the phone still uses the exit" sees_tcp phone 203.0.113.2 192.0.2.80 7777

# ---- the audit log ----
# in_order FILE REGEX...: each REGEX matches a line of FILE after the line
# the previous one matched.
in_order() {
	python3 - "$@" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
at = -1
for pat in sys.argv[2:]:
    found = [i for i, l in enumerate(lines) if i > at and re.search(pat, l, re.I)]
    if not found:
        print(f"# no line after line {at + 1} matches {pat!r}", file=sys.stderr)
        sys.exit(1)
    at = found[0]
PY
}
if mg_cli home home log >"$dir/audit.txt" 2>&1; then
	sed 's/^/#   /' "$dir/audit.txt" >&2
	check "the audit log lists the test's actions in order" in_order "$dir/audit.txt" \
		'join.*router' 'join.*laptop' 'approv.*router.*192\.168\.77\.0/24' \
		'device.*add.*phone|add.*device.*phone' 'policy' 'policy'
	check "with the local user who ran the commands (root)" grep -qw root "$dir/audit.txt"
elif grep -q "unknown command 'log'" "$dir/audit.txt"; then
	log "TODO(audit): no 'meshgate log' in this build: the audit log's order is not checked"
else
	fail "meshgate log: $(cat "$dir/audit.txt")"
fi

# ---- everything down ----
kill "$HOLD_PID" 2>/dev/null || true
check "wg-quick down" phone_wg_quick down
check "laptop stops" mg_stop laptop
check "router stops" mg_stop router
check "home stops" mg_stop home
pass "policy"
