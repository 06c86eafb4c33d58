#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The hub's side of stock WireGuard devices: what home forwards for the
# devices it holds, and what it does not. home (coordinator, approved exit
# node and subnet router) registers phone (exit allowed) and tablet (not)
# through its control socket; both run only the stock client (wg-quick,
# wireguard-go underneath) with AllowedIPs 0.0.0.0/0, ::/0 (a device's
# user may write anything there). home's owned table holds their addresses
# (dev4/dev6), phone's in devexit4/devexit6, and home holds both as
# engine peers. Both reach home, laptop (and back) and the switch on
# home's LAN; phone reaches the internet host through home's exit, tablet
# does not. laptop and nas, two members, cannot use home as a transit
# between themselves even when they route each other's address to it,
# while tablet reaches nas through it. Removing tablet cuts it off within
# seconds (its engine peer and set entries go) while phone keeps its
# session.
#
#  phone  ── pho0 ┐
#  tablet ── tab0 ┤
#  laptop ── lap0 ┼ inet ── home0 ── home ── lan0 ── switch
#  nas    ── nas0 ┘
#
#  phone   up0  198.51.101.2/24   wg-quick mgp<pid> (exit allowed)
#  tablet  up0  198.51.102.2/24   wg-quick mgt<pid> (no exit)
#  laptop  up0  198.51.100.2/24   meshgated, member
#  nas     up0  198.51.103.2/24   meshgated, member
#  inet    lap0 .100.1  pho0 .101.1  tab0 .102.1  nas0 .103.1  home0 203.0.113.1/24
#          lo   192.0.2.80/32      the "internet" host
#  home    wan0 203.0.113.2/24    coordinator (100.64.0.0/10, fd7a:6d67:7465::/48),
#          lan0 192.168.77.1/24   exit node, subnet router for 192.168.77.0/24
#                                 (snat), both auto-approved
#  switch  eth0 192.168.77.2/24   no VPN software; default via home
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping wg wg-quick wireguard-go nft python3 timeout
root_state_snapshot

setup() {
	ns_create phone tablet laptop nas inet home switch
	mesh_forwarding inet
	mesh_uplink laptop up0 inet lap0 198.51.100
	mesh_uplink phone up0 inet pho0 198.51.101
	mesh_uplink tablet up0 inet tab0 198.51.102
	mesh_uplink nas up0 inet nas0 198.51.103
	mesh_uplink home wan0 inet home0 203.0.113
	mesh_uplink switch eth0 home lan0 192.168.77
	ns_ip inet addr add 192.0.2.80/32 dev lo
}

HOME_IF=mghome$MG_PID # mesh_conf's interface names
LAPTOP_IF=mgltop$MG_PID
NAS_IF=mgnnas$MG_PID

# device_add NAME EXIT(true|false) PUBKEY: registers NAME on home, its hub.
device_add() {
	mesh_ctl home "{\"cmd\": \"device_add\", \"name\": \"$1\", \"public_key\": \"$3\", \"exit\": $2}"
}

# device_up NS IFNAME PRIVKEY ANSWER: the stock client in NS with the
# address and hub of the answer, claiming the whole internet.
device_up() {
	local conf=$MESH_DIR/$2.conf
	cat >"$conf" <<CONF
[Interface]
PrivateKey = $3
Address = $(mesh_json "$4" '", ".join(d["result"]["device"]["addresses"])')
MTU = 1280

[Peer]
PublicKey = $(mesh_json "$4" 'd["result"]["config"]["hub_public_key"]')
Endpoint = 203.0.113.2:41641
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 25
CONF
	chmod 600 "$conf"
	MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/$2.sock")
	ns_exec "$1" wg-quick up "$conf" >>"$MESH_DIR/wg-quick.log" 2>&1
}

# home_table: home's owned nftables table.
home_table() {
	ns_exec home nft list table inet meshgate
}

# in_set SET ADDR: ADDR is an element of SET in home's table.
in_set() {
	ns_exec home nft get element inet meshgate "$1" "{ $2 }" >/dev/null 2>&1
}

# home_peer_ips KEY: the allowed IPs home's engine holds for KEY.
home_peer_ips() {
	ns_exec home wg show "$HOME_IF" allowed-ips | awk -v k="$1" '$1 == k { $1 = ""; print }'
}

home_handshake() { # KEY
	ns_exec home wg show "$HOME_IF" latest-handshakes | awk -v k="$1" '$1 == k { print $2 }'
}

home_has_peer() { # KEY
	ns_exec home wg show "$HOME_IF" peers | grep -qxF "$1"
}

# via_home NS IF ADDR: NS's engine sends ADDR to home (UAPI `wg set`, as
# a member could), keeping home's own allowed IPs.
via_home() {
	local ips
	ips=$(ns_exec "$1" wg show "$2" allowed-ips |
		awk -v k="$HOME_PUB" '$1 == k { $1 = ""; print }' | tr -s ' ' ',' | sed 's/^,//')
	ns_exec "$1" wg set "$2" peer "$HOME_PUB" allowed-ips "$ips,$3/32"
}

setup
mesh_conf_coordinator home 'auto_approve = { routes = ["192.168.77.0/24"]; exit_node = true; };' \
	'subnet_router = { routes = ["192.168.77.0/24"]; };
