# shellcheck shell=bash
# Shared helpers for meshgate's network-namespace scenarios (bash).
#
# Usage, at the top of tests/netns/test_<name>.sh, after the topology drawing:
#
#     set -eu
#     . "$(dirname "$(readlink -f "$0")")/lib.sh"
#     require_root
#     require_cmd ip ping
#     root_state_snapshot
#     ns_create a b
#     veth_pair a veth0 b veth0
#     check "a reaches b" wait_for 20 0.2 ns_exec a ping -c1 -W1 10.0.0.2
#     pass
#
# Safety rules (see TESTING.md): everything happens inside namespaces created
# here, named mg-<test>-<pid>-<suffix>; the helpers refuse any namespace they
# did not create; every loop is bounded; cleanup runs on EXIT, INT and TERM
# and fails the test when the root namespace changed.
#
# Functions:
#   ns_create NAME...              create namespaces (lo up), recorded for cleanup
#   ns_name NAME                   print the full namespace name
#   ns_exec NAME CMD...            run CMD inside namespace NAME
#   ns_ip NAME ARGS...             ip -n <full name> ARGS...
#   ns_bg NAME CMD...              run CMD inside NAME in the background, recorded
#   track_pid PID...               record more processes for cleanup
#   veth_pair NS1 IF1 NS2 IF2      veth IF1 in NS1 <-> IF2 in NS2, both up
#   wait_for COUNT INTERVAL CMD... retry CMD up to COUNT times, INTERVAL s apart
#   output_is WANT CMD...           CMD's output is exactly WANT (to poll with wait_for)
#   not CMD...                     succeed when CMD fails
#   check DESC CMD...              run CMD; count it, or fail with DESC
#   root_state_snapshot            record the root namespace's state
#   root_state_check               compare with the snapshot (non-zero: changed)
#   require_root                   skip (exit 77) unless root
#   require_cmd CMD...             skip (exit 77) naming any missing command
#   log MSG / skip MSG / fail MSG  note / exit 77 / exit 1
#   pass [MSG]                     clean up, check the root state, print summary
#   cleanup                        kill recorded processes, run MG_EXTRA_CLEANUP
#                                  commands, delete namespaces

