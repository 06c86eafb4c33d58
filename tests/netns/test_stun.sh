#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The coordinator behind a home router learns its public address by STUN
# (two coturn servers on the internet side), and its invites carry it after
# the configured endpoints and before the local ones; laptop on the
# internet joins with such an invite once the router forwards the port.
# `meshgate invite` warns on stderr when the invite holds only private
# addresses (STUN off, no endpoints) and not when endpoints are set;
# `stun = []` sends nothing; behind a symmetric NAT the two servers see two
# ports and the address is left out of invites.
#
#  home ── hnat ── inet ── laptop
#                   └ stun1 192.0.2.1:3478, stun2 192.0.2.2:3478 (coturn, in inet)
#
#  home    lan0 192.168.7.2/24     coordinator, UDP 41641, default via hnat
#  hnat    in0  192.168.7.1/24   out0 198.51.100.2/24   masquerade (EIM), no new
#                                flows in (then a DNAT of UDP 41641 to home;
#                                last, masquerade random: symmetric)
#  inet    hom0 198.51.100.1/24  lap0 203.0.113.1/24  lo 192.0.2.1, 192.0.2.2
#  laptop  up0  203.0.113.2/24     member
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"
# shellcheck source=topology.sh
. "$(dirname "$(readlink -f "$0")")/topology.sh"
# shellcheck source=meshnet.sh
. "$(dirname "$(readlink -f "$0")")/meshnet.sh"

require_root
require_cmd ip nft tcpdump python3 timeout curl ss turnserver
root_state_snapshot

dir=$(mg_workdir)
PUBLIC=198.51.100.2:41641
STUN2='"192.0.2.1:3478", "192.0.2.2:3478"'

setup() {
	ns_create home hnat inet laptop
	mesh_forwarding hnat inet
	mesh_uplink home lan0 hnat in0 192.168.7
	mesh_uplink hnat out0 inet hom0 198.51.100
	mesh_uplink laptop up0 inet lap0 203.0.113
	ns_ip inet addr add 192.0.2.1/32 dev lo
	ns_ip inet addr add 192.0.2.2/32 dev lo
	nat_eim hnat out0
}

stun_start() { # N: coturn as a plain STUN server on 192.0.2.N:3478 only
	ns_bg inet turnserver -n --stun-only --no-cli --no-tls --no-dtls --no-tcp \
		--no-rfc5780 --listening-ip "192.0.2.$1" --listening-port 3478 \
		--pidfile "$dir/stun$1.pid" --log-file "$dir/stun$1.log" --simple-log \
		--no-stdout-log --db "$dir/turndb$1"
	wait_for 50 0.1 sh -c "ip netns exec '$(_mg_ns inet)' ss -Hlun 'src 192.0.2.$1:3478' | grep -q ." ||
		fail "turnserver $1 did not come up"
}

# port_forward: hnat forwards UDP 41641 to home (a home router's port forward).
port_forward() {
	ns_exec hnat nft -f - <<NFT
table ip portfwd {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "out0" udp dport 41641 dnat to 192.168.7.2
	}
}
NFT
	ns_exec hnat nft insert rule inet nat forward iifname out0 ct status dnat accept
}

coord() { # PYEXPR on home's status "coordinator" object c
	mg_cli home home status --json | python3 -c 'import json,sys
c = json.load(sys.stdin)["coordinator"]
print(eval(sys.argv[1]))' "$1"
}

stun_is() { # FIELD VALUE
	[ "$(coord "c['stun']['$1']")" = "$2" ]
}

# invite_json: an invite's reply, its warnings in $dir/invite.err.
invite_json() {
	mg_cli home home invite --json 2>"$dir/invite.err"
}

# sources JSON: "endpoint=source ..." of the invite's endpoints.
sources() {
	mesh_json "$1" '" ".join(e["endpoint"] + "=" + e["source"] for e in d["facts"]["endpoints"])'
}

setup
stun_start 1
stun_start 2
mesh_conf_coordinator home '' ''
sed -i -e "s|stun = \[\];|stun = [ $STUN2 ];|" \
	-e 's|^web = .*|web = { listen = [ "127.0.0.1:8080" ]; };|' "$dir/home.conf"
mesh_conf laptop
mesh_start home
mesh_start laptop

# ---- the public address by STUN, behind an endpoint-independent NAT ----
check "home learns its NAT's public address by STUN" \
	wait_for 100 0.2 sh -c "[ \"\$(ip netns exec '$(_mg_ns home)' '$MESHGATE' --socket '$dir/home.sock' status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"coordinator\"][\"public_endpoint\"])')\" = $PUBLIC ]"
check "both servers saw one mapping: endpoint-independent" wait_for 50 0.2 stun_is nat endpoint-independent
log "stun: $(coord "c['stun']")"
check "status: two servers, no error" [ "$(coord "(c['stun']['servers'], c['stun']['error'])")" = "(2, None)" ]
check "status: a round ended" [ "$(coord "c['stun']['last_round'] > 0")" = True ]
check "status: two answers taken, none dropped" \
	[ "$(coord "(c['stun']['responses'] >= 2, c['stun']['dropped'])")" = "(True, 0)" ]
