#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The coordinator's join gate under a flood. laptop joins with a reusable
# invite; atk then sends JOIN_REQUEST-typed datagrams (0x81) at home's UDP
# port, paced at 50,000 a second for 8 s (about 66 Mbit/s): first random
# junk, then well-formed requests with a valid mac1 (keyed from home's
# public key, which every invite carries) and a random box. Meanwhile laptop
# pings home's mesh address 5 times a second through the tunnel: under 5%
# loss and under 50 ms average RTT (without the gate, every datagram cost
# home an X25519). tab joins during the second flood: home, under load,
# answers with a cookie and tab's retry with mac2 gets in. A join captured on home's wire and replayed is refused
# (counted, the invite's last use unchanged); `invite list` shows the
# invites without secrets; `invite revoke` makes a code fail with an error
# that says so; with no invite live, join datagrams are dropped before any
# MAC is computed; `nodes remove` says whether a live reusable invite could
# bring the node back.
#
#  laptop ── veth ── inet ── veth ── home
#  atk    ── veth ──/ | |
#  phone  ── veth ────/  |
#  tab    ── veth ──────/
#
#  laptop  up0  198.51.100.2/24   default via inet
#  atk     up0  198.51.102.2/24   default via inet (joinflood)
#  phone   up0  198.51.101.2/24   default via inet (tries a revoked code)
#  tab     up0  198.51.103.2/24   default via inet (joins under load)
#  inet    lap0 198.51.100.1/24  atk0 198.51.102.1/24  pho0 198.51.101.1/24
#          tab0 198.51.103.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10, UDP 41641
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip ping wg tcpdump python3
root_state_snapshot

dir=$(mg_workdir)
flood=${MG_JOINFLOOD:-$(dirname "$MESHGATED")/tests/joinflood}
[ -x "$flood" ] || skip "no joinflood helper (MG_JOINFLOOD)"
rate=50000
seconds=8

setup() {
	ns_create laptop atk phone tab inet home
	ns_exec inet sysctl -qw net.ipv4.ip_forward=1
	veth_pair laptop up0 inet lap0
	veth_pair atk up0 inet atk0
	veth_pair phone up0 inet pho0
	veth_pair tab up0 inet tab0
	veth_pair inet home0 home wan0
	ns_ip laptop addr add 198.51.100.2/24 dev up0
	ns_ip atk addr add 198.51.102.2/24 dev up0
	ns_ip phone addr add 198.51.101.2/24 dev up0
	ns_ip tab addr add 198.51.103.2/24 dev up0
	ns_ip inet addr add 198.51.100.1/24 dev lap0
	ns_ip inet addr add 198.51.102.1/24 dev atk0
	ns_ip inet addr add 198.51.101.1/24 dev pho0
	ns_ip inet addr add 198.51.103.1/24 dev tab0
	ns_ip inet addr add 203.0.113.1/24 dev home0
	ns_ip home addr add 203.0.113.2/24 dev wan0
	ns_ip laptop route add default via 198.51.100.1
	ns_ip atk route add default via 198.51.102.1
	ns_ip phone route add default via 198.51.101.1
	ns_ip tab route add default via 198.51.103.1
	ns_ip home route add default via 203.0.113.1
}

conf() { # NAME EXTRA
	cat >"$dir/$1.conf" <<CONF
interface = "mg$1$MG_PID";
listen_port = 41641;
private_key_file = "$dir/$1.key";
state_dir = "$dir/state-$1";
control_socket = "$dir/$1.sock";
hostname = "$1";
addresses = [];
web = { enabled = false; };
$2
CONF
	MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/mg$1$MG_PID.sock")
}

# drop REASON: a drop counter of home's status document.
drop() {
	mg_cli home home status --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["drops"][sys.argv[1]])' "$1"
}

# invite_field ID FIELD: a field of one invite in `invite list --json`.
invite_field() {
	mg_cli home home invite list --json | python3 -c 'import json,sys
for i in json.load(sys.stdin):
    if i["id"] == int(sys.argv[1]): print(json.dumps(i[sys.argv[2]]))' "$1" "$2"
}

last_invite_id() {
	mg_cli home home invite list --json |
		python3 -c 'import json,sys; print(max(i["id"] for i in json.load(sys.stdin)))'
}