MG_TEST=$(basename "$0" .sh)
MG_TEST=${MG_TEST#test_}
MG_PID=$$
MG_NAMESPACES=() # short names created by ns_create
MG_PIDS=()       # background processes to stop
MG_EXTRA_CLEANUP=() # shell commands run by cleanup, after the processes stop
MG_CHECKS=0
MG_CLEANED=0
MG_STATE_DIR=""  # root_state_snapshot's files

log() {
	echo "# $*" >&2
}

skip() {
	echo "skipped: $MG_TEST: $*"
	exit 77
}

fail() {
	echo "FAIL: $MG_TEST: $*" >&2
	exit 1
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

require_cmd() {
	local missing="" cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
	done
	[ -z "$missing" ] || skip "missing command(s):$missing"
}

# ---- namespaces ----

ns_name() {
	echo "mg-$MG_TEST-$MG_PID-$1"
}

# Full name of a namespace this test created; fails for any other name.
_mg_ns() {
	local ns
	for ns in "${MG_NAMESPACES[@]}"; do
		if [ "$ns" = "$1" ]; then
			ns_name "$1"
			return 0
		fi
	done
	fail "namespace '$1' was not created by this test"
}

ns_create() {
	local short full
	for short in "$@"; do
		full=$(ns_name "$short")
		ip netns add "$full" || fail "cannot create namespace $full"
		MG_NAMESPACES+=("$short")
		ip -n "$full" link set lo up
	done
}

ns_exec() {
	local full
	full=$(_mg_ns "$1") || exit 1
	shift
	ip netns exec "$full" "$@"
}

ns_ip() {
	local full
	full=$(_mg_ns "$1") || exit 1
	shift
	ip -n "$full" "$@"
}

ns_bg() {
	local full
	full=$(_mg_ns "$1") || exit 1
	shift
	ip netns exec "$full" "$@" &
	MG_PIDS+=("$!")
}

track_pid() {
	MG_PIDS+=("$@")
}

# Created directly inside NS1 and NS2: the root namespace never holds it.
veth_pair() {
	local ns1 ns2
	ns1=$(_mg_ns "$1") || exit 1
	ns2=$(_mg_ns "$3") || exit 1
	ip -n "$ns1" link add "$2" type veth peer name "$4" netns "$ns2"
	ip -n "$ns1" link set "$2" up
	ip -n "$ns2" link set "$4" up
}

# ---- polling and checks ----

wait_for() {
	local count=$1 interval=$2 i
	shift 2
	for ((i = 0; i < count; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep "$interval"
	done
	return 1
}

not() {
	! "$@"
}

# output_is WANT CMD...: CMD prints exactly WANT. Under wait_for, CMD runs
# again on every try (`wait_for N T test "$(cmd)" = x` would run it once).
output_is() {
	local want=$1
	shift
	[ "$("$@" 2>/dev/null)" = "$want" ]
}

check() {
	local desc=$1
	shift
	if "$@"; then
		MG_CHECKS=$((MG_CHECKS + 1))
		echo "ok   $desc"
	else
		fail "$desc"
	fi
}

# ---- root namespace state ----

# Namespaces of other concurrent meshgate tests are not ours to judge.
_mg_root_state() {
	echo "## ip netns list"
	ip netns list 2>&1 | sed 's/ (id: [0-9]*)//' |
		awk -v me="-$MG_PID-" '!/^mg-[^ ]*-[0-9]+-/ || index($0, me)' | sort
	echo "## nft list tables"
	if command -v nft >/dev/null 2>&1; then
		nft list tables 2>&1 | sort
	fi
	echo "## ip rule"
	ip -4 rule 2>&1
	ip -6 rule 2>&1
	echo "## ip -o link"
	ip -o link 2>&1 | sed 's/ link-netnsid [0-9]*//'
}

root_state_snapshot() {
	MG_STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mg-$MG_TEST-$MG_PID.XXXXXX")
	_mg_root_state >"$MG_STATE_DIR/before"
}

root_state_check() {
	[ -n "$MG_STATE_DIR" ] || return 0
	_mg_root_state >"$MG_STATE_DIR/after"
	if ! diff -u "$MG_STATE_DIR/before" "$MG_STATE_DIR/after" >&2; then
		echo "FAIL: $MG_TEST: the root namespace changed (diff above)" >&2
		return 1
	fi
}

# ---- cleanup ----

_mg_alive() {
	local pid
	for pid in "${MG_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			return 0
		fi
	done
	return 1
}

_mg_stop_pids() {
	local pid
	[ "${#MG_PIDS[@]}" -gt 0 ] || return 0
	for pid in "${MG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	wait_for 50 0.1 not _mg_alive
	for pid in "${MG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	MG_PIDS=()
}

# Processes still inside one of our namespaces are ours too.
_mg_delete_namespaces() {
	local short full pid
	for short in "${MG_NAMESPACES[@]}"; do
		full=$(ns_name "$short")
		for pid in $(ip netns pids "$full" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$full" 2>/dev/null || log "cannot delete namespace $full"
	done
	MG_NAMESPACES=()
}

# Idempotent. Returns non-zero when the root namespace did not come back to
# its snapshot.
cleanup() {
	local rc=0
	[ "$MG_CLEANED" -eq 0 ] || return 0
	MG_CLEANED=1
	set +e
	_mg_stop_pids
	local cmd
	for cmd in "${MG_EXTRA_CLEANUP[@]}"; do
		eval "$cmd"
	done
	MG_EXTRA_CLEANUP=()
	_mg_delete_namespaces
	root_state_check || rc=1
	[ -z "$MG_STATE_DIR" ] || rm -rf "$MG_STATE_DIR"
	return $rc
}

pass() {
	cleanup || fail "cleanup"
	echo "PASS: $MG_TEST: $MG_CHECKS checks${1:+: $1}"
	exit 0
}

_mg_on_exit() {
	local rc=$?
	cleanup || rc=1
	exit $rc
}

trap _mg_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
