#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# SIGKILL at random moments, then `meshgated --cleanup`: the namespace is
# exactly as before (nftables, IPv4/IPv6 rules, routes of every table,
# addresses, links, the forwarding, rp_filter and src_valid_mark sysctls),
# no socket file is left, and the next start works. The daemons alternate:
# home (subnet router + exit node: masquerade, forwarding sysctls) and laptop
# (exit client: policy rules, its own table, the kill switch). Each kill
# comes at one of three moments, in turn:
#   start-up  a random delay of 0 to 1.5 s after the process starts;
#   reload    right after a SIGHUP that changes the config (0 to 0.3 s later);
#   traffic   during a fast ping from laptop through home to the switch.
# MG_KILLS sets the number of kills (default 12: each daemon at each moment
# twice; the soak label runs 200),
# MG_SEED the random seed (printed, for a rerun of the same moments).
#
#  laptop ── veth ── inet ── veth ── home ── veth ── switch
#  (exit client)              (subnet router      192.168.77.2
#                              + exit node)
#  (addresses: topology.sh)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=topology.sh
. "$(dirname "$(readlink -f "$0")")/topology.sh"

require_root
require_cmd ip ping wg nft sysctl
root_state_snapshot

kills=${MG_KILLS:-12}
seed=${MG_SEED:-$$}
RANDOM=$seed
dir=$(mg_workdir)
log "$kills kills, seed $seed"

# What meshgated may change in NS: topology.sh's list and every interface's
# forwarding (ip_forward and all.forwarding switch them all).
kstate() {
	ns_state "$1"
	ns_exec "$1" sysctl -a -r '\.(forwarding|rp_filter|src_valid_mark)$'
}

kstate_same() {
	kstate "$1" >"$dir/kstate-$1.now" 2>&1
	diff -u "$dir/kstate-$1.before" "$dir/kstate-$1.now" >&2
}

tun_of() {
	if [ "$1" = home ]; then echo "$TUN_HOME"; else echo "$TUN_LAPTOP"; fi
}

no_sockets_left() {
	local tun
	tun=$(tun_of "$1")
	[ ! -e "$dir/$tun.sock" ] && [ ! -e "/var/run/wireguard/$tun.sock" ]
}

through() {
	ns_exec laptop ping -c1 -W1 192.168.77.2 >/dev/null 2>&1
}

# ms_sleep MS
ms_sleep() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# The config variant a reload switches to (another LAN, private ranges, LAN access).
declare -A variant=([home]=0 [laptop]=0)
flip_conf() {
	variant[$1]=$((1 - variant[$1]))
	if [ "$1" = home ] && [ "${variant[home]}" = 1 ]; then
		topo_home_conf ALLOW_PRIVATE=true ROUTES='"192.168.77.0/24", "192.168.79.0/24", "fd77::/64"'
	elif [ "$1" = home ]; then
		topo_home_conf
	elif [ "${variant[laptop]}" = 1 ]; then
		topo_laptop_conf LAN_ACCESS=false
	else
		topo_laptop_conf
	fi
}

# start NAME: the daemon's pid in DPID (no wait: start-up may be killed).
start() {
	ns_bg "$1" "$MESHGATED" -f -c "${TOPO_CONF[$1]}" >>"$dir/$1.log" 2>&1
	DPID=${MG_PIDS[-1]}
	MG_DAEMON_PID[$1]=$DPID
}

# kill_and_clean NAME PID: SIGKILL, wait, --cleanup; fails on any leftover.
kill_and_clean() {
	local name=$1 pid=$2 out
	kill -KILL "$pid" 2>/dev/null || true
	wait_for 100 0.1 not kill -0 "$pid" || fail "$name ($pid) survived SIGKILL"
	wait "$pid" 2>/dev/null || true
	out=$(ns_exec "$name" "$MESHGATED" --cleanup -c "${TOPO_CONF[$name]}" 2>&1) ||
		{ log "--cleanup: $out"; return 1; }
	wait_for 20 0.1 not ns_ip "$name" link show "$(tun_of "$name")" || return 1
	no_sockets_left "$name" || { log "socket files left"; return 1; }
	kstate_same "$name"
}

# stop NAME: SIGTERM; a daemon that does not exit is shown (where it waits,
# its last words) before the test fails.
stop() {
	local pid=${MG_DAEMON_PID[$1]}
	mg_stop "$1" TERM && return 0
	log "$1 ($pid) is still running 10 s after SIGTERM: $(grep -E '^State' "/proc/$pid/status"), wchan $(cat "/proc/$pid/wchan")"
	tail -n 20 "$dir/$1.log" >&2
	return 1
}

# One kill of NAME at MOMENT; NAME is down before and after.
kill_once() {
	local name=$1 moment=$2 pid ping_pid ms
	start "$name"
	pid=$DPID
	case $moment in
	start-up)
		ms=$((RANDOM % 1501))
		ms_sleep "$ms"
		;;
	reload)
		wait_for 100 0.1 test -S "$dir/$(tun_of "$name").sock" || fail "$name did not come up"
		wait_for 60 0.25 through || fail "no traffic through home before the reload"
		flip_conf "$name"
		ms=$((RANDOM % 301))
		kill -HUP "$pid"
		ms_sleep "$ms"
		;;
	traffic)
		wait_for 100 0.1 test -S "$dir/$(tun_of "$name").sock" || fail "$name did not come up"
		wait_for 60 0.25 through || fail "no traffic through home before the kill"
		ns_bg laptop ping -q -i 0.005 -c 400 -W1 192.168.77.2 >/dev/null 2>&1
		ping_pid=${MG_PIDS[-1]}
		ms=$((RANDOM % 1001))
		ms_sleep "$ms"
		;;
	esac
	KILL_AT="$name $moment +${ms}ms"
	kill_and_clean "$name" "$pid" || fail "after SIGKILL of $KILL_AT: namespace $name changed"
	if [ -n "${ping_pid:-}" ]; then
		kill "$ping_pid" 2>/dev/null || true
		wait "$ping_pid" 2>/dev/null || true
	fi
}

# ---- topology, configs, the state to come back to ----
topo_setup
topo_home_conf
topo_laptop_conf
kstate home >"$dir/kstate-home.before" 2>&1
kstate laptop >"$dir/kstate-laptop.before" 2>&1
start home
start laptop
check "laptop reaches the switch through home" wait_for 60 0.25 through

moments=(start-up reload traffic)
began=$SECONDS
for ((i = 0; i < kills; i++)); do
	# Alternating pairs: home twice, laptop twice, so both meet every moment.
	if (((i / 2) % 2 == 0)); then name=home; else name=laptop; fi
	stop "$name" || fail "$name did not stop on SIGTERM"
	kstate_same "$name" || fail "namespace $name changed after SIGTERM (before kill $i)"
	kill_once "$name" "${moments[i % 3]}"
	log "kill $((i + 1))/$kills: $KILL_AT: namespace as before"
	# Up before the next SIGTERM: a SIGTERM within a millisecond or so of
	# the spawn can be lost (bash, ip netns exec, start-up).
	start "$name"
	wait_for 100 0.1 test -S "$dir/$(tun_of "$name").sock" || fail "$name did not come up"
done
check "$kills SIGKILLs at random moments, each followed by --cleanup, left both namespaces as before" true
log "$kills kills in $((SECONDS - began)) s"

check "after the last kill, laptop reaches the switch through home again" wait_for 60 0.25 through
mg_stop home TERM
mg_stop laptop TERM
check "SIGTERM of both: home as before" kstate_same home
check "SIGTERM of both: laptop as before" kstate_same laptop
pass "$kills kills"