# ping_stats FILE: "LOSS AVG MAX" (loss in %, times in ms) of ping's summary.
ping_stats() {
	python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
loss = re.search(r"([\d.]+)% packet loss", text)
rtt = re.search(r"= [\d.]+/([\d.]+)/([\d.]+)/", text)
print(loss.group(1) if loss else 100, *(rtt.groups() if rtt else (9999, 9999)))
PY
}

# flood_with_ping NAME MODE [ARG]: atk floods home for $seconds while
# laptop pings home's mesh address every 0.2 s; logs the figures.
flood_with_ping() {
	local name=$1 pid
	shift
	ns_bg atk "$flood" 203.0.113.2 41641 "$rate" "$seconds" "$@" >"$dir/$name.json" 2>"$dir/$name.err"
	pid=${MG_PIDS[-1]}
	ns_exec laptop ping -i 0.2 -c $((seconds * 5 - 5)) -W 1 -q 100.64.0.1 >"$dir/$name.ping" 2>&1 || true
	wait_for $((seconds * 10 + 100)) 0.1 not kill -0 "$pid" || fail "$name: the sender did not stop"
	read -r loss avg max < <(ping_stats "$dir/$name.ping")
	log "$name flood: $(cat "$dir/$name.json") ping loss ${loss}% rtt avg ${avg} ms max ${max} ms"
	log "$name drops: no_invite $(drop join_no_invite) mac $(drop join_mac)" \
		"ratelimit $(drop join_ratelimit) cookie $(drop join_cookie)" \
		"replay $(drop join_replay) box $(drop join_box)"
}

# below A B: A < B for decimals.
below() {
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"
}

# first_join FILE OUT: the UDP payload of the first packet of a pcap file.
first_join() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
at = 24  # pcap file header; records: 16-byte header, then an Ethernet frame
_, _, incl, _ = struct.unpack("<IIII", data[at:at + 16])
frame = data[at + 16:at + 16 + incl]
ip = frame[14:]
udp = ip[(ip[0] & 15) * 4:]
open(sys.argv[2], "wb").write(udp[8:struct.unpack(">H", udp[4:6])[0]])
PY
}

setup
for n in home laptop phone tab; do
	(umask 077 && mg_genkey >"$dir/$n.key")
done
home_pub=$(mg_pubkey "$(cat "$dir/home.key")")
conf home 'coordinator = { enabled = true; stun = []; prefix4 = "100.64.0.0/10"; prefix6 = "fd7a:6d67:7465::/48"; };'
conf laptop ''
conf phone ''
conf tab ''
mg_start home home "$dir/home.conf"
mg_start laptop laptop "$dir/laptop.conf"
mg_start phone phone "$dir/phone.conf"
mg_start tab tab "$dir/tab.conf"

# Joins that reach home's wire, for the replay.
ns_bg home tcpdump -n -U --immediate-mode -i wan0 -w "$dir/joins.pcap" \
	"udp and dst port 41641 and udp[8] = 0x81" >/dev/null 2>"$dir/joins.log"
wait_for 50 0.1 grep -q "listening on" "$dir/joins.log" || fail "tcpdump did not start"

code=$(mg_cli home home invite --reusable --ttl 10m)
reusable=$(last_invite_id)
out=$(mg_cli laptop laptop join "$code" 2>&1) || { mg_log home; fail "join: $out"; }
check "laptop joined with a reusable invite" grep -q "joined as laptop" <<<"$out"
check "laptop reaches home through the mesh" wait_for 50 0.2 \
	ns_exec laptop ping -c1 -W2 100.64.0.1
check "invite list shows it live and used by laptop" \
	test "$(invite_field "$reusable" live)/$(invite_field "$reusable" used_by)" = 'true/"laptop"'
check "invite list never shows a secret or code" \
	not sh -c "'$MESHGATE' --socket '$dir/home.sock' invite list --json | grep -qiE 'code|secret|hash'"
mg_cli home home invite list

