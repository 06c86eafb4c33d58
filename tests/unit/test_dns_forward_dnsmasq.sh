#!/bin/sh
# The forwarder against a real resolver: dnsmasq (dnsmasq-base) on
# 127.0.0.2:53 in a private network namespace of this test (loopback only),
# asked through dns_forward_probe: an A answer relayed with the client's ID
# and then served from the cache (dnsmasq sees the name once), NXDOMAIN for
# a name of its local domain, and TXT records too big for UDP that dnsmasq
# truncates, asked again over TCP and given whole to a TCP client.
# Usage: test_dns_forward_dnsmasq.sh DNS_FORWARD_PROBE      (exit 77: skipped)
set -eu

probe=$1
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (a private network namespace)"
	exit 77
fi
if ! command -v dnsmasq >/dev/null 2>&1; then
	echo "SKIP: dnsmasq is not installed (dnsmasq-base; packaging/install-deps.sh)"
	exit 77
fi
if [ -z "${MG_DNS_NETNS:-}" ]; then
	MG_DNS_NETNS=1 exec unshare --net "$0" "$@"
fi
ip link set lo up

work=$(mktemp -d)
pid=
# shellcheck disable=SC2317 # called through the trap
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

long=$(printf 'x%.0s' $(seq 1 200))
{
	echo "no-resolv"
	echo "no-hosts"
	echo "listen-address=127.0.0.2"
	echo "bind-interfaces"
	echo "port=53"
	echo "user=root"
	echo "local-ttl=60"
	echo "local=/test/"
	echo "address=/fixed.test/192.0.2.7"
	echo "log-queries"
	echo "log-facility=$work/dnsmasq.log"
	for i in $(seq 1 20); do
		echo "txt-record=big.test,$i$long"
	done
} >"$work/dnsmasq.conf"
dnsmasq --keep-in-foreground --conf-file="$work/dnsmasq.conf" --pid-file="$work/pid" &
pid=$!
i=0
until grep -q 'started' "$work/dnsmasq.log" 2>/dev/null || [ "$i" -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done

out=$("$probe" 127.0.0.2:53 fixed.test A fixed.test A nobody.test A)
echo "$out" | grep -c 'fixed\.test\.[[:space:]].*IN[[:space:]]*A[[:space:]]*192\.0\.2\.7' |
	grep -qx 2 || bad "fixed.test A twice: $out"
echo "$out" | grep -q 'id: 28007' || bad "the client's ID (0x6d67) is not back: $out"
echo "$out" | grep -q 'rcode: NXDOMAIN' || bad "nobody.test: no NXDOMAIN: $out"
echo "$out" | grep -q 'stats: forwarded=2 hits=1 misses=2 tcp_fallbacks=0 timeouts=0' ||
	bad "counters: $out"
n=$(grep -c 'query\[A\] fixed\.test from 127\.0\.0\.1' "$work/dnsmasq.log" || true)
[ "$n" = 1 ] || bad "dnsmasq saw fixed.test $n times, want 1 (the second from the cache)"
echo "$out" | grep -E 'stats|rcode'

out=$("$probe" 127.0.0.2:53 --tcp big.test TXT)
n=$(echo "$out" | grep -Ec '^big\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+TXT' || true)
[ "$n" = 20 ] || bad "big.test TXT over TCP: $n records, want 20: $out"
echo "$out" | grep -q 'tcp_fallbacks=1' || bad "no TCP fallback: $out"
echo "$out" | grep -q 'flags: qr' && echo "$out" | grep 'flags:' | grep -q ' tc' &&
	bad "TC reached a TCP client: $out"
echo "$out" | grep -E '^;; [0-9]+ bytes|stats'

out=$("$probe" 127.0.0.2:53 big.test TXT)
echo "$out" | grep 'flags:' | grep -q ' tc' || bad "a UDP client got no TC: $out"
echo "$out" | grep -E '^;; [0-9]+ bytes|stats'

[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
