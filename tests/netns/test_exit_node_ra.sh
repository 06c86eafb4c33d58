#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# An IPv6 exit node whose WAN learns its address and default route from
# router advertisements (SLAAC, as a Proxmox container's usually does): with
# forwarding on, the kernel takes RAs only with accept_ra = 2, so meshgated
# sets it on the WAN (before forwarding, which would drop the RA's default
# route otherwise). The default route outlives the advertised router
# lifetime (12 s) and the exit client reaches an IPv6 internet host through
# home; on stop, and by --cleanup after a SIGKILL, accept_ra is 1 again; an
# admin's accept_ra = 0 is left alone.
#
#  laptop ── veth ── inet ── veth ── home
#
#  laptop  up0   198.51.100.2/24  2001:db8:1::2/64   exit client of home
#  inet    lap0  198.51.100.1/24  2001:db8:1::1/64
#          home0 203.0.113.1/24   2001:db8:2::1/64   radvd: 2001:db8:2::/64,
#                                                    router lifetime 12 s, RA every 3-4 s
#          lo    192.0.2.80/32    2001:db8:80::80/128   (the "internet" host)
#  home    wan0  203.0.113.2/24   2001:db8:2::EUI-64 by SLAAC, IPv6 default
#                                                    route from the RAs only
#          exit node (topology.sh's home; its switch and cafe stay idle)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=topology.sh
. "$(dirname "$(readlink -f "$0")")/topology.sh"

require_root
require_cmd ip ping wg nft radvd python3 timeout
root_state_snapshot

LIFETIME=12
RA=net.ipv6.conf.wan0.accept_ra

ra_default() { # home's IPv6 default route, learned from an RA
	ns_ip home -6 route show default | grep -q 'proto ra'
}

slaac_addr() {
	ns_ip home -6 -o addr show dev wan0 scope global |
		awk '$4 ~ /^2001:db8:2:/ { sub("/.*", "", $4); print $4; exit }'
}

accept_ra_is() {
	[ "$(ns_exec home sysctl -n "$RA")" = "$1" ]
}

# held_for SECONDS: the RA's default route is there at every look, once a
# second, for that long.
held_for() {
	local i
	for ((i = 0; i < $1; i++)); do
		ra_default || { log "no IPv6 default route after ${i} s"; return 1; }
		sleep 1
	done
}

topo_setup
# home's IPv6 on the WAN comes from inet's advertisements only.
ns_ip home -6 route del default via 2001:db8:2::1
ns_ip home addr del 2001:db8:2::2/64 dev wan0
ns_exec home sysctl -qw "$RA=1" net.ipv6.conf.wan0.autoconf=1
cat >"$TOPO_DIR/radvd.conf" <<CONF
interface home0 {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 4;
	AdvDefaultLifetime $LIFETIME;
	prefix 2001:db8:2::/64 { AdvOnLink on; AdvAutonomous on; };
};
CONF
ns_bg inet radvd -n -m stderr -C "$TOPO_DIR/radvd.conf" -p "$TOPO_DIR/radvd.pid" \
	>>"$TOPO_DIR/radvd.log" 2>&1
check "home learns its IPv6 default route from inet's RAs" wait_for 50 0.2 ra_default
check "and a SLAAC address" wait_for 50 0.2 test -n "$(slaac_addr)"
WAN6=$(slaac_addr)
log "home's WAN address: $WAN6"

topo_home_conf
topo_laptop_conf
topo_whoami_start inet 192.0.2.80 2001:db8:80::80
topo_start home
topo_start laptop

check "home forwards IPv6" wait_for 50 0.1 output_is 1 ns_exec home sysctl -n net.ipv6.conf.all.forwarding
check "with accept_ra 2 on its WAN" accept_ra_is 2
check "preflight says why" \
	grep -q "accept_ra 2 on the WAN" <<<"$(mg_preflight home home forwarding message)"
check "the RA's default route outlives its ${LIFETIME} s lifetime under forwarding" \
	held_for $((LIFETIME + 6))
check "laptop reaches the IPv6 internet host through home, seen as home's SLAAC address" \
	wait_for 25 0.2 sees laptop "$WAN6" 2001:db8:80::80

mg_stop home
check "stopped: accept_ra is 1 again" accept_ra_is 1

topo_start home
check "restarted: accept_ra 2" wait_for 50 0.1 accept_ra_is 2
mg_stop home KILL
check "SIGKILLed: still 2" accept_ra_is 2
check "meshgated --cleanup" ns_exec home "$MESHGATED" --cleanup -c "${TOPO_CONF[home]}"
check "puts accept_ra back to 1" accept_ra_is 1

ns_exec home sysctl -qw "$RA=0"
topo_start home
check "an admin's accept_ra 0 stays 0" \
	not wait_for 10 0.2 not accept_ra_is 0
mg_stop home
check "and 0 after the stop" accept_ra_is 0

pass
