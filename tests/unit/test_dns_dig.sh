#!/bin/sh
# The resolver's local answers as a real client reads them: dig (dnsutils)
# against dns_answer_local() behind a loopback port (dns_loopback, UDP and
# TCP on 127.0.0.1 only, no daemon): A, AAAA, PTR, NXDOMAIN with the SOA, a
# static record, the mesh's reverse space answered here (partial and
# unknown reverse names, a reverse apex's SOA; a forwarded query would get
# no answer from dns_loopback), and an answer too big for 512 bytes that dig
# gets with TC over UDP and then whole over TCP.
# Usage: test_dns_dig.sh DNS_LOOPBACK      (exit 77: skipped)
set -eu

serve=$1
if ! command -v dig >/dev/null 2>&1; then
	echo "SKIP: dig is not installed (dnsutils; packaging/install-deps.sh)"
	exit 77
fi
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

"$serve" >"$work/port" &
pid=$!
i=0
while [ ! -s "$work/port" ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
port=$(cat "$work/port")
[ -n "$port" ] || { echo "FAIL: dns_loopback printed no port"; exit 1; }

q() { dig @127.0.0.1 -p "$port" +time=3 +tries=2 "$@"; }

expect() {
	want=$1
	shift
	got=$(q +short "$@" | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || bad "dig $*: '$got', want '$want'"
	echo "dig +short $*: $got"
}

expect 100.64.0.1 home.mesh.internal A
expect fd7a:6d67:7465::2 LAPTOP.mesh.internal AAAA
expect laptop.mesh.internal. -x 100.64.0.2
expect home.mesh.internal. -x fd7a:6d67:7465::1
expect 192.168.77.2 switch.mesh.internal A
expect 100.100.100.100 mesh.internal A

out=$(q nobody.mesh.internal A)
echo "$out" | grep -q 'status: NXDOMAIN' || bad "nobody.mesh.internal: no NXDOMAIN: $out"
echo "$out" | grep -q 'flags: qr aa rd ra' || bad "nobody.mesh.internal: flags: $out"
echo "$out" | grep -q 'SOA.*mesh.internal\. hostmaster\.mesh\.internal\. 1 3600 600 86400 60' ||
	bad "nobody.mesh.internal: no SOA in authority: $out"

# The mesh's reverse space: status and the reverse zone's SOA.
reverse() {
	name=$1 type=$2 status=$3 apex=$4
	out=$(q "$name" "$type")
	echo "$out" | grep -q "status: $status" || bad "$name $type: no $status: $out"
	echo "$out" | grep -q "flags: qr aa rd ra" || bad "$name $type: flags: $out"
	echo "$out" | grep -Eq "^${apex}[[:space:]]+60[[:space:]]+IN[[:space:]]+SOA[[:space:]]+mesh\.internal\." ||
		bad "$name $type: no SOA of $apex: $out"
	echo "dig $name $type: $status, SOA of $apex"
}
reverse 64.100.in-addr.arpa PTR NOERROR 64.100.in-addr.arpa.
reverse 0.64.100.in-addr.arpa PTR NOERROR 64.100.in-addr.arpa.
reverse 7.64.100.in-addr.arpa PTR NXDOMAIN 64.100.in-addr.arpa.
reverse 9.9.64.100.in-addr.arpa PTR NXDOMAIN 64.100.in-addr.arpa.
reverse 101.100.in-addr.arpa SOA NOERROR 101.100.in-addr.arpa.
reverse 5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa PTR NOERROR 5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa.
reverse 9.0.5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa PTR NXDOMAIN 5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa.

# 32 AAAA records: over UDP without EDNS the answer is truncated...
out=$(q +noedns +ignore big.mesh.internal AAAA)
echo "$out" | grep -q 'flags: qr aa tc rd ra' || bad "big over UDP: not truncated: $out"
echo "$out" | grep -q 'ANSWER: 0' || bad "big over UDP: answers in a truncated reply: $out"
# ... and dig, retrying over TCP, gets all 32.
n=$(q +noedns +short big.mesh.internal AAAA | wc -l)
[ "$n" -eq 32 ] || bad "big: $n addresses after the TCP retry, want 32"
echo "big.mesh.internal AAAA without EDNS: TC over UDP, $n addresses over TCP"
n=$(q +short big.mesh.internal AAAA | wc -l)
[ "$n" -eq 32 ] || bad "big with EDNS (1232): $n addresses, want 32"

[ "$fail" -eq 0 ] && echo "PASS"
exit "$fail"
