#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# A member as a device hub: `device_add` on laptop (a member, not the
# coordinator) goes over laptop's control channel to home, which registers
# the device with laptop as its hub; laptop's control socket answers
# "pending" at once and `device_status` then gives DEVICE and CONFIG
# (laptop's key, the endpoint home observes for laptop). The commands are
# sent as the control socket's JSON, as the CLI sends them. Refusals come
# back as one-line errors (a node's name, a taken name, an exit on a hub
# without an exit offer, another hub's device); with an exit offered by
# laptop but not approved, an exit device is added with the coordinator's
# warning passed on. The tablet runs only the stock client (wg-quick of the
# file made from CONFIG, wireguard-go): it reaches laptop and, through
# laptop, home, and home reaches it, until `device_remove` on laptop ends
# that; its old key is refused after. The coordinator's device bucket (10
# requests, one more every 6 s) refuses a burst. The device's private key
# (made here, as the CLI makes it) is never in laptop's or home's state
# directory or log.
#
#  laptop ── veth ── inet ── veth ── home
#  tablet ── veth ──/
#
#  laptop  up0  198.51.100.2/24   member, the tablet's hub
#  tablet  up0  198.51.101.2/24   wg-quick only
#  inet    lap0 198.51.100.1/24  pho0 198.51.101.1/24  home0 203.0.113.1/24
#  home    wan0 203.0.113.2/24    coordinator, prefix 100.64.0.0/10
# (mesh_topology_flat's "phone" namespace is the tablet.)
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

# field JSON KEY...: a member of a reply (an index for a list); strings
# bare, anything else as JSON.
field() {
	python3 -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else (v or {}).get(k)
print(v if isinstance(v, str) else json.dumps(v))' "$@"
}

# device NAME JSON: the command, then device_status every 200 ms while it
# is pending (15 s at most, as the CLI polls). Prints the last reply.
device() {
	local reply id i
	reply=$(mesh_ctl "$1" "$2")
	[ "$(field "$reply" result state)" = pending ] || {
		echo "$reply"
		return 0
	}
	id=$(field "$reply" result request)
	for ((i = 0; i < 75; i++)); do
		reply=$(mesh_ctl "$1" "{\"cmd\":\"device_status\",\"request\":\"$id\"}")
		[ "$(field "$reply" result state)" = pending ] || break
		sleep 0.2
	done
	echo "$reply"
}

add_req() { # NAME PUBLIC_KEY EXIT
	echo "{\"cmd\":\"device_add\",\"name\":\"$1\",\"public_key\":\"$2\",\"exit\":$3}"
}

remove_req() { # NAME
	echo "{\"cmd\":\"device_remove\",\"name\":\"$1\"}"
}

done_ok() { # REPLY
	[ "$(field "$1" ok)" = true ] && [ "$(field "$1" result state)" = "done" ]
}

refused_with() { # REPLY TEXT: a one-line error holding TEXT
	local error
	error=$(field "$1" error)
	[ "$(field "$1" ok)" = false ] && [ -n "$error" ] && [ "$(echo "$error" | wc -l)" -eq 1 ] &&
		grep -qF -- "$2" <<<"$error"
}

new_pub() {
	wg genkey | wg pubkey
}

# The devices laptop's cached netmap gives it to hub.
own_devices() {
	python3 -c 'import json, sys
doc = json.loads(json.load(open(sys.argv[1]))["netmap"])
print(" ".join(d["name"] for d in doc["self"].get("devices", [])))' \
		"$MESH_DIR/state-laptop/netmap.json"
}

# The wg-quick file of a done device_add, as the CLI writes it.
wg_quick_file() { # REPLY PRIVATE_KEY FILE
	python3 - "$1" "$2" >"$3" <<'PY'
import json, sys
r = json.loads(sys.argv[1])["result"]
d, c = r["device"], r["config"]
print("# meshgate device %s, hub %s" % (d["name"], c["hub"]))
print("[Interface]\nPrivateKey = %s\nAddress = %s\nMTU = %d\n"
      % (sys.argv[2], ", ".join(d["addresses"]), c["mtu"]))
print("[Peer]\nPublicKey = %s" % c["hub_public_key"])
if c["endpoint"]:
    print("Endpoint = %s" % c["endpoint"])
print("AllowedIPs = %s\nPersistentKeepalive = 25" % ", ".join(c["allowed_ips"]))
PY
	chmod 600 "$3"
}

