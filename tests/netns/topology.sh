# shellcheck shell=bash
# The reference topology of the subnet-router and exit-node scenarios, on top
# of lib.sh and meshgate.sh:
#
#  cafe ── laptop ── veth ── inet ── veth ── home ── veth ── switch
#
#  cafe    eth0  192.168.88.2/24                  (a LAN host on laptop's side)
#  laptop  lan0  192.168.88.1/24
#          up0   198.51.100.2/24  2001:db8:1::2/64   default via inet
#          TUN   100.64.0.2/24    fd7a:6d67:7465::2/64   meshgated, UDP 41641
#  inet    lap0  198.51.100.1/24  2001:db8:1::1/64   forwards both families
#          home0 203.0.113.1/24   2001:db8:2::1/64
#                10.200.0.1/24                       (private, never advertised)
#          lo    192.0.2.80/32    2001:db8:80::80/128    (the "internet" host)
#  home    wan0  203.0.113.2/24   2001:db8:2::2/64   default via inet
#                10.200.0.2/24
#          lan0  192.168.77.1/24  fd77::1/64
#                192.168.79.1/24                     (a LAN served on reload)
#          TUN   100.64.0.1/24    fd7a:6d67:7465::1/64   meshgated, UDP 41641:
#                subnet router for 192.168.77.0/24, fd77::/64, and exit node
#  switch  eth0  192.168.77.2/24  fd77::2/64         no VPN software, no route
#                192.168.79.2/24                     back to the mesh
#
# laptop and home run with strict reverse-path filtering (rp_filter = 1).
#
#   topo_setup                  namespaces, links, addresses, routes, keys
#   topo_home_conf [VAR=VAL...] write home's config; SNAT, ALLOW_PRIVATE,
#                               ROUTES (libconfig list items) override
#   topo_laptop_conf [VAR=VAL...] write laptop's config; LAN_ACCESS overrides
#   topo_start NAME             start meshgated in NAME (home, laptop)
#   topo_reload NAME            SIGHUP, wait for the reload to be logged
#   topo_handshake              laptop's latest handshake with home (unix s)
#   topo_whoami_start NS ADDR.. whoami (TCP+UDP port 7777) on those addresses
#   whoami NS [--udp] ADDR      the source address ADDR saw (port 7777)
#   rawtcp NS SRC DST           one SYN|FIN segment (conntrack: invalid) to DST port 7777
#   ns_state NS                 what meshgated may change in NS and must restore
#   ns_state_save NS / ns_state_same NS
#   capture_start NS NAME IF FILTER / capture_stop NAME / capture_count NAME [FILTER]
#   dnsmasq_start NS NAME LISTEN ARGS...  a resolver knowing only ARGS' names;
#                               its queries are logged to NAME.dnsmasq.log

TOPO_DIR=$(mg_workdir)
TOPO_LIB=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
TUN_HOME=mgh$MG_PID
TUN_LAPTOP=mgl$MG_PID
WHOAMI_PORT=7777
declare -A TOPO_CONF=([home]="$TOPO_DIR/home.conf" [laptop]="$TOPO_DIR/laptop.conf")
declare -A TOPO_RELOADS=([home]=0 [laptop]=0)
declare -A CAPTURE_PID=()

# A SIGKILLed daemon leaves its UAPI socket behind: never leave it to the host.
MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/$TUN_HOME.sock /var/run/wireguard/$TUN_LAPTOP.sock")

_topo_addr() { # NS DEV ADDR...
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		case $a in
		*:*) ns_ip "$ns" addr add "$a" dev "$dev" nodad ;;
		*) ns_ip "$ns" addr add "$a" dev "$dev" ;;
		esac
	done
}

