#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The status page: GET /, /api/status (the same document as `meshgate status
# --json`), /metrics and /healthz on 127.0.0.1 and the mesh address; the Host
# check, methods, cross-site refusals and security headers; no private key in
# any response; the page rendered in headless Chromium (the peer's row, a
# phone-sized screenshot, hostile strings rendered as text, a peer's exit
# offer and the devices table fed by a stand-in status document); preflight
# reporting disabled forwarding, what `meshgated --preflight` checks while
# the daemon is stopped, and a missing /dev/net/tun.
#
#   a: meshgated, web on 127.0.0.1:8080 + 10.10.0.1:8080     b: wireguard-go + wg
#   mga<pid> 10.10.0.1/24                                     wgb<pid> 10.10.0.2/24
#   veth-a   192.0.2.1/24  ─────────────────────────────────── veth-b 192.0.2.2/24
#            UDP 51820                                                 UDP 51821
#   lan0     192.168.77.1/24  ───────────────────────────────── lanb (down the LAN side)
#   a serves 192.168.77.0/24, so its plan needs ip_forward
#
# MG_WEB_SCREENSHOT=FILE keeps a copy of the phone-sized screenshot.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip ping wg wireguard-go curl python3 unshare
root_state_snapshot

mga=mga$MG_PID
wgb=wgb$MG_PID
dir=$(mg_workdir)
here=$(dirname "$(readlink -f "$0")")
src=${MG_SOURCE_DIR:-$(readlink -f "$here/../..")}

ns_create a b
veth_pair a veth-a b veth-b
ns_ip a addr add 192.0.2.1/24 dev veth-a
ns_ip b addr add 192.0.2.2/24 dev veth-b
veth_pair a lan0 b lanb
ns_ip a addr add 192.168.77.1/24 dev lan0