exit_node = { enabled = true; wan_interface = "wan0"; };'
mesh_conf laptop ''
mesh_conf nas ''
mesh_start home
mesh_start laptop
mesh_start nas
check "laptop joins" mesh_join laptop
check "nas joins" mesh_join nas
LAPTOP=$(mesh_addr laptop)
NAS=$(mesh_addr nas)
log "laptop $LAPTOP, nas $NAS"

phone_priv=$(wg genkey)
phone_pub=$(echo "$phone_priv" | wg pubkey)
tablet_priv=$(wg genkey)
tablet_pub=$(echo "$tablet_priv" | wg pubkey)
phone_ans=$(device_add phone true "$phone_pub")
tablet_ans=$(device_add tablet false "$tablet_pub")
log "phone: $phone_ans"
check "phone is added with the exit" \
	[ "$(mesh_json "$phone_ans" 'd["result"]["device"]["exit_node"]')" = True ]
check "tablet is added" [ "$(mesh_json "$tablet_ans" 'd["result"]["state"]')" = "done" ]
HOME_PUB=$(mesh_json "$phone_ans" 'd["result"]["config"]["hub_public_key"]')
PHONE=$(mesh_json "$phone_ans" 'd["result"]["device"]["addresses"][0].split("/")[0]')
PHONE6=$(mesh_json "$phone_ans" 'd["result"]["device"]["addresses"][1].split("/")[0]')
TABLET=$(mesh_json "$tablet_ans" 'd["result"]["device"]["addresses"][0].split("/")[0]')
log "phone $PHONE $PHONE6, tablet $TABLET"

# ---- home's kernel and engine state ----
table_has_devices() {
	in_set dev4 "$PHONE" && in_set dev4 "$TABLET" && in_set dev6 "$PHONE6"
}
check "home's table holds both devices (dev4, dev6)" wait_for 50 0.2 table_has_devices
table=$(home_table)
check "phone may use the exit (devexit4, devexit6)" \
	eval 'in_set devexit4 "$PHONE" && in_set devexit6 "$PHONE6"'
check "tablet may not" not in_set devexit4 "$TABLET"
check "devices reach through the TUN only the mesh" \
	grep -qF "ip saddr @dev4 ip daddr @meshnet4 accept" <<<"$table"
check "devices without the exit go no further" grep -qF "ip saddr @dev4 drop" <<<"$table"
check "home forwards IPv4 and IPv6" \
	[ "$(ns_exec home cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding |
		tr -d '\n')" = 11 ]
check "tablet is an engine peer of home with its addresses" \
	[ "$(home_peer_ips "$tablet_pub" | tr ' ' '\n' | sort | tr -s '\n' ' ' | sed 's/^ //')" = \
		"$(mesh_json "$tablet_ans" '" ".join(sorted(d["result"]["device"]["addresses"]))') " ]

# ---- traffic ----
check "phone: wg-quick up" device_up phone "mgp$MG_PID" "$phone_priv" "$phone_ans"
check "tablet: wg-quick up" device_up tablet "mgt$MG_PID" "$tablet_priv" "$tablet_ans"
check "phone reaches home" wait_for 20 0.5 mesh_ping phone 100.64.0.1
check "phone reaches home over IPv6" \
	wait_for 10 0.5 ns_exec phone ping -6 -c 1 -W 2 fd7a:6d67:7465::1
check "phone reaches laptop through home" wait_for 10 0.5 mesh_ping phone "$LAPTOP"
check "laptop reaches phone through home" wait_for 10 0.5 mesh_ping laptop "$PHONE"
check "laptop reaches phone over IPv6" \
	wait_for 10 0.5 ns_exec laptop ping -6 -c 1 -W 2 "$PHONE6"
check "tablet reaches laptop" wait_for 20 0.5 mesh_ping tablet "$LAPTOP"
check "tablet reaches the switch on home's LAN" wait_for 10 0.5 mesh_ping tablet 192.168.77.2
check "phone reaches the internet host through home's exit" \
	wait_for 10 0.5 mesh_ping phone 192.0.2.80
check "tablet, without the exit, does not" not mesh_ping tablet 192.0.2.80
check "tablet reaches nas through home" wait_for 10 0.5 mesh_ping tablet "$NAS"

# Two members routing each other through home: home is no transit.
check "laptop reaches nas directly" wait_for 10 0.5 mesh_ping laptop "$NAS"
via_home laptop "$LAPTOP_IF" "$NAS"
via_home nas "$NAS_IF" "$LAPTOP"
check "laptop does not reach nas through home" not mesh_ping laptop "$NAS"
check "nor nas laptop" not mesh_ping nas "$LAPTOP"

# ---- removal ----
phone_hs=$(home_handshake "$phone_pub")
ans=$(mesh_ctl home '{"cmd": "device_remove", "name": "tablet"}')
check "tablet is removed" [ "$(mesh_json "$ans" 'd["result"]["removed"]')" = tablet ]
check "home drops tablet's engine peer at once" wait_for 20 0.1 not home_has_peer "$tablet_pub"
check "and its address from dev4" not in_set dev4 "$TABLET"
check "phone's stays" in_set dev4 "$PHONE"
check "tablet is cut off" not mesh_ping tablet "$LAPTOP"
check "phone still reaches laptop" mesh_ping phone "$LAPTOP"
check "on the session it had" [ "$(home_handshake "$phone_pub")" = "$phone_hs" ]

pass