mesh_topology_flat
mesh_conf_coordinator home
mesh_conf laptop ''
mesh_start home
mesh_start laptop
mesh_join laptop || fail "laptop did not join"
check "laptop reaches home through the mesh" wait_for 50 0.2 mesh_ping laptop 100.64.0.1
laptop_mesh=$(mesh_addr laptop)
laptop_pub=$(wg pubkey <"$MESH_DIR/laptop.key")
priv=$(wg genkey)
pub=$(echo "$priv" | wg pubkey)

# ---- a device added on a member: laptop is its hub ----
reply=$(mesh_ctl laptop "$(add_req tab "$pub" false)")
log "device_add: $reply"
check "device_add on a member answers pending with a request" \
	[ "$(field "$reply" result state)" = pending ]
id=$(field "$reply" result request)
for ((i = 0; i < 75; i++)); do
	reply=$(mesh_ctl laptop "{\"cmd\":\"device_status\",\"request\":\"$id\"}")
	[ "$(field "$reply" result state)" = pending ] || break
	sleep 0.2
done
log "device_status: $reply"
check "device_status: done" done_ok "$reply"
added=$reply
check "the device's hub is laptop" [ "$(field "$added" result device hub)" = laptop ]
check "it has an IPv6 /128 beside its IPv4 /32" \
	grep -q '/128' <<<"$(field "$added" result device addresses 1)"
check "CONFIG names laptop and its public key" \
	[ "$(field "$added" result config hub)/$(field "$added" result config hub_public_key)" = "laptop/$laptop_pub" ]
check "CONFIG's endpoint is laptop's, as home observes it" \
	[ "$(field "$added" result config endpoint)" = 198.51.100.2:41641 ]
check "CONFIG's allowed IPs hold the mesh prefixes" \
	grep -q '"100.64.0.0/10"' <<<"$(field "$added" result config allowed_ips)"
hubs_tab() {
	[ "$(own_devices)" = tab ]
}
check "laptop's netmap gives it tab to hub" wait_for 25 0.2 hubs_tab
check "the status request is kept for polling" \
	done_ok "$(mesh_ctl laptop "{\"cmd\":\"device_status\",\"request\":\"$id\"}")"
check "an unknown request is an error" \
	refused_with "$(mesh_ctl laptop '{"cmd":"device_status","request":"1"}')" "no device request 1"
tab4=$(field "$added" result device addresses 0)
tab4=${tab4%/32}

# ---- refusals, each one line ----
check "a node's name is refused" refused_with "$(device laptop "$(add_req home "$(new_pub)" false)")" ""
check "a taken device name is refused" refused_with "$(device laptop "$(add_req tab "$(new_pub)" false)")" ""
check "an exit on a hub without an exit offer is refused" \
	refused_with "$(device laptop "$(add_req pad "$(new_pub)" true)")" "laptop offers no exit node"
check "a name of digits and dots is refused at once" \
	refused_with "$(mesh_ctl laptop "$(add_req 10.1.2.3 "$(new_pub)" false)")" "not a valid device name"
check "a bad key is refused at once" \
	refused_with "$(mesh_ctl laptop "$(add_req pad AAAA false)")" "not a WireGuard key"
check "home hubs a device of its own" done_ok "$(device home "$(add_req nasdev "$(new_pub)" false)")"
check "laptop cannot remove home's device" \
	refused_with "$(device laptop "$(remove_req nasdev)")" nasdev