line=$(mg_cli home home status | grep '^public address:') || true
log "status line: $line"
check "the CLI status line says it" grep -q "^public address: $PUBLIC by STUN .*NAT endpoint-independent" <<<"$line"
metrics_have() { # REGEX: a line of home's /metrics
	ns_exec home curl -sf http://127.0.0.1:8080/metrics | grep -q "$1"
}
check "/metrics counts the STUN requests" wait_for 30 0.2 metrics_have 'meshgate_stun_total{event="requests"} [1-9]'
check "/metrics counts the STUN responses" metrics_have 'meshgate_stun_total{event="responses"} [1-9]'

# The invite: the STUN endpoint before the local one, a note on stderr.
reply=$(invite_json)
src=$(sources "$reply")
log "invite endpoints: $src"
check "the invite carries the STUN endpoint first, then the local one" \
	[ "$src" = "$PUBLIC=stun 192.168.7.2:41641=local" ]
log "stderr: $(cat "$dir/invite.err")"
check "a note says a STUN address works only if the NAT lets packets in" \
	grep -q "learned by STUN; it works from outside only if the router lets unsolicited UDP in" "$dir/invite.err"
check "no private-only warning" not grep -q "only private addresses" "$dir/invite.err"

# laptop joins with it once the router forwards the port.
port_forward
code=$(mesh_json "$reply" 'd["code"]')
out=$(mg_cli laptop laptop join "$code" 2>&1) || { mg_log laptop >&2; fail "join: $out"; }
log "$out"
HOME_MESH=$(mesh_addr home)
check "laptop reaches home through the forwarded port" wait_for 50 0.2 mesh_ping laptop "$HOME_MESH"
# laptop's one peer (named "coordinator" until the first netmap names it)
ep=$(mg_cli laptop laptop status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"][0]["endpoint"])')
check "laptop's endpoint for home is the STUN-learned address ($ep)" [ "$ep" = "$PUBLIC" ]

# ---- endpoints configured: first in the invite, and no warning ----
sed -i "s|enabled = true;|enabled = true; endpoints = [ \"home.example.net:41641\" ];|" "$dir/home.conf"
check "reload" mesh_reload home
src=$(sources "$(invite_json)")
log "invite endpoints: $src"
check "configured endpoint, then STUN, then local" \
	[ "$src" = "home.example.net:41641=config $PUBLIC=stun 192.168.7.2:41641=local" ]
check "no warning on stderr with endpoints set" [ ! -s "$dir/invite.err" ]

# ---- stun = [] and no endpoints: nothing sent, and the warning ----
mg_stop home
sed -i -e "s|stun = \[[^]]*\];|stun = [];|" -e "s| endpoints = \[[^]]*\];||" "$dir/home.conf"
capture_start hnat hnat.out0 out0 "udp port 3478"
mesh_start home
sleep 4 # a round would have sent at the first tick (1 s)
check "status: STUN off" [ "$(coord "(c['stun']['servers'], c['stun']['requests'], c['public_endpoint'])")" = "(0, 0, None)" ]
code=$(mg_cli home home invite 2>"$dir/invite.err")
log "stderr: $(cat "$dir/invite.err")"
check "the code is still printed on stdout" grep -q '^mg1-' <<<"$code"
check "the warning names the port forward" \
	grep -qF "forward UDP port 41641 on the home router to this host's LAN address 192.168.7.2" "$dir/invite.err"
check "and coordinator.endpoints" \
	grep -qF 'set coordinator.endpoints = ["your.public.name:41641"]' "$dir/invite.err"
check "and that STUN is off" grep -qF "STUN is off" "$dir/invite.err"
check "the status line says STUN is off" grep -q '^public address: STUN off' <<<"$(mg_cli home home status)"
sleep 0.5
capture_stop hnat.out0
check "stun = [] sent no STUN datagram" [ "$(capture_count hnat.out0)" -eq 0 ]

# ---- a symmetric NAT: two servers, two ports ----
nat_symmetric hnat out0
nat_forget hnat out0 198.51.100.2/24 198.51.100.1
sed -i "s|stun = \[\];|stun = [ $STUN2 ];|" "$dir/home.conf"
check "reload" mesh_reload home
check "the NAT is reported symmetric" wait_for 100 0.2 stun_is nat symmetric
log "stun: $(coord "(c['public_endpoint'], c['stun'])")"
reply=$(invite_json)
src=$(sources "$reply")
log "invite endpoints: $src; stderr: $(cat "$dir/invite.err")"
check "the invite leaves the symmetric NAT's address out" [ "$src" = "192.168.7.2:41641=local" ]
check "the warning says why" grep -q "symmetric NAT" "$dir/invite.err"
check "status says it is not usable" grep -q '^public address: .*NAT symmetric (not usable in invites)' <<<"$(mg_cli home home status)"

pass
