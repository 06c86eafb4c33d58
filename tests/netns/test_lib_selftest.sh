#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Proves the helpers of lib.sh: two namespaces joined by a veth pair, ping in
# both directions and both families, a tracked background process, a bounded
# wait that times out, and a root namespace left exactly as it was.
#
#   a                                        b
#   veth-a 10.99.1.1/24  ───── veth ─────  veth-b 10.99.1.2/24
#          fd00:99:1::1/64                        fd00:99:1::2/64
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd ip ping
root_state_snapshot

ns_create a b
veth_pair a veth-a b veth-b
ns_ip a addr add 10.99.1.1/24 dev veth-a
ns_ip b addr add 10.99.1.2/24 dev veth-b
ns_ip a addr add fd00:99:1::1/64 dev veth-a nodad
ns_ip b addr add fd00:99:1::2/64 dev veth-b nodad

check "namespaces are named after the test and pid" \
	sh -c "ip netns list | grep -q '^mg-lib_selftest-$MG_PID-a'"
check "veth carrier up" wait_for 50 0.1 ns_exec a sh -c 'ip -o link show veth-a | grep -q LOWER_UP'
check "ping a -> b (IPv4)" wait_for 20 0.2 ns_exec a ping -c1 -W1 10.99.1.2
check "ping b -> a (IPv6)" wait_for 20 0.2 ns_exec b ping -6 -c1 -W1 fd00:99:1::1
check "the root namespace has none of the test's addresses" \
	not sh -c 'ip -o addr | grep -q "10\.99\.1\."'
# A subshell: the refusal exits it, as it would exit the test.
# shellcheck disable=SC2317 # called through check
unknown_ns_exec() { (ns_exec c true) 2>/dev/null; }
check "unknown namespaces are refused" not unknown_ns_exec

ns_bg b sleep 300
sleeper=${MG_PIDS[-1]}
check "background process runs" kill -0 "$sleeper"
check "wait_for gives up after COUNT tries" not wait_for 3 0.1 false

cleanup
check "cleanup stopped the background process" not kill -0 "$sleeper" 2>/dev/null
check "cleanup deleted the namespaces" not sh -c "ip netns list | grep -q -- '-$MG_PID-'"
pass "namespaces, veth, ping, tracked processes, cleanup"
