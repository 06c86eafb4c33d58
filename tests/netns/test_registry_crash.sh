#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The coordinator SIGKILLed during a burst of joins and route approvals: six
# nodes join at once (each advertising a LAN) while an admin loop approves
# their routes and toggles home's own; home dies at a random moment of the
# burst (at its first logged join, or 0 to 0.4 s after the joins start).
# The registry it leaves passes `PRAGMA integrity_check` and
# `foreign_key_check`, holds no address, key or name twice, and the
# coordinator restarts on it: every node that joined, or joins again with a
# fresh invite, reaches home, and the mesh counts each node once.
# MG_BURSTS sets the number of bursts (default 1; the soak label runs 10);
# each starts from fresh node keys after removing the previous nodes.
#
#  home ──┐
#  node1 ─┤
#   ...   ├── hub (bridge br0)
#  node6 ─┘
#
#  home   eth0 10.99.0.1/24    coordinator, prefix 100.64.0.0/10,
#                              subnet router for 10.30.0.0/24
#  nodeK  eth0 10.99.0.1K/24   subnet router for 10.20.K.0/24
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip ping nft python3
root_state_snapshot

bursts=${MG_BURSTS:-1}
seed=${MG_SEED:-$$}
RANDOM=$seed
N=6
nodes=()
for ((k = 1; k <= N; k++)); do nodes+=("node$k"); done
dir=$(mg_workdir)
registry=$dir/state-home/registry.sqlite
log "$bursts burst(s) of $N joins, seed $seed"

setup() {
	local name k=0
	ns_create hub home "${nodes[@]}"
	ns_ip hub link add br0 type bridge
	ns_ip hub link set br0 up
	for name in home "${nodes[@]}"; do
		veth_pair hub "p-$name" "$name" eth0
		ns_ip hub link set "p-$name" master br0
		ns_ip "$name" addr add "10.99.0.$((k == 0 ? 1 : 10 + k))/24" dev eth0
		k=$((k + 1))
	done
}

