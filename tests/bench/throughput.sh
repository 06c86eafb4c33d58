#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317 # start_*, pids_*, stop_* are called as "start_$impl"
# Throughput, CPU cost, latency and memory of meshgated against Debian's
# wireguard-go and Nebula, measured in the same run on the same topology,
# alternating between them. meshgated runs twice a round: as configured (the
# offloads and crypto threads on by default) and with MESHGATE_OFFLOADS=0
# MESHGATE_CRYPTO_THREADS=1, the data plane without them.
#
#   a                                            b
#   tun 10.20.0.1/24 ── veth 192.0.2.1/24 ──── veth 192.0.2.2/24 ── tun 10.20.0.2/24
#   (meshgated, wireguard-go or Nebula)        (the same implementation)
#
# Usage: tests/bench/throughput.sh [BUILD_DIR] [ROUNDS] [SECONDS]
# Environment: IMPLS picks the implementations (default "meshgated mgoff wggo
# nebula"; mgalt too, with MESHGATED_ALT; wggo, the base of the ratios, always
# runs); PINGS (default 100);
# MESHGATE_OFFLOADS and MESHGATE_CRYPTO_THREADS reach the first meshgated.
# Each round starts every implementation in turn (MTU 1280 on each tunnel) and
# runs iperf3 TCP through it: one stream and four streams (-P 4), a -> b and
# b -> a (-R), SECONDS each. Nebula runs with certificates made by nebula-cert
# and a static host map, no lighthouse. Printed at the end, per implementation:
# median throughput of each test and its ratio to wireguard-go, daemon CPU
# seconds per GB moved (utime + stime of both ends over the round's four tests,
# divided by the bytes iperf3 received), the RTT ping adds to the bare veth
# (median of PINGS pings), and memory, the larger of both ends: VmRSS and
# RssAnon IDLE_WAIT seconds (default 3) after the tunnel is up, before load,
# VmHWM (peak) and RssAnon after the four tests. meshgated's daemon.offloads
# (what each variant really uses) is printed once. Run as root.
# Figures, not assertions: the machine is shared and noisy.
set -eu
here=$(dirname "$(readlink -f "$0")")
build=$(readlink -f "${1:-$here/../../build}")
rounds=${2:-3}
seconds=${3:-10}
pings=${PINGS:-100}
idle_wait=${IDLE_WAIT:-3}
export MESHGATED=$build/meshgated MESHGATE=$build/meshgate
# shellcheck source=../netns/lib.sh
. "$here/../netns/lib.sh"
# shellcheck source=../netns/meshgate.sh
. "$here/../netns/meshgate.sh"

require_root
require_cmd ip ping wg wireguard-go nebula nebula-cert iperf3 python3
[ -x "$MESHGATED" ] || fail "no meshgated in $build (build it first)"
if [ "$rounds" -lt 1 ] || [ "$seconds" -lt 1 ]; then
	fail "ROUNDS and SECONDS must be >= 1"
fi
root_state_snapshot
dir=$(mg_workdir)
hz=$(getconf CLK_TCK)