topo_setup() {
	local ns
	ns_create laptop inet home switch cafe
	for ns in laptop inet home switch cafe; do
		ns_exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
	for ns in laptop home; do
		ns_exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=1 \
			net.ipv4.conf.default.rp_filter=1
	done
	ns_exec inet sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

	veth_pair cafe eth0 laptop lan0
	veth_pair laptop up0 inet lap0
	veth_pair inet home0 home wan0
	veth_pair home lan0 switch eth0

	_topo_addr cafe eth0 192.168.88.2/24
	_topo_addr laptop lan0 192.168.88.1/24
	_topo_addr laptop up0 198.51.100.2/24 2001:db8:1::2/64
	_topo_addr inet lap0 198.51.100.1/24 2001:db8:1::1/64
	_topo_addr inet home0 203.0.113.1/24 10.200.0.1/24 2001:db8:2::1/64
	_topo_addr inet lo 192.0.2.80/32 2001:db8:80::80/128
	_topo_addr home wan0 203.0.113.2/24 10.200.0.2/24 2001:db8:2::2/64
	_topo_addr home lan0 192.168.77.1/24 192.168.79.1/24 fd77::1/64
	_topo_addr switch eth0 192.168.77.2/24 192.168.79.2/24 fd77::2/64
	ns_ip laptop route add default via 198.51.100.1
	ns_ip laptop -6 route add default via 2001:db8:1::1
	ns_ip home route add default via 203.0.113.1
	ns_ip home -6 route add default via 2001:db8:2::1

	(umask 077 && mg_genkey >"$TOPO_DIR/home.key" && mg_genkey >"$TOPO_DIR/laptop.key")
	PUB_HOME=$(mg_pubkey "$(cat "$TOPO_DIR/home.key")")
	PUB_LAPTOP=$(mg_pubkey "$(cat "$TOPO_DIR/laptop.key")")
}