key_a=$(mg_genkey)
key_b=$(mg_genkey)
pub_a=$(mg_pubkey "$key_a")
pub_b=$(mg_pubkey "$key_b")
echo "$key_a" >"$dir/a.key"
chmod 600 "$dir/a.key"
hex_a=$(python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$key_a")

mg_config "$dir/a.conf" "$mga" 51820 "$dir/a.key" '"10.10.0.1/24"' \
	"{ name = \"wggo-peer\"; public_key = \"$pub_b\"; endpoint = \"192.0.2.2:51821\";
	   allowed_ips = [\"10.10.0.2/32\"]; }"
sed -i 's|^web = .*|web = { listen = ["127.0.0.1:8080", "10.10.0.1:8080"]; };\nsubnet_router = { routes = ["192.168.77.0/24"]; };|' "$dir/a.conf"
check "config is valid" "$MESHGATED" --check -c "$dir/a.conf"

wggo_start b "$wgb"
echo "$key_b" >"$dir/b.key"
ns_exec b wg set "$wgb" private-key "$dir/b.key" listen-port 51821 \
	peer "$pub_a" allowed-ips 10.10.0.1/32,192.168.77.0/24
ns_ip b addr add 10.10.0.2/24 dev "$wgb"
ns_ip b link set "$wgb" up

mg_start a a "$dir/a.conf"
check "a -> b ping (a handshake to show)" wait_for 30 0.5 ns_exec a ping -c1 -W1 10.10.0.2
check "the page answers on 127.0.0.1:8080" wait_for 50 0.1 ns_exec a curl -sf http://127.0.0.1:8080/healthz
# The page serves the document the node publishes every second: wait for
# the one that has the handshake.
handshake_shown() {
	ns_exec a curl -sf http://127.0.0.1:8080/api/status |
		python3 -c 'import json,sys; sys.exit(not all(p["last_handshake"] > 0 for p in json.load(sys.stdin)["peers"]))'
}
check "the published status shows the handshake" wait_for 50 0.2 handshake_shown

# curl inside a: prints "<status>" and keeps headers and body in files.
get() {
	local out=$1
	shift
	ip netns exec "$(ns_name a)" curl -s -o "$dir/$out.body" -D "$dir/$out.head" \
		-w '%{http_code}' --max-time 5 "$@"
}
status_is() {
	local want=$1 got
	shift
	got=$(get "$@") || true
	[ "$got" = "$want" ] || { log "got HTTP $got, wanted $want: $*"; return 1; }
}
header_is() { # FILE NAME VALUE
	grep -qix "$2: $3"$'\r' "$dir/$1.head"
}

# ---- routes, on both listen addresses ----
check "GET / is the page" status_is 200 page http://127.0.0.1:8080/
check "the page is HTML" header_is page Content-Type "text/html; charset=utf-8"
check "the page loads only its own script" grep -q '<script src="/app.js" defer></script>' "$dir/page.body"
check "GET /app.js" status_is 200 js http://127.0.0.1:8080/app.js
check "GET /style.css" status_is 200 css http://127.0.0.1:8080/style.css
check "GET /healthz is ok" sh -c "[ \"\$(cat $dir/css.body | head -c0)\" = '' ] && ip netns exec $(ns_name a) curl -s http://127.0.0.1:8080/healthz | grep -qx ok"
check "GET /api/status on the mesh address" status_is 200 api http://10.10.0.1:8080/api/status
check "GET /metrics" status_is 200 metrics http://127.0.0.1:8080/metrics
check "metrics are Prometheus text" header_is metrics Content-Type "text/plain; version=0.0.4; charset=utf-8"
check "an unknown path is 404" status_is 404 nf http://127.0.0.1:8080/nope
check "HEAD / has headers and no body" \
	sh -c "[ \"\$(ip netns exec $(ns_name a) curl -s -I -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/)\" = 200 ]"
check "nothing listens on the veth address" \
	not ns_exec a curl -s --max-time 2 -o /dev/null http://192.0.2.1:8080/healthz

# ---- security headers on pages and refusals alike ----
for r in page api metrics nf; do
	check "$r: Content-Security-Policy" header_is $r Content-Security-Policy \
		"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	check "$r: X-Frame-Options" header_is $r X-Frame-Options DENY
	check "$r: X-Content-Type-Options" header_is $r X-Content-Type-Options nosniff
	check "$r: Cache-Control" header_is $r Cache-Control no-store
	check "$r: Referrer-Policy" header_is $r Referrer-Policy no-referrer
done

# ---- Host, method and cross-site checks ----
check "Host: evil.example is refused (421)" status_is 421 evil -H 'Host: evil.example' http://127.0.0.1:8080/api/status
check "Host: evil.example:8080 is refused" status_is 421 evil2 -H 'Host: evil.example:8080' http://127.0.0.1:8080/
check "the refusal carries the headers too" header_is evil X-Frame-Options DENY
check "Host: localhost:8080 is fine" status_is 200 lh -H 'Host: localhost:8080' http://127.0.0.1:8080/api/status
check "Host: localhost on another port is refused" status_is 421 lh2 -H 'Host: localhost:9090' http://127.0.0.1:8080/
check "no Host at all is refused" status_is 421 noh -H 'Host:' --http1.0 http://127.0.0.1:8080/
check "POST is 405" status_is 405 post -X POST -d x=1 http://127.0.0.1:8080/api/status
check "405 says what is allowed" header_is post Allow "GET, HEAD"
check "PUT is 405" status_is 405 put -X PUT -d x http://127.0.0.1:8080/
check "DELETE is 405" status_is 405 del -X DELETE http://127.0.0.1:8080/api/status
check "Sec-Fetch-Site: cross-site is 403" status_is 403 xs -H 'Sec-Fetch-Site: cross-site' http://127.0.0.1:8080/api/status
check "Sec-Fetch-Site: same-origin is fine" status_is 200 so -H 'Sec-Fetch-Site: same-origin' http://127.0.0.1:8080/api/status
check "a foreign Origin is 403" status_is 403 xo -H 'Origin: http://evil.example' http://127.0.0.1:8080/api/status
check "Origin: null is 403" status_is 403 xn -H 'Origin: null' http://127.0.0.1:8080/metrics
check "our own Origin is fine" status_is 200 oo -H 'Origin: http://10.10.0.1:8080' http://10.10.0.1:8080/api/status

# ---- the JSON contract: the CLI's document, key for key ----
mg_cli a a status --json >"$dir/cli.json"
get api2 http://127.0.0.1:8080/api/status >/dev/null
check "/api/status has the keys of meshgate status --json, and the contract's" \
	python3 - "$dir/cli.json" "$dir/api2.body" <<'PY'
import json, sys
cli, web = (json.load(open(p)) for p in sys.argv[1:3])
def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__ if v is not None else "null"
def keys(v, path=""):
    out = set()
    if isinstance(v, dict):
        for k, x in v.items():
            out |= {path + "/" + k} | keys(x, path + "/" + k)
    elif isinstance(v, list):
        for x in v:
            out |= keys(x, path + "[]")
    return out
assert keys(cli) == keys(web), keys(cli) ^ keys(web)
need_self = {"name", "public_key", "addresses", "listen_port", "coordinator",
             "advertised_routes", "exit_node_offered", "exit_node_in_use", "exit_node"}
assert web["self"]["exit_node"] == {"wanted": None, "state": "off", "reason": None}, web["self"]
need_peer = {"name", "public_key", "addresses", "endpoint", "path", "last_handshake",
             "rx_bytes", "tx_bytes", "routes", "exit_node", "exit_node_offered", "online"}
assert need_self <= set(web["self"]), need_self - set(web["self"])
assert web["peers"] and need_peer <= set(web["peers"][0])
p = web["peers"][0]
assert p["name"] == "wggo-peer" and p["online"] is True and p["path"] == "direct", p
assert p["exit_node_offered"] is False, p  # a static peer offers none
assert web["devices"] == [] and cli["devices"] == [], web["devices"]
checks = {c["check"]: c for c in web["preflight"]}
assert set(checks) == {"tun", "forwarding", "rp_filter", "nftables", "mtu", "udp_port", "clock"}, checks
for c in checks.values():
    assert set(c) == {"check", "ok", "message", "fix"}, c
assert checks["tun"]["ok"] is True and checks["clock"]["ok"] is True
assert checks["forwarding"]["ok"] is True, checks["forwarding"]
PY

check "every /metrics line is a comment or name{labels} value" \
	python3 - "$dir/metrics.body" <<'PY'
import re, sys
sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.eE+-]+$')
lines = open(sys.argv[1]).read().splitlines()
bad = [l for l in lines if not (l.startswith("# HELP ") or l.startswith("# TYPE ") or sample.match(l))]
assert not bad, bad[:5]
text = "\n".join(lines)
for want in ('meshgate_peer_rx_bytes_total{peer="wggo-peer"', 'meshgate_peer_handshake_age_seconds{peer="wggo-peer"',
             'meshgate_peer_path{peer="wggo-peer"', 'meshgate_dropped_packets_total{reason=',
             'meshgate_handshakes_total{type="initiation"', 'meshgate_sessions_established_total ',
             'meshgate_routes{kind="advertised"} 1', 'meshgate_info{', 'meshgate_devices 0',
             'meshgate_peer_exit_node_offered{peer="wggo-peer"', 'meshgate_exit_node_blocked 0'):
    assert want in text, want
PY

# ---- no secret in any response ----
for r in page js css api api2 metrics nf evil post xs; do
	check "$r: no private key (base64 or hex)" \
		not grep -qiF -e "$key_a" -e "$hex_a" -e "$key_b" "$dir/$r.body" "$dir/$r.head"
done

# ---- preflight: forwarding turned off behind the daemon's back ----
ns_exec a sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
forwarding_off_at=$SECONDS
# The system checks rerun every 10 s (node_status.h): wait for the next run.
check "preflight reports ip_forward off; the fix is a reload, not sysctl -w" \
	wait_for 60 0.5 sh -c "ip netns exec $(ns_name a) curl -s http://127.0.0.1:8080/api/status |
	       python3 -c 'import json,sys; c={x[\"check\"]:x for x in json.load(sys.stdin)[\"preflight\"]}[\"forwarding\"]; sys.exit(not (c[\"ok\"] is False and \"systemctl reload meshgated\" in c[\"fix\"] and \"sysctl -w\" not in c[\"fix\"]))'"
log "preflight showed it after $((SECONDS - forwarding_off_at)) s"
check "meshgate status prints the failed check and its fix" \
	wait_for 60 0.5 sh -c "$(printf '%q ' ip netns exec "$(ns_name a)" "$MESHGATE" --socket "$dir/$mga.sock" status) >$dir/status.txt &&
	       grep -q '^preflight: forwarding: net.ipv4.ip_forward is 0, needs 1' $dir/status.txt &&
	       grep -q '^  fix: meshgated set these when it started, and something changed them since' $dir/status.txt"
check "metrics show the failed check" \
	wait_for 60 0.5 sh -c "ip netns exec $(ns_name a) curl -s http://127.0.0.1:8080/metrics | grep -qx 'meshgate_preflight_ok{check=\"forwarding\"} 0'"
ns_exec a sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'

# ---- the page in headless Chromium ----
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chromium_bin" ]; then
	chrome() {
		local ns=$1
		shift
		HOME=$dir timeout 90 ip netns exec "$(ns_name "$ns")" "$chromium_bin" --headless \
			--no-sandbox --disable-gpu --disable-quic --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--disable-dev-shm-usage --user-data-dir="$dir/chromium" "$@" 2>>"$dir/chromium.log"
	}
	chrome a --virtual-time-budget=5000 --dump-dom http://127.0.0.1:8080/ >"$dir/dom.html" || true
	check "Chromium: the peer's row after the first refresh" \
		grep -q '<td class="peer-name" data-label="Name">wggo-peer</td>' "$dir/dom.html"
	check "Chromium: this node's facts" grep -q '<dd>10.10.0.1/24</dd>' "$dir/dom.html"
	check "Chromium: the preflight list" grep -q '<strong>clock</strong>' "$dir/dom.html"
	check "Chromium: no error state" not grep -q 'cannot reach the daemon' "$dir/dom.html"
	check "Chromium: no exit chosen, no blocked-exit banner" \
		grep -q '<p id="exit-banner" class="banner" role="alert" hidden="">' "$dir/dom.html"
	check "Chromium: no devices, no devices table" \
		grep -q '<section id="devices" aria-labelledby="devices-h" hidden="">' "$dir/dom.html"
	(cd "$dir" && chrome a --virtual-time-budget=5000 --hide-scrollbars --window-size=420,900 \
		--screenshot="$dir/phone.png" http://127.0.0.1:8080/ >/dev/null) || true
	check "Chromium: a phone-sized screenshot" \
		python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); sys.exit(not (d[:8]==b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", d[16:24])==(420,900)))' "$dir/phone.png"
	[ -z "${MG_WEB_SCREENSHOT:-}" ] || cp "$dir/phone.png" "$MG_WEB_SCREENSHOT"

	# Hostile strings in every field: the page must keep them text.
	ns_bg a python3 "$here/webfake.py" "$src/webui/assets" 8081
	wait_for 50 0.1 ns_exec a curl -sf -o /dev/null http://127.0.0.1:8081/
	chrome a --virtual-time-budget=5000 --dump-dom http://127.0.0.1:8081/ >"$dir/hostile.html" || true
	check "hostile: the names arrive, escaped as text" \
		grep -q '&lt;img src=x onerror=alert(1)&gt;' "$dir/hostile.html"
	check "hostile: no element made from data" not grep -qi '<img' "$dir/hostile.html"
	check "hostile: the coordinator's nodes and pending routes" \
		sh -c "grep -q '<section id=\"coordinator\" aria-labelledby=\"coord-h\">' $dir/hostile.html &&
		       grep -q 'class=\"unknown\">&lt;img src=x onerror=alert(1)&gt;</span>' $dir/hostile.html"
	check "hostile: the audit log, a row per entry, every field as text" \
		sh -c "grep -q '<section id=\"audit\" aria-labelledby=\"audit-h\">' $dir/hostile.html &&
		       [ \"\$(grep -o '<tr class=\"audit\">' $dir/hostile.html | wc -l)\" = 2 ] &&
		       grep -q '<td data-label=\"Who\">&lt;img src=x onerror=alert(1)&gt;</td>' $dir/hostile.html &&
		       grep -q '<td data-label=\"Action\">approve-route</td><td data-label=\"Subject\">home</td>' $dir/hostile.html"
	check "hostile: internet blocked, a banner with the reason as text" \
		grep -q '<p id="exit-banner" class="banner" role="alert">&lt;img src=x onerror=alert(1)&gt;</p>' "$dir/hostile.html"
	check "hostile: the chosen exit marked blocked" \
		grep -q '<dd><span class="bad">&lt;img src=x onerror=alert(1)&gt; (blocked)</span></dd>' "$dir/hostile.html"
	check "a peer's exit offer pending approval" \
		grep -q '<td data-label="Exit"><span class="unknown">pending approval</span></td>' "$dir/hostile.html"
	check "a peer's approved exit offer" \
		grep -q '<td data-label="Exit"><span class="ok">offered</span></td><td data-label="Online">' "$dir/hostile.html"
	check "the devices table: shown, one row per device" \
		sh -c "grep -q '<section id=\"devices\" aria-labelledby=\"devices-h\">' $dir/hostile.html &&
		       [ \"\$(grep -o '<tr class=\"device\">' $dir/hostile.html | wc -l)\" = 3 ]"
	check "a device this node hubs: its row with endpoint, traffic, exit allowed" \
		python3 - "$dir/hostile.html" <<'PY'
import re, sys
html = open(sys.argv[1]).read()
rows = re.findall(r'<tr class="device">(.*?)</tr>', html)
cells = [dict(re.findall(r'<td[^>]*data-label="([^"]+)"[^>]*>(.*?)</td>', r)) for r in rows]
phone = next(c for c in cells if c["Name"] == "phone")
assert phone["Addresses"] == "100.64.0.7, fd7a:6d67:7465::7", phone
assert phone["Hub"] == "home (this node)" and phone["Endpoint"] == "198.51.100.7:4500", phone
assert phone["Rx"] == "1.5 KiB" and phone["Handshake"] == "never", phone
assert "allowed" in phone["Exit"] and ">online<" in phone["Online"], phone
tablet = next(c for c in cells if c["Name"] == "tablet")
assert tablet["Hub"] == "office" and tablet["Endpoint"] == "-" and "via hub" in tablet["Online"], tablet
hostile = next(c for c in cells if c["Name"].startswith("&lt;img"))
assert hostile["Hub"].startswith("&lt;img") and "<img" not in "".join(hostile.values()), hostile
PY
else
	log "no chromium: the page is not rendered (packaging/install-deps.sh installs it)"
fi

# ---- web.enabled = false ----
check "meshgated stops" mg_stop a TERM
sed -i 's|^web = .*|web = { enabled = false; };|' "$dir/a.conf"
mg_start a a2 "$dir/a.conf"
check "web.enabled = false: nothing listens" \
	not ns_exec a curl -s --max-time 2 -o /dev/null http://127.0.0.1:8080/healthz
check "meshgated stops again" mg_stop a2 TERM

# ---- meshgated --preflight while the daemon is stopped ----
# It opens /dev/net/tun and reads the sysctls; it creates no interface and
# binds no port, and says so; forwarding off is the daemon's to turn on.
ns_exec a sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
check "meshgated --preflight passes without the daemon" \
	sh -c "ip netns exec $(ns_name a) $(printf '%q' "$MESHGATED") --preflight -c $dir/a.conf >$dir/stopped.txt 2>&1"
log "$(cat "$dir/stopped.txt")"
check "tun: says what it checked, not that $mga is up" \
	sh -c "grep -qx 'ok   tun: /dev/net/tun opens; meshgated creates $mga when it starts (checked without the daemon)' $dir/stopped.txt &&
	       ! grep -q 'is up' $dir/stopped.txt"
check "udp_port: not bound, not tested, and it says so" \
	grep -qx '?    udp_port: listen_port 51820: neither bound nor tested (checked without the daemon)' "$dir/stopped.txt"
check "forwarding: off now, and meshgated sets it when it starts (no sysctl -w fix)" \
	sh -c "grep -qx 'ok   forwarding: net.ipv4.ip_forward is 0, meshgated sets it to 1 when it starts' $dir/stopped.txt &&
	       ! grep -q 'sysctl -w' $dir/stopped.txt"
check "no interface was left behind" not ns_exec a ip link show "$mga"

# ---- no /dev/net/tun (a container without the device) ----
hide_tun() {
	ip netns exec "$(ns_name a)" unshare -m sh -c 'mount -t tmpfs tmpfs /dev/net && exec "$@"' sh "$@"
}
hide_tun "$MESHGATED" -f -c "$dir/a.conf" >"$dir/notun.log" 2>&1 && fail "meshgated started without /dev/net/tun"
check "without /dev/net/tun the daemon says how to pass it into LXC" \
	sh -c "grep -q 'cannot open /dev/net/tun' $dir/notun.log &&
	       grep -q 'lxc.cgroup2.devices.allow: c 10:200 rwm' $dir/notun.log &&
	       grep -q 'lxc.mount.entry: /dev/net/tun dev/net/tun none bind,create=file' $dir/notun.log"
hide_tun "$MESHGATED" --preflight -c "$dir/a.conf" >"$dir/preflight.txt" 2>&1 && fail "preflight passed without /dev/net/tun"
check "meshgated --preflight reports the missing device and the fix" \
	sh -c "grep -q '^FAIL tun: /dev/net/tun: No such file or directory' $dir/preflight.txt &&
	       grep -q 'fix:   lxc.cgroup2.devices.allow: c 10:200 rwm' $dir/preflight.txt &&
	       grep -q '^ok   clock:' $dir/preflight.txt"
pass "status page"