# ---- the floods ----
flood_with_ping junk junk
read -r loss avg max < <(ping_stats "$dir/junk.ping")
check "junk flood: laptop's ping loses under 5%" below "$loss" 5
check "junk flood: laptop's ping RTT averages under 50 ms" below "$avg" 50
sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$dir/junk.json")
check "junk flood: most of it dropped at mac1" test "$(($(drop join_mac) * 2))" -ge "$sent"
check "junk flood: nothing reached a box" test "$(drop join_box)" -eq 0

# tab joins a second into the flood; cookies that reach it are captured.
ns_bg tab tcpdump -n -U --immediate-mode -i up0 -w "$dir/tab-cookies.pcap" \
	"udp and src port 41641 and udp[8] = 0x85" >/dev/null 2>"$dir/tab-cookies.log"
wait_for 50 0.1 grep -q "listening on" "$dir/tab-cookies.log" || fail "tcpdump did not start"
code_tab=$(mg_cli home home invite)
tab_invite=$(last_invite_id)
(sleep 1 && mg_cli tab tab join "$code_tab" >"$dir/tab-join.out" 2>&1) &
track_pid "$!"
tab_join=$!
flood_with_ping mac1 mac1 "$home_pub"
check "tab joined during the valid-mac1 flood" wait "$tab_join"
log "tab: $(cat "$dir/tab-join.out")"
check "home answered tab with a cookie first" \
	test "$(tcpdump -n -r "$dir/tab-cookies.pcap" 2>/dev/null | wc -l)" -ge 1
read -r loss avg max < <(ping_stats "$dir/mac1.ping")
check "valid-mac1 flood: laptop's ping loses under 5%" below "$loss" 5
check "valid-mac1 flood: laptop's ping RTT averages under 50 ms" below "$avg" 50
check "valid-mac1 flood: the rate limit dropped most of it" \
	test "$(($(drop join_ratelimit) * 2))" -ge "$sent"
check "valid-mac1 flood: few boxes opened (rate limit, cookies)" test "$(drop join_box)" -lt 2000
check "home still runs" kill -0 "$(mg_pid home)"

# ---- a captured join, replayed ----
first_join "$dir/joins.pcap" "$dir/join.bin"
check "a join was captured" test "$(stat -c %s "$dir/join.bin")" -gt 200
used=$(invite_field "$reusable" used_at)
replays=$(drop join_replay)
sleep 1.5 # the rate limiter refills atk's share; a new use would change used_at
ns_exec atk "$flood" 203.0.113.2 41641 4 2 replay "$dir/join.bin" >"$dir/replay.json"
log "replay: $(cat "$dir/replay.json"), join_replay $(drop join_replay)"
check "the replayed join is refused and counted" test "$(drop join_replay)" -gt "$replays"
check "no second registry change: the invite's last use is unchanged" \
	test "$(invite_field "$reusable" used_at)" = "$used"

# ---- revoke ----
code2=$(mg_cli home home invite)
single=$(last_invite_id)
check "invite list shows the new single-use invite live" \
	test "$(invite_field "$single" live)/$(invite_field "$single" reusable)" = "true/false"
check "invite revoke" mg_cli home home invite revoke "$single"
check "invite revoke of the reusable one" mg_cli home home invite revoke "$reusable"
# tab's invite, used: it would keep the gate open for the grace.
check "invite revoke of a used one" mg_cli home home invite revoke "$tab_invite"
check "invite list no longer shows them" test -z "$(invite_field "$single" id)$(invite_field "$reusable" id)"
check "revoking it again is an error" not mg_cli home home invite revoke "$single"
no_invite=$(drop join_no_invite)
mac=$(drop join_mac)
out=$(mg_cli phone phone join "$code2" 2>&1) && fail "a revoked code joined: $out"
log "phone: $out"
check "the revoked code fails with an error that says so" grep -q "revoked" <<<"$out"
check "with no invite live, its requests were dropped before mac1" \
	test "$(drop join_no_invite)" -gt "$no_invite"
check "... and no mac was computed" test "$(drop join_mac)" -eq "$mac"

# ---- nodes remove ----
mg_cli home home invite --reusable --ttl 1h >/dev/null
out=$(mg_cli home home nodes remove laptop)
log "$out"
check "nodes remove names the live reusable invite" grep -q "could bring it back" <<<"$out"

pass