topo_home_conf() {
	local SNAT=true ALLOW_PRIVATE=false ROUTES='"192.168.77.0/24", "fd77::/64"'
	[ $# -eq 0 ] || local "$@"
	local f=${TOPO_CONF[home]}
	mg_config "$f" "$TUN_HOME" 41641 "$TOPO_DIR/home.key" \
		'"100.64.0.1/24", "fd7a:6d67:7465::1/64"' \
		"{ name = \"laptop\"; public_key = \"$PUB_LAPTOP\";
		   allowed_ips = [\"100.64.0.2/32\", \"fd7a:6d67:7465::2/128\"]; }"
	cat >>"$f" <<CONF
subnet_router = { routes = [ $ROUTES ]; snat = $SNAT; };
exit_node = { enabled = true; allow_private = $ALLOW_PRIVATE; };
CONF
}

topo_laptop_conf() {
	local LAN_ACCESS=true
	[ $# -eq 0 ] || local "$@"
	local f=${TOPO_CONF[laptop]}
	mg_config "$f" "$TUN_LAPTOP" 41641 "$TOPO_DIR/laptop.key" \
		'"100.64.0.2/24", "fd7a:6d67:7465::2/64"' \
		"{ name = \"home\"; public_key = \"$PUB_HOME\"; endpoint = \"203.0.113.2:41641\";
		   allowed_ips = [\"100.64.0.1/32\", \"fd7a:6d67:7465::1/128\",
		                  \"192.168.77.0/24\", \"fd77::/64\", \"0.0.0.0/0\", \"::/0\"]; }"
	cat >>"$f" <<CONF
accept_routes = true;
use_exit_node = { peer = "home"; allow_lan_access = $LAN_ACCESS; };
CONF
}

topo_start() {
	mg_start "$1" "$1" "${TOPO_CONF[$1]}"
	TOPO_RELOADS[$1]=0
}

topo_reload() {
	local name=$1 want
	want=$((TOPO_RELOADS[$name] + 1))
	kill -HUP "$(mg_pid "$name")"
	wait_for 50 0.1 _topo_reloaded "$name" "$want" || return 1
	TOPO_RELOADS[$name]=$want
}

_topo_reloaded() {
	[ "$(grep -c 'configuration reloaded' "$TOPO_DIR/$1.log")" -ge "$2" ]
}

topo_handshake() {
	ns_exec laptop wg show "$TUN_LAPTOP" latest-handshakes |
		awk -v k="$PUB_HOME" '$1 == k { print $2 }'
}

topo_whoami_start() {
	local ns=$1
	shift
	ns_bg "$ns" python3 "$TOPO_LIB/whoami.py" serve "$WHOAMI_PORT" "$@" --lifetime 600 \
		>>"$TOPO_DIR/whoami-$ns.log" 2>&1
}

# whoami NS [--udp] ADDR: prints what ADDR's whoami saw as the source.
whoami() {
	local ns=$1
	shift
	ns_exec "$ns" python3 "$TOPO_LIB/whoami.py" ask "$@" "$WHOAMI_PORT" --timeout 3
}

# sees NS WANT [--udp] ADDR: ADDR's whoami saw exactly WANT.
sees() {
	local ns=$1 want=$2 got
	shift 2
	got=$(whoami "$ns" "$@" 2>/dev/null) || return 1
	[ "$got" = "$want" ] || { log "whoami $*: saw $got, expected $want"; return 1; }
}

rawtcp() {
	ns_exec "$1" python3 "$TOPO_LIB/rawtcp.py" "$2" "$3" "$WHOAMI_PORT"
}

ns_state() {
	local ns=$1 fam
	ns_exec "$ns" nft list ruleset
	for fam in -4 -6; do
		ns_ip "$ns" "$fam" rule
		ns_ip "$ns" "$fam" route show table all
		ns_ip "$ns" -o "$fam" addr
	done
	ns_exec "$ns" sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding \
		net.ipv4.conf.all.src_valid_mark net.ipv4.conf.all.rp_filter
	ns_ip "$ns" -o link
}

ns_state_save() {
	ns_state "$1" >"$TOPO_DIR/state-$1.before" 2>&1
}

ns_state_same() {
	ns_state "$1" >"$TOPO_DIR/state-$1.now" 2>&1
	diff -u "$TOPO_DIR/state-$1.before" "$TOPO_DIR/state-$1.now" >&2
}

dnsmasq_start() {
	local ns=$1 name=$2 listen=$3
	shift 3
	ns_bg "$ns" dnsmasq --no-daemon --no-resolv --no-hosts --user=root \
		--log-queries --log-facility="$TOPO_DIR/$name.dnsmasq.log" \
		--listen-address="$listen" --bind-interfaces \
		--pid-file="$TOPO_DIR/$name.dnsmasq.pid" "$@" >"$TOPO_DIR/$name.dnsmasq.out" 2>&1
	wait_for 50 0.1 grep -q "started" "$TOPO_DIR/$name.dnsmasq.log" ||
		fail "dnsmasq $name did not start"
}

# capture_start NS NAME IFACE FILTER: tcpdump into NAME.pcap (at most 10
# minutes, 10000 packets), ready when it returns.
capture_start() {
	local ns=$1 name=$2 iface=$3 filter=$4 f
	f=$TOPO_DIR/$name.pcap
	ns_bg "$ns" timeout 600 tcpdump -i "$iface" -n -U --immediate-mode -c 10000 -w "$f" "$filter" \
		>"$TOPO_DIR/$name.tcpdump.log" 2>&1
	CAPTURE_PID[$name]=${MG_PIDS[-1]}
	wait_for 50 0.1 grep -q "listening on" "$TOPO_DIR/$name.tcpdump.log" ||
		fail "tcpdump $name did not start"
}

capture_stop() {
	local pid=${CAPTURE_PID[$1]}
	kill -INT "$pid" 2>/dev/null || return 0
	wait_for 50 0.1 not kill -0 "$pid"
	wait "$pid" 2>/dev/null || true
}

# capture_print NAME [FILTER]: the packets captured so far, as text.
capture_print() {
	local f=$TOPO_DIR/$1.pcap
	shift
	tcpdump -r "$f" -n -v "$@" 2>/dev/null
}

capture_count() {
	tcpdump -r "$TOPO_DIR/$1.pcap" -n "${@:2}" 2>/dev/null | wc -l
}

# syn_mss NAME FLAGS FAMILY: the MSS option of the first packet captured in
# NAME with tcpdump's Flags [FLAGS] ("S" for a SYN, "S." for a SYN-ACK) of
# FAMILY (ip, ip6).
syn_mss() {
	tcpdump -r "$TOPO_DIR/$1.pcap" -n "$3" 2>/dev/null |
		awk -v f="Flags [$2]," '
			index($0, f) && match($0, /mss [0-9]+/) {
				print substr($0, RSTART + 4, RLENGTH - 4); exit
			}'
}
