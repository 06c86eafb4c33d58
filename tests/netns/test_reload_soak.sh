#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# SIGHUPs under traffic: home (subnet router + exit node) and laptop (exit
# client) reload in turn, each reload changing the config (home: one more
# LAN and allow_private; laptop: allow_lan_access), while laptop pings the
# switch through home 50 times a second. After a warm-up (a quarter of the
# reloads, 10 to 50), both daemons' open descriptors stay equal and their
# RSS grows by less than 2 MiB; the ping loses less than 1%; the session is
# never restarted (the latest handshake only moves by a rekey, at least 100 s
# after the last one) and its transfer counters keep growing. MG_RELOADS sets the number of
# reloads of each daemon (default 20; the soak label runs 200).
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
require_cmd ip ping wg nft
root_state_snapshot

reloads=${MG_RELOADS:-20}
# The warm-up: a quarter of the reloads, 10 to 50.
warmup=$((reloads / 4 < 10 ? 10 : reloads / 4 > 50 ? 50 : reloads / 4))
dir=$(mg_workdir)
# ASan keeps freed memory in quarantine (256 MiB by default), which would
# read as growth; LeakSanitizer still reports leaks at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0

through() {
	ns_exec laptop ping -c1 -W1 192.168.77.2 >/dev/null 2>&1
}

rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$(mg_pid "$1")/status"
}

fds() {
	find "/proc/$(mg_pid "$1")/fd" -mindepth 1 | wc -l
}

# transfer: laptop's received + sent bytes with home.
transfer() {
	ns_exec laptop wg show "$TUN_LAPTOP" transfer |
		awk -v k="$PUB_HOME" '$1 == k { print $2 + $3 }'
}

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

# The handshake moves only by a rekey (REKEY_AFTER_TIME 120 s, 100 s here
# for slack); HS_LAST is the latest one seen.
session_kept() {
	local now
	now=$(topo_handshake)
	[ -n "$now" ] && [ "$now" -gt 0 ] || return 1
	if [ "$now" != "$HS_LAST" ]; then
		if [ $((now - HS_LAST)) -lt 100 ]; then
			log "the handshake moved from $HS_LAST to $now: a new session"
			return 1
		fi
		log "rekey: handshake $HS_LAST -> $now"
		REKEYS=$((REKEYS + 1))
	fi
	HS_LAST=$now
}

# figures NAME WHEN: RSS and descriptors into RSS_<WHEN>[NAME], FDS_<WHEN>[NAME].
declare -A RSS_warm=() FDS_warm=() RSS_end=() FDS_end=()
figures() {
	local -n rss=RSS_$2 fd=FDS_$2
	rss[$1]=$(rss_kb "$1")
	fd[$1]=$(fds "$1")
	log "$1 $2: VmRSS ${rss[$1]} kB, ${fd[$1]} descriptors"
}

reload_both() {
	local name
	for name in home laptop; do
		flip_conf "$name"
		topo_reload "$name" || fail "$name did not log reload $((TOPO_RELOADS[$name] + 1))"
	done
}

# ---- topology, start, a session ----
topo_setup
topo_home_conf
topo_laptop_conf
topo_start home
topo_start laptop
check "laptop reaches the switch through home" wait_for 60 0.25 through
HS_LAST=$(topo_handshake)
REKEYS=0
check "laptop has a session with home" test "${HS_LAST:-0}" -gt 0

ns_bg laptop ping -i 0.02 -w 3600 -W 1 192.168.77.2 >"$dir/ping.log" 2>&1
ping_pid=${MG_PIDS[-1]}
sleep 1

began=$SECONDS
for ((i = 1; i <= reloads; i++)); do
	reload_both
	session_kept || fail "laptop's session with home was restarted by reload $i"
	if [ "$i" -eq "$warmup" ]; then
		transfer_warm=$(transfer)
		figures home warm
		figures laptop warm
	fi
	[ $((i % 50)) -ne 0 ] ||
		log "$i reloads each, $((SECONDS - began)) s; VmRSS home $(rss_kb home) kB, laptop $(rss_kb laptop) kB"
done
# Let the last reload's work and the pings in flight settle.
sleep 2
figures home end
figures laptop end
kill -INT "$ping_pid"
wait_for 50 0.1 not kill -0 "$ping_pid"
wait "$ping_pid" 2>/dev/null || true
log "$(grep -E 'transmitted|rtt' "$dir/ping.log" | tr '\n' ' ')"
log "$reloads reloads of each daemon in $((SECONDS - began)) s, $REKEYS rekey(s)"
sent=$(awk '/packets transmitted/ { print $1 }' "$dir/ping.log")
received=$(awk '/packets transmitted/ { print $4 }' "$dir/ping.log")

if [ "$reloads" -ge "$warmup" ]; then
	for name in home laptop; do
		check "$name: descriptors after $reloads reloads as after $warmup (${FDS_end[$name]})" \
			test "${FDS_end[$name]}" -eq "${FDS_warm[$name]}"
		check "$name: RSS grew by less than 2 MiB ($((RSS_end[$name] - RSS_warm[$name])) kB)" \
			test $((RSS_end[$name] - RSS_warm[$name])) -lt 2048
	done
	check "the session's transfer counters kept growing" test "$(transfer)" -gt "$transfer_warm"
fi
check "the ping through home ran ($sent sent)" test "${sent:-0}" -gt 100
check "it lost less than 1% ($received of $sent)" test $((received * 100)) -gt $((sent * 99))
check "the session was never restarted" session_kept
check "laptop still reaches the switch" through

mg_stop home TERM
mg_stop laptop TERM
for name in home laptop; do
	check "$name: no leak reported at exit" not grep -q "LeakSanitizer" "$dir/$name.log"
done
pass "$reloads reloads each"
