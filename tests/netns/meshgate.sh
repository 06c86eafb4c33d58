# shellcheck shell=bash
# meshgate-specific helpers for the netns scenarios, on top of lib.sh.
#
#   mg_workdir                      print (and create) the test's scratch directory
#   mg_genkey / mg_pubkey KEY       keys in WireGuard's base64 form (wg's tools)
#   mg_start NS NAME CONF           start meshgated -f -c CONF inside NS; NAME
#                                   labels its log file; waits for its control socket
#   mg_stop NAME [SIGNAL]           signal the daemon and wait for it to exit
#   mg_pid NAME                     its pid
#   mg_log NAME                     print its log
#   mg_cli NS NAME ARGS...          run the meshgate CLI against that daemon
#   mg_preflight NS NAME CHECK FIELD
#                                   a field of one preflight check in its status
#                                   (--json); ok prints true, false or null
#   mg_preflight_is NS NAME CHECK OK
#                                   that check's ok is OK (true, false, null)
#   wggo_start NS IFNAME            start Debian's wireguard-go in NS, wait for its socket
#
# Every daemon's files live under the scratch directory: key, state, control
# socket. Interface names carry the test's pid so the UAPI sockets, which live
# in /var/run/wireguard for every namespace, never collide.

: "${MESHGATED:?MESHGATED must name the meshgated binary}"
: "${MESHGATE:?MESHGATE must name the meshgate binary}"

declare -A MG_DAEMON_PID=()
declare -A MG_DAEMON_SOCK=()

# Created here, not lazily: $(mg_workdir) runs in a subshell.
MG_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/mg-$MG_TEST-$MG_PID.work.XXXXXX")
MG_EXTRA_CLEANUP+=("rm -rf '$MG_WORKDIR'")

mg_workdir() {
	echo "$MG_WORKDIR"
}

mg_genkey() {
	wg genkey
}

mg_pubkey() {
	echo "$1" | wg pubkey
}

mg_start() {
	local ns=$1 name=$2 conf=$3 dir sock
	dir=$(mg_workdir)
	sock=$(sed -n 's/^control_socket *= *"\(.*\)";/\1/p' "$conf")
	[ -n "$sock" ] || fail "$conf sets no control_socket"
	ns_bg "$ns" "$MESHGATED" -f -c "$conf" >>"$dir/$name.log" 2>&1
	MG_DAEMON_PID[$name]=${MG_PIDS[-1]}
	MG_DAEMON_SOCK[$name]=$sock
	if ! wait_for 100 0.1 test -S "$sock"; then
		mg_log "$name" >&2
		fail "meshgated $name did not come up"
	fi
}

mg_pid() {
	echo "${MG_DAEMON_PID[$1]}"
}

mg_log() {
	cat "$(mg_workdir)/$1.log"
}

mg_stop() {
	local name=$1 sig=${2:-TERM} pid
	pid=${MG_DAEMON_PID[$name]}
	kill -"$sig" "$pid" 2>/dev/null || return 0
	wait_for 100 0.1 not kill -0 "$pid" || return 1
	wait "$pid" 2>/dev/null || true
}

mg_cli() {
	local ns=$1 name=$2
	shift 2
	ns_exec "$ns" "$MESHGATE" --socket "${MG_DAEMON_SOCK[$name]}" "$@"
}

mg_preflight() {
	mg_cli "$1" "$2" status --json | python3 -c 'import json,sys
for c in json.load(sys.stdin)["preflight"]:
    if c["check"] == sys.argv[1]:
        v = c[sys.argv[2]]
        print(v if isinstance(v, str) else json.dumps(v))' "$3" "$4"
}

mg_preflight_is() {
	[ "$(mg_preflight "$1" "$2" "$3" ok)" = "$4" ]
}

wggo_start() {
	local ns=$1 ifname=$2
	ns_bg "$ns" env WG_PROCESS_FOREGROUND=1 WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
		wireguard-go "$ifname" >>"$(mg_workdir)/wggo-$ifname.log" 2>&1
	wait_for 100 0.1 test -S "/var/run/wireguard/$ifname.sock" ||
		fail "wireguard-go $ifname did not come up"
	MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/$ifname.sock")
}

# Writes a meshgated config for a static-peer node. Peers come as extra
# lines, already in libconfig syntax.
#   mg_config FILE IFNAME PORT KEYFILE ADDRESSES PEERS
mg_config() {
	local file=$1 ifname=$2 port=$3 keyfile=$4 addresses=$5 peers=$6 dir
	dir=$(mg_workdir)
	cat >"$file" <<CONF
interface = "$ifname";
listen_port = $port;
private_key_file = "$keyfile";
state_dir = "$dir/state-$ifname";
control_socket = "$dir/$ifname.sock";
addresses = [ $addresses ];
web = { enabled = false; };
peers = ( $peers );
CONF
}
