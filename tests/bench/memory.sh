#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# meshgated's memory, the way the Quick start appliance runs it: home is a
# coordinator on the built-in defaults (status page on 127.0.0.1:8080, mesh
# resolver on), laptop joins it with an invite code.
#
#  laptop ── veth ── inet ── veth ── home
#  laptop  up0  198.51.100.2/24   default via inet
#  inet    lap0 198.51.100.1/24   home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, web and DNS on
#
# Usage: tests/bench/memory.sh [BUILD_DIR] [SECONDS]
# Prints home's memory twice: idle (SETTLE seconds after the join, default 5)
# and after load (iperf3 TCP through the mesh, SECONDS each way, default 10,
# plus page, JSON and DNS requests). Each time: /proc/PID/status (VmRSS,
# VmHWM, RssAnon, RssFile), smaps_rollup (Rss, Pss, Private, Shared,
# Anonymous) and the Rss of every mapping of /proc/PID/smaps summed per
# file (libraries by name; [heap], [stack] and anonymous mappings apart),
# largest first. Then what loading each library costs by itself: a program
# that links only it (with what it links, constructors run) prints its
# VmRSS and RssAnon, against one that links nothing (LIBCOST=0 skips this;
# it needs cc and the libraries' -dev packages). Run as root. Figures, not
# assertions.
set -eu
here=$(dirname "$(readlink -f "$0")")
build=$(readlink -f "${1:-$here/../../build}")
seconds=${2:-10}
settle=${SETTLE:-5}
export MESHGATED=$build/meshgated MESHGATE=$build/meshgate
# shellcheck source=../netns/lib.sh
. "$here/../netns/lib.sh"
# shellcheck source=../netns/meshgate.sh
. "$here/../netns/meshgate.sh"
# shellcheck source=../netns/meshnet.sh
. "$here/../netns/meshnet.sh"

require_root
require_cmd ip ping wg iperf3 python3 dig curl
[ -x "$MESHGATED" ] || fail "no meshgated in $build (build it first)"
root_state_snapshot
dir=$(mg_workdir)

ns_create laptop inet home
mesh_forwarding inet
mesh_uplink laptop up0 inet lap0 198.51.100
mesh_uplink home wan0 inet home0 203.0.113

# Only what a test needs differs from the built-in defaults: its own paths
# and names, no STUN (no network beyond the namespaces).
cat >"$dir/home.conf" <<CONF
interface = "mgh$MG_PID";
private_key_file = "$dir/home.key";
state_dir = "$dir/state-home";
control_socket = "$dir/home.sock";
hostname = "home";
coordinator = { enabled = true; stun = []; };
CONF
cat >"$dir/laptop.conf" <<CONF
interface = "mgl$MG_PID";
private_key_file = "$dir/laptop.key";
state_dir = "$dir/state-laptop";
control_socket = "$dir/laptop.sock";
hostname = "laptop";
web = { enabled = false; };
CONF
MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/mgh$MG_PID.sock /var/run/wireguard/mgl$MG_PID.sock")

mg_start home home "$dir/home.conf"
mg_start laptop laptop "$dir/laptop.conf"
code=$(mg_cli home home invite)
mg_cli laptop laptop join "$code" >/dev/null
wait_for 50 0.2 mesh_ping laptop 100.64.0.1 || fail "laptop does not reach home"
pid=$(mg_pid home)

# report LABEL: home's memory now.
report() {
	echo "== $1 =="
	grep -E '^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem|Threads)' "/proc/$pid/status"
	grep -E '^(Rss|Pss|Shared_|Private_|Anonymous)' "/proc/$pid/smaps_rollup"
	python3 - "/proc/$pid/smaps" "$MESHGATED" <<'PY'
import collections, os, re, sys
rss, pss, anon, priv = (collections.Counter() for _ in range(4))
name = None
with open(sys.argv[1]) as f:
    for line in f:
        m = re.match(r'^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$', line)
        if m:
            path = m.group(1)
            if not path:
                name = '(anonymous)'
            elif path.startswith('['):
                name = path
            elif os.path.realpath(path) == os.path.realpath(sys.argv[2]):
                name = 'meshgated'
            else:
                name = re.sub(r'\.so[.0-9]*$', '', os.path.basename(path))
            continue
        k, _, v = line.partition(':')
        if k in ('Rss', 'Pss', 'Anonymous', 'Private_Clean', 'Private_Dirty'):
            kb = int(v.split()[0])
            {'Rss': rss, 'Pss': pss, 'Anonymous': anon}.get(k, priv)[name] += kb
print(f"{'mapping':<24}{'Rss kB':>8}{'Pss kB':>8}{'Private':>9}{'Anon':>7}")
for n, v in rss.most_common():
    if v:
        print(f"{n:<24}{v:>8}{pss[n]:>8}{priv[n]:>9}{anon[n]:>7}")
print(f"{'total':<24}{sum(rss.values()):>8}{sum(pss.values()):>8}"
      f"{sum(priv.values()):>9}{sum(anon.values()):>7}")
PY
}

sleep "$settle"
report "idle ($settle s after the join)"

ns_bg home iperf3 -s -B 100.64.0.1 >"$dir/iperf3.log" 2>&1
wait_for 50 0.1 ns_exec laptop iperf3 -c 100.64.0.1 -t 1 >/dev/null 2>&1 ||
	fail "iperf3 through the mesh does not connect"
ns_exec laptop iperf3 -c 100.64.0.1 -t "$seconds" | tail -3
ns_exec laptop iperf3 -c 100.64.0.1 -t "$seconds" -R | tail -3
for _ in 1 2 3; do
	ns_exec home curl -sf -o /dev/null http://127.0.0.1:8080/ || fail "no status page"
	ns_exec home curl -sf -o /dev/null http://127.0.0.1:8080/api/status || fail "no status JSON"
	ns_exec laptop dig +short +time=2 +tries=1 @100.64.0.1 home.mesh.internal >/dev/null || true
done
report "after load (iperf3 ${seconds} s each way, page and DNS requests)"

[ "${LIBCOST:-1}" = 0 ] && exit 0
# What each library's load costs by itself (relocations, constructors).
cat >"$dir/libcost.c" <<'C'
#include <stdio.h>
#include <string.h>
int main(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS", 5) || !strncmp(line, "RssAnon", 7))
			printf("%8s kB", strtok(line + strcspn(line, "0123456789"), " "));
	printf("\n");
	return 0;
}
C
echo "== loading one library (with what it links): VmRSS, RssAnon =="
for libs in "" -lmicrohttpd -lgnutls -lldns -lcrypto -lsqlite3 "-lnl-route-3 -lnl-3" -lsystemd \
	-lb2 -lsodium "-ljansson -lconfig -lnftnl -lmnl"; do
	# shellcheck disable=SC2086 # libs is a list of flags
	cc -o "$dir/libcost" "$dir/libcost.c" -Wl,--no-as-needed $libs 2>/dev/null || continue
	printf '%-36s%s\n' "${libs:-(none: libc only)}" "$("$dir/libcost")"
done
# gnutls initialises itself from a constructor unless GNUTLS_NO_IMPLICIT_INIT
# is set; libmicrohttpd's own constructor calls gnutls_global_init anyway.
for lib in -lgnutls -lmicrohttpd; do
	cc -o "$dir/libcost" "$dir/libcost.c" -Wl,--no-as-needed "$lib" 2>/dev/null || continue
	printf '%-36s%s\n' "$lib, GNUTLS_NO_IMPLICIT_INIT=1" "$(GNUTLS_NO_IMPLICIT_INIT=1 "$dir/libcost")"
done