ns_create a b
veth_pair a veth-a b veth-b
ns_ip a addr add 192.0.2.1/24 dev veth-a
ns_ip b addr add 192.0.2.2/24 dev veth-b
key_a=$(mg_genkey)
key_b=$(mg_genkey)
pub_a=$(mg_pubkey "$key_a")
pub_b=$(mg_pubkey "$key_b")
echo "$key_a" >"$dir/a.key"
echo "$key_b" >"$dir/b.key"
chmod 600 "$dir"/*.key

nebula-cert ca -name "bench$MG_PID" -duration 24h \
	-out-crt "$dir/neb-ca.crt" -out-key "$dir/neb-ca.key" >/dev/null
for ns in a b; do
	addr=10.20.0.1 peer_addr=10.20.0.2 peer_ep=192.0.2.2
	[ "$ns" = a ] || addr=10.20.0.2 peer_addr=10.20.0.1 peer_ep=192.0.2.1
	nebula-cert sign -name "$ns" -ip "$addr/24" -ca-crt "$dir/neb-ca.crt" \
		-ca-key "$dir/neb-ca.key" -out-crt "$dir/neb-$ns.crt" -out-key "$dir/neb-$ns.key" >/dev/null
	cat >"$dir/neb-$ns.yml" <<YML
pki:
  ca: $dir/neb-ca.crt
  cert: $dir/neb-$ns.crt
  key: $dir/neb-$ns.key
static_host_map:
  "$peer_addr": ["$peer_ep:4242"]
lighthouse:
  am_lighthouse: false
  hosts: []
listen:
  host: 0.0.0.0
  port: 4242
punchy:
  punch: false
tun:
  dev: neb$ns$MG_PID
  mtu: 1280
logging:
  level: warning
firewall:
  outbound:
    - port: any
      proto: any
      host: any
  inbound:
    - port: any
      proto: any
      host: any
YML
done

ns_bg b iperf3 -s >"$dir/iperf3.log" 2>&1

# ---- one implementation at a time; both ends run the same one ----
start_meshgated() {
	mg_config "$dir/a.conf" "mga$MG_PID" 51820 "$dir/a.key" '"10.20.0.1/24"' \
		"{ name = \"b\"; public_key = \"$pub_b\"; endpoint = \"192.0.2.2:51820\";
		   allowed_ips = [\"10.20.0.2/32\"]; }"
	mg_config "$dir/b.conf" "mgb$MG_PID" 51820 "$dir/b.key" '"10.20.0.2/24"' \
		"{ name = \"a\"; public_key = \"$pub_a\"; endpoint = \"192.0.2.1:51820\";
		   allowed_ips = [\"10.20.0.1/32\"]; }"
	mg_start a a "$dir/a.conf"
	mg_start b b "$dir/b.conf"
}

pids_meshgated() {
	pgrep -f "meshgated -f -c $dir/[ab].conf"
}

stop_meshgated() {
	local pids=("${MG_DAEMON_PID[a]}" "${MG_DAEMON_PID[b]}")
	mg_stop a
	mg_stop b
	stop_pids "${pids[@]}"
}

start_mgoff() {
	MESHGATE_OFFLOADS=0 MESHGATE_CRYPTO_THREADS=1 start_meshgated
}

pids_mgoff() {
	pids_meshgated
}

stop_mgoff() {
	stop_meshgated
}

start_mgalt() {
	MESHGATED=$MESHGATED_ALT start_meshgated
}

pids_mgalt() {
	pids_meshgated
}

stop_mgalt() {
	stop_meshgated
}

start_wggo() {
	local ns peer_pub key addr peer_addr peer_ip
	for ns in a b; do
		if [ "$ns" = a ]; then
			key=$dir/a.key peer_pub=$pub_b addr=10.20.0.1 peer_addr=192.0.2.2 peer_ip=10.20.0.2
		else
			key=$dir/b.key peer_pub=$pub_a addr=10.20.0.2 peer_addr=192.0.2.1 peer_ip=10.20.0.1
		fi
		wggo_start "$ns" wg"$ns$MG_PID"
		ns_exec "$ns" wg set wg"$ns$MG_PID" private-key "$key" listen-port 51820 \
			peer "$peer_pub" endpoint "$peer_addr:51820" allowed-ips "$peer_ip/32"
		ns_ip "$ns" addr add "$addr/24" dev wg"$ns$MG_PID"
		ns_ip "$ns" link set wg"$ns$MG_PID" mtu 1280 up
	done
}

pids_wggo() {
	pgrep -f "wireguard-go wg[ab]$MG_PID"
}

# True while PID runs; an exited child not yet reaped (state Z) does not count.
running() {
	local state
	state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# Stops, reaps and forgets the given children of this shell, so that cleanup
# never signals a PID the kernel has since handed to another process.
stop_pids() {
	local pid keep=() p
	for pid in "$@"; do
		kill "$pid" 2>/dev/null || true
		wait_for 50 0.1 not running "$pid" || kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for p in "${MG_PIDS[@]}"; do
		[[ " $* " == *" $p "* ]] || keep+=("$p")
	done
	MG_PIDS=("${keep[@]}")
}

stop_wggo() {
	# shellcheck disable=SC2046
	stop_pids $(pids_wggo)
}

start_nebula() {
	local ns
	for ns in a b; do
		ns_bg "$ns" nebula -config "$dir/neb-$ns.yml" >>"$dir/nebula-$ns.log" 2>&1
	done
	for ns in a b; do
		wait_for 100 0.1 ns_exec "$ns" ip link show neb"$ns$MG_PID" ||
			fail "nebula $ns did not come up: $(cat "$dir/nebula-$ns.log")"
	done
}

pids_nebula() {
	pgrep -f "nebula -config $dir/neb-[ab].yml"
}

stop_nebula() {
	# shellcheck disable=SC2046
	stop_pids $(pids_nebula)
}

# Clock ticks (user + system) of the given processes, threads included.
cpu_ticks() {
	local pid sum=0 t
	for pid in "$@"; do
		t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
		sum=$((sum + t))
	done
	echo "$sum"
}

# One iperf3 run a -> b (or b -> a with -R); prints "Mbit/s bytes".
iperf() {
	ns_exec a iperf3 -c 10.20.0.2 -t "$seconds" -J "$@" >"$dir/run.json" 2>&1 || {
		echo "iperf3 $* failed: $(head -c 400 "$dir/run.json")" >&2
		echo "0 0"
		return 0
	}
	python3 -c "import json; s=json.load(open('$dir/run.json'))['end']['sum_received']
print(round(s['bits_per_second'] / 1e6), s['bytes'])"
}

# Each reply's RTT in ms, one a line.
ping_rtts() {
	ns_exec a ping -n -c "$pings" -i 0.02 "$1" | sed -n 's/.* time=\([0-9.]*\) ms/\1/p'
}

rss_kb() {
	sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

read -ra impls <<<"${IMPLS:-meshgated mgoff wggo nebula}"
[[ " ${impls[*]} " == *" wggo "* ]] || impls+=(wggo)
for impl in "${impls[@]}"; do
	declare -F "start_$impl" >/dev/null || fail "IMPLS: no implementation '$impl'"
done
if [[ " ${impls[*]} " == *" mgalt "* ]] && [ ! -x "${MESHGATED_ALT:-}" ]; then
	fail "IMPLS has mgalt: MESHGATED_ALT must name a meshgated binary"
fi
tests=("1" "1 -R" "4" "4 -R")
declare -A label=([meshgated]=meshgated [mgoff]="meshgated, offloads off" [wggo]=wireguard-go
	[mgalt]="meshgated (MESHGATED_ALT)" [nebula]="Nebula $(nebula -version | sed -n 's/^Version: //p')")
declare -A mbps=() cpugb=() mem=() shown=()
: >"$dir/rtt-bare"
ping_rtts 192.0.2.2 >"$dir/rtt-bare"

# Keeps in mem[WHAT/IMPL] the largest FIELD (kB, /proc/PID/status) seen
# over the given PIDs in any round.
note_max() {
	local what=$1 impl=$2 field=$3 pid v
	shift 3
	for pid in "$@"; do
		v=$(rss_kb "$pid" "$field")
		[ "${v:-0}" -le "${mem[$what/$impl]:-0}" ] || mem[$what/$impl]=$v
	done
}

# Runs the four tests through one implementation, already up.
measure() {
	local impl=$1 pids t streams rev before after bytes=0 line out
	# shellcheck disable=SC2207
	pids=($("pids_$impl"))
	[ "${#pids[@]}" -eq 2 ] || fail "$impl: expected 2 daemons, found ${#pids[@]}"
	sleep "$idle_wait"
	note_max idle "$impl" VmRSS "${pids[@]}"
	note_max anon_idle "$impl" RssAnon "${pids[@]}"
	before=$(cpu_ticks "${pids[@]}")
	line="round $r: ${label[$impl]}"
	for t in "${tests[@]}"; do
		read -r streams rev <<<"$t"
		# shellcheck disable=SC2086
		out=$(iperf -P "$streams" $rev)
		mbps[$impl/$t]+="${out% *} "
		bytes=$((bytes + ${out#* }))
		line+=" | P$streams${rev:+ -R} ${out% *}"
	done
	after=$(cpu_ticks "${pids[@]}")
	note_max peak "$impl" VmHWM "${pids[@]}"
	note_max anon_load "$impl" RssAnon "${pids[@]}"
	[ "$bytes" -eq 0 ] ||
		cpugb[$impl]+="$(python3 -c "print(f'{($after - $before) / $hz / ($bytes / 1e9):.1f}')") "
	ping_rtts 10.20.0.2 >>"$dir/rtt-$impl"
	echo "$line Mbit/s"
}

for ((r = 1; r <= rounds; r++)); do
	for impl in "${impls[@]}"; do
		"start_$impl"
		wait_for 100 0.2 ns_exec a ping -c1 -W1 10.20.0.2 || fail "$impl tunnel did not come up"
		if [[ $impl == meshgated || $impl == mgoff || $impl == mgalt ]] && [ -z "${shown[$impl]:-}" ]; then
			shown[$impl]=$(mg_cli a a status --json | python3 -c 'import json,sys
print(json.dumps(json.load(sys.stdin)["daemon"]["offloads"]))')
			echo "${label[$impl]}: daemon.offloads ${shown[$impl]}"
		fi
		measure "$impl"
		"stop_$impl"
	done
done

# ---- the table ----
# shellcheck disable=SC2046
base=$(median $(cat "$dir/rtt-bare"))
declare -A med=()
echo
echo "iperf3 TCP, ${seconds}s per test, $rounds alternated rounds, MTU 1280; medians."
echo "a->b is 10.20.0.1 -> 10.20.0.2; -R is the reverse. Bare veth ping RTT: $base ms."
printf '\n| |'
for impl in "${impls[@]}"; do printf ' %s |' "${label[$impl]}"; done
printf '\n| --- |'
for impl in "${impls[@]}"; do printf ' --- |'; done
printf '\n'
for t in "${tests[@]}"; do
	read -r streams rev <<<"$t"
	dirn='a->b'
	[ -z "$rev" ] || dirn='b->a (-R)'
	name="TCP $streams stream$([ "$streams" = 1 ] || echo s) $dirn, Mbit/s"
	for impl in "${impls[@]}"; do
		# shellcheck disable=SC2086
		med[$impl]=$(median ${mbps[$impl/$t]})
	done
	printf '| %s |' "$name"
	for impl in "${impls[@]}"; do
		printf ' %s (%sx) |' "${med[$impl]}" \
			"$(python3 -c "print(f'{${med[$impl]} / max(${med[wggo]}, 1):.2f}')")"
	done
	printf '\n'
done
printf '| daemon CPU seconds per GB moved |'
for impl in "${impls[@]}"; do
	# shellcheck disable=SC2086
	med[$impl]=$(median ${cpugb[$impl]:-})
done
for impl in "${impls[@]}"; do
	printf ' %s (%sx) |' "${med[$impl]}" \
		"$(python3 -c "print(f'{${med[$impl]/n\/a/0} / max(${med[wggo]/n\/a/0}, 0.001):.2f}')")"
done
printf '\n| added ping RTT, ms (median of %s) |' "$((pings * rounds))"
for impl in "${impls[@]}"; do
	# shellcheck disable=SC2046
	printf ' %s |' "$(python3 -c "print(f'{$(median $(cat "$dir/rtt-$impl")) - $base:.3f}')")"
done
printf '\n'
mb_row() {
	printf '| %s |' "$1"
	for impl in "${impls[@]}"; do
		printf ' %s |' "$(python3 -c "print(f'{${mem[$2/$impl]:-0} / 1024:.1f}')")"
	done
	printf '\n'
}
mb_row "idle RSS (VmRSS ${idle_wait}s after start), MB" idle
mb_row "peak RSS (VmHWM), MB" peak
mb_row "anonymous RSS idle, MB" anon_idle
mb_row "anonymous RSS after load, MB" anon_load
echo
echo "Memory is the larger of both ends; the part of RSS that is not anonymous is"
echo "pages of the binary and its shared libraries."
for impl in meshgated mgoff mgalt; do
	[ -z "${shown[$impl]:-}" ] || echo "${label[$impl]}: daemon.offloads ${shown[$impl]}"
done
if [ -n "${shown[meshgated]:-}" ] && [ -n "${shown[mgoff]:-}" ]; then
	printf 'meshgated over meshgated with offloads off:'
	for t in "${tests[@]}"; do
		# shellcheck disable=SC2086
		printf ' P%s %sx' "$t" "$(python3 -c "print(f'{$(median ${mbps[meshgated/$t]}) / max($(median ${mbps[mgoff/$t]}), 1):.2f}')")"
	done
	printf '\n'
fi
pass "benchmark done"