# ms_sleep MS
ms_sleep() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# registry_sane COPY_DIR: a copy of the registry as the crash left it (the
# database and its WAL) passes SQLite's checks and holds nothing twice.
registry_sane() {
	local copy=$1 f
	mkdir -p "$copy"
	for f in "$registry" "$registry-wal" "$registry-shm"; do
		[ ! -e "$f" ] || cp "$f" "$copy/"
	done
	python3 - "$copy/registry.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
bad = []
ic = db.execute("PRAGMA integrity_check").fetchall()
if ic != [("ok",)]:
    bad.append("integrity_check: %r" % ic)
fk = db.execute("PRAGMA foreign_key_check").fetchall()
if fk:
    bad.append("foreign_key_check: %r" % fk)
for col in ("addr4", "addr6", "public_key", "name"):
    dup = db.execute("SELECT %s, count(*) FROM nodes GROUP BY %s HAVING count(*) > 1"
                     % (col, col)).fetchall()
    if dup:
        bad.append("duplicate %s: %r" % (col, dup))
n = db.execute("SELECT count(*) FROM nodes").fetchone()[0]
r = db.execute("SELECT count(*), sum(approved) FROM routes").fetchone()
print("# registry after the crash: %d nodes, %d routes (%s approved)" % (n, r[0], r[1]),
      file=sys.stderr)
for b in bad:
    print("# " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# The admin's burst: approve every node's LAN, toggle home's own, for at
# most 300 rounds (the coordinator dies long before).
approver() {
	local i k
	for ((i = 0; i < 300; i++)); do
		for ((k = 1; k <= N; k++)); do
			mg_cli home home routes approve "node$k" "10.20.$k.0/24" >/dev/null 2>&1 || true
		done
		mg_cli home home routes "$([ $((i % 2)) -eq 0 ] && echo approve || echo unapprove)" \
			home 10.30.0.0/24 >/dev/null 2>&1 || return 0
	done
}

# fresh_node NAME: a new key and state for NAME, started (not joined).
fresh_node() {
	[ -z "${MG_DAEMON_PID[$1]:-}" ] || mg_stop "$1" TERM
	rm -rf "$dir/state-$1"
	(umask 077 && mg_genkey >"$dir/$1.key")
	mesh_start "$1"
}

mesh_count() {
	mg_cli home home nodes --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# kill_at_first_join PID: SIGKILL PID within a millisecond of the first
# join home logs from HOME_LOG_AT on (10 s at most); READY once it reads.
kill_at_first_join() {
	python3 - "$dir/home.log" "$HOME_LOG_AT" "$1" "$dir/killer-ready" <<'PY'
import os, signal, sys, time
f = open(sys.argv[1], "rb")
f.seek(int(sys.argv[2]) - 1)
seen = b""
open(sys.argv[4], "w").close()
end = time.monotonic() + 10
while time.monotonic() < end:
    seen += f.read()
    if b") joined" in seen:
        os.kill(int(sys.argv[3]), signal.SIGKILL)
        break
    time.sleep(0.001)
PY
}

# burst B: N joins and the approver, home SIGKILLed among them.
burst() {
	local b=$1 k pids=() codes=() approver_pid ms home_pid killer_pid
	for ((k = 1; k <= N; k++)); do
		codes[k]=$(mg_cli home home invite) || fail "no invite"
	done
	home_pid=$(mg_pid home)
	rm -f "$dir/killer-ready"
	if [ $((b % 2)) -eq 1 ]; then
		kill_at_first_join "$home_pid" &
		killer_pid=$!
		track_pid "$killer_pid"
		wait_for 100 0.05 test -e "$dir/killer-ready" || fail "the killer did not start"
	fi
	approver &
	approver_pid=$!
	track_pid "$approver_pid"
	for ((k = 1; k <= N; k++)); do
		join_bg "node$k" "${codes[k]}" "$dir/join-$b-$k" &
		pids+=("$!")
		track_pid "$!"
	done
	if [ $((b % 2)) -eq 1 ]; then
		wait "$killer_pid" || true
		KILL_AT="at the first join"
	else
		ms=$((RANDOM % 401))
		ms_sleep "$ms"
		KILL_AT="+${ms}ms"
	fi
	kill -KILL "$home_pid" 2>/dev/null || true
	wait_for 100 0.1 not kill -0 "$home_pid" || fail "home survived SIGKILL"
	wait "$home_pid" 2>/dev/null || true
	JOINED=$(tail -c +"$HOME_LOG_AT" "$dir/home.log" | grep -c "joined" || true)
	# A join the coordinator did not answer gives up after 15 s.
	for k in "${pids[@]}"; do
		wait_for 250 0.1 not kill -0 "$k" || fail "meshgate join did not return"
		wait "$k" 2>/dev/null || true
	done
	kill "$approver_pid" 2>/dev/null || true
	wait "$approver_pid" 2>/dev/null || true
	log "burst $b: home killed $KILL_AT, after $JOINED logged join(s)"
}

# join_bg NAME CODE OUT: `meshgate join`, its output in OUT.out, status in OUT.rc.
join_bg() {
	local rc=0
	mg_cli "$1" "$1" join "$2" >"$3.out" 2>&1 || rc=$?
	echo "$rc" >"$3.rc"
}

reaches_home() {
	wait_for 50 0.2 mesh_ping "$1" "$HOME_MESH"
}

# rejoin NAME OUT: NAME's join (OUT) was not answered; it joins again.
rejoin() {
	log "$1 joins again (the first try: $(tr '\n' ' ' <"$2.out"))"
	mesh_join "$1" && reaches_home "$1"
}

# ---- topology, the coordinator, the nodes ----
setup
mesh_conf home 'coordinator = { enabled = true; stun = []; prefix4 = "100.64.0.0/10"; prefix6 = "fd7a:6d67:7465::/48"; };
subnet_router = { routes = [ "10.30.0.0/24" ]; snat = true; };'
for ((k = 1; k <= N; k++)); do
	mesh_conf "node$k" "subnet_router = { routes = [ \"10.20.$k.0/24\" ]; snat = true; };"
done
mesh_start home
HOME_MESH=""

for ((b = 1; b <= bursts; b++)); do
	for name in "${nodes[@]}"; do
		mg_cli home home nodes remove "$name" >/dev/null 2>&1 || true
		fresh_node "$name"
	done
	HOME_LOG_AT=$(($(stat -c %s "$dir/home.log") + 1))
	burst "$b"
	check "burst $b: the registry passes integrity_check, foreign_key_check, nothing twice" \
		registry_sane "$dir/crash-$b"
	mesh_start home
	# The killed daemon's socket file is still there: wait for an answer.
	check "burst $b: the coordinator restarts on it and answers" wait_for 100 0.1 mg_cli home home nodes
	[ -n "$HOME_MESH" ] || HOME_MESH=$(mesh_addr home)
	for ((k = 1; k <= N; k++)); do
		if [ "$(cat "$dir/join-$b-$k.rc")" = 0 ]; then
			check "burst $b: node$k's join was answered: it reaches home" reaches_home "node$k"
		else
			check "burst $b: node$k's join was not answered: it joins again" \
				rejoin "node$k" "$dir/join-$b-$k"
		fi
	done
	check "burst $b: the mesh counts each node once ($((N + 1)))" test "$(mesh_count)" -eq $((N + 1))
	check "burst $b: and the registry is still sane" registry_sane "$dir/after-$b"
done
pass "$bursts burst(s)"