# ---- an exit offered by laptop but not approved: done, with a warning ----
mesh_conf laptop 'exit_node = { enabled = true; };'
mesh_reload laptop || fail "laptop did not reload"
check "laptop's exit offer reaches home" wait_for 50 0.2 mesh_has laptop routes_pending 0.0.0.0/0
reply=$(device laptop "$(add_req pad "$(new_pub)" true)")
log "pad: $reply"
check "an exit device on laptop is added, with exit_node" done_ok "$reply"
check "... and the warning that laptop's exit is not approved yet" \
	grep -qF "meshgate routes approve laptop 0.0.0.0/0 ::/0" <<<"$(field "$reply" result warnings 0)"
check "... and CONFIG says exit_node" [ "$(field "$reply" result config exit_node)" = true ]

# ---- the stock client on the tablet, through laptop ----
ifname="mgtab$MG_PID"
wg_quick_file "$added" "$priv" "$MESH_DIR/$ifname.conf"
MG_EXTRA_CLEANUP+=("rm -f /var/run/wireguard/$ifname.sock")
ns_exec phone env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
	wg-quick up "$MESH_DIR/$ifname.conf" >>"$MESH_DIR/wg-quick.log" 2>&1 ||
	{ cat "$MESH_DIR/wg-quick.log" >&2; fail "wg-quick up"; }
check "the tablet reaches laptop, its hub" wait_for 25 0.2 mesh_ping phone "$laptop_mesh"
check "the tablet reaches home through laptop" wait_for 25 0.2 mesh_ping phone 100.64.0.1
check "home reaches the tablet through laptop" wait_for 25 0.2 mesh_ping home "$tab4"

# ---- removal ----
t0=$(date +%s%N)
reply=$(device laptop "$(remove_req tab)")
log "device_remove: $reply"
check "device_remove on laptop: done" [ "$(field "$reply" result removed)" = tab ]
check "the tablet is cut off within seconds" wait_for 25 0.2 not mesh_ping phone "$laptop_mesh"
log "cut off $(((($(date +%s%N) - t0) / 1000000))) ms after device_remove"
check "its old key is refused" refused_with "$(device laptop "$(add_req tab "$pub" false)")" ""
check "the name is free again" done_ok "$(device laptop "$(add_req tab "$(new_pub)" false)")"

# ---- the coordinator's device bucket: a burst is refused, not queued ----
# Three rounds of 8 requests (the member's table holds 8), each sent at once
# and then polled to its outcome: 24 requests within a few seconds against
# a bucket of 10 that gains one every 6 s, however slow the machine.
burst_refused() {
	python3 - "$MESH_DIR/laptop.sock" <<'PY'
import json, socket, sys, time

def ctl(req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return json.loads(buf)

def outcome(reply):
    deadline = time.monotonic() + 15
    while reply.get("ok") and reply["result"].get("state") == "pending":
        if time.monotonic() > deadline:
            return "still pending"
        time.sleep(0.1)
        reply = ctl({"cmd": "device_status", "request": reply["result"]["request"]})
    return reply.get("error") or reply["result"].get("state")

outcomes = []
for r in range(3):
    sent = [ctl({"cmd": "device_remove", "name": "none%d_%d" % (r, i)}) for i in range(8)]
    outcomes += [outcome(x) for x in sent]
refused = sum("too many device requests" in o for o in outcomes)
other = [o for o in outcomes if "too many device requests" not in o and "no device named" not in o]
print("# burst: %d of %d refused by the bucket, unexpected: %s" % (refused, len(outcomes), other))
sys.exit(0 if refused and not other else 1)
PY
}
check "a burst of device requests is refused" burst_refused

# ---- the device's private key stayed on the tablet ----
check "no private key in laptop's or home's state or log" \
	not grep -rqF -- "$priv" "$MESH_DIR/state-laptop" "$MESH_DIR/state-home" \
	"$MESH_DIR/laptop.log" "$MESH_DIR/home.log"

ns_exec phone wg-quick down "$MESH_DIR/$ifname.conf" >>"$MESH_DIR/wg-quick.log" 2>&1 || true
pass
