#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Throughput, latency and memory of meshgated against Debian's wireguard-go,
# measured in the same run on the same topology, alternating between the two.
#
#   a                                            b
#   tun 10.20.0.1/24 ── veth 192.0.2.1/24 ──── veth 192.0.2.2/24 ── tun 10.20.0.2/24
#   (meshgated or wireguard-go)                (the same implementation)
#
# Usage: tests/bench/throughput.sh [BUILD_DIR] [ROUNDS] [SECONDS]
# Prints iperf3 TCP throughput (a -> b) for each implementation and round, the
# medians, their ratio, the latency ping adds through each tunnel, and
# meshgated's idle and peak resident memory. Run as root. Figures, not
# assertions: the machine is shared and noisy.
set -eu
here=$(dirname "$(readlink -f "$0")")
build=$(readlink -f "${1:-$here/../../build}")
rounds=${2:-3}
seconds=${3:-10}
export MESHGATED=$build/meshgated MESHGATE=$build/meshgate
# shellcheck source=../netns/lib.sh
. "$here/../netns/lib.sh"
# shellcheck source=../netns/meshgate.sh
. "$here/../netns/meshgate.sh"

require_root
require_cmd ip ping wg wireguard-go iperf3 python3
[ -x "$MESHGATED" ] || fail "no meshgated in $build (build it first)"
root_state_snapshot
dir=$(mg_workdir)

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

ns_bg b iperf3 -s >"$dir/iperf3.log" 2>&1

# ---- one implementation at a time; both ends run the same one ----
start_meshgated() {
	mg_config "$dir/a.conf" mga$MG_PID 51820 "$dir/a.key" '"10.20.0.1/24"' \
		"{ name = \"b\"; public_key = \"$pub_b\"; endpoint = \"192.0.2.2:51820\";
		   allowed_ips = [\"10.20.0.2/32\"]; }"
	mg_config "$dir/b.conf" mgb$MG_PID 51820 "$dir/b.key" '"10.20.0.2/24"' \
		"{ name = \"a\"; public_key = \"$pub_a\"; endpoint = \"192.0.2.1:51820\";
		   allowed_ips = [\"10.20.0.1/32\"]; }"
	mg_start a a "$dir/a.conf"
	mg_start b b "$dir/b.conf"
}

stop_meshgated() {
	mg_stop a
	mg_stop b
}

start_wggo() {
	local ns peer_pub key addr peer_addr
	for ns in a b; do
		if [ $ns = a ]; then
			key=$dir/a.key peer_pub=$pub_b addr=10.20.0.1 peer_addr=192.0.2.2
		else
			key=$dir/b.key peer_pub=$pub_a addr=10.20.0.2 peer_addr=192.0.2.1
		fi
		wggo_start $ns wg$ns$MG_PID
		ns_exec $ns wg set wg$ns$MG_PID private-key "$key" listen-port 51820 \
			peer "$peer_pub" endpoint "$peer_addr:51820" allowed-ips "${addr%.*}.0/24"
		ns_ip $ns addr add "$addr/24" dev wg$ns$MG_PID
		ns_ip $ns link set wg$ns$MG_PID mtu 1280 up
	done
	# Fix the peers' allowed IPs to the single remote address.
	ns_exec a wg set wga$MG_PID peer "$pub_b" allowed-ips 10.20.0.2/32
	ns_exec b wg set wgb$MG_PID peer "$pub_a" allowed-ips 10.20.0.1/32
}

stop_wggo() {
	local pid
	for pid in $(pgrep -f "wireguard-go wg[ab]$MG_PID"); do
		kill "$pid"
		wait_for 50 0.1 not kill -0 "$pid" || true
	done
}

tcp_mbps() {
	ns_exec a iperf3 -c 10.20.0.2 -t "$seconds" -J >"$dir/run.json" 2>&1 || return 1
	python3 -c "import json; d=json.load(open('$dir/run.json')); print(round(d['end']['sum_received']['bits_per_second']/1e6))"
}

ping_avg_ms() {
	ns_exec a ping -q -c 50 -i 0.02 "$1" | sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p'
}

rss_kb() {
	sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"
}

median() {
	printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

base_ms=$(ping_avg_ms 192.0.2.2)
mg=() wggo=()
for ((r = 1; r <= rounds; r++)); do
	start_meshgated
	wait_for 50 0.2 ns_exec a ping -c1 -W1 10.20.0.2 || fail "meshgated tunnel did not come up"
	idle_rss=$(rss_kb "$(pgrep -f "meshgated -f -c $dir/a.conf" | head -1)" VmRSS)
	mg+=("$(tcp_mbps)")
	mg_ms=$(ping_avg_ms 10.20.0.2)
	peak_rss=$(rss_kb "$(pgrep -f "meshgated -f -c $dir/a.conf" | head -1)" VmHWM)
	stop_meshgated

	start_wggo
	wait_for 50 0.2 ns_exec a ping -c1 -W1 10.20.0.2 || fail "wireguard-go tunnel did not come up"
	wggo+=("$(tcp_mbps)")
	wggo_ms=$(ping_avg_ms 10.20.0.2)
	stop_wggo
	echo "round $r: meshgated ${mg[-1]} Mbit/s, wireguard-go ${wggo[-1]} Mbit/s"
done

mg_med=$(median "${mg[@]}")
wggo_med=$(median "${wggo[@]}")
echo
echo "iperf3 TCP a->b, ${seconds}s x $rounds rounds, MTU 1280, medians:"
echo "  meshgated     $mg_med Mbit/s"
echo "  wireguard-go  $wggo_med Mbit/s"
echo "  ratio         $(python3 -c "print(f'{$mg_med / max($wggo_med, 1):.2f}')")x"
echo "ping RTT (avg of 50): direct ${base_ms} ms, meshgated ${mg_ms} ms," \
	"wireguard-go ${wggo_ms} ms"
echo "  added by meshgated: $(python3 -c "print(f'{$mg_ms - $base_ms:.3f}')") ms," \
	"by wireguard-go: $(python3 -c "print(f'{$wggo_ms - $base_ms:.3f}')") ms"
echo "meshgated RSS: idle ${idle_rss} kB, peak ${peak_rss} kB"
pass "benchmark done"
