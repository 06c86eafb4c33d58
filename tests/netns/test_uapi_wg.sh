#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Stock `wg` as meshgated's configuration tool, through the UAPI socket:
# a peer configured only with `wg set` (psk, endpoint, allowed IPs,
# keepalive) carries traffic to wireguard-go; show/showconf/setconf/syncconf
# round trips; listen port and fwmark changes; peer removal; a new private
# key; the raw protocol (several requests on one connection, errno values);
# no key material in the log; the socket file goes away with the daemon and
# a stale one is replaced on restart.
#
#   a: meshgated (no peers in its config)        b: wireguard-go + wg
#   mga<pid> 10.20.0.1/24                        wgb<pid> 10.20.0.2/24
#   veth-a   192.0.2.1/24 ────────────────────── veth-b   192.0.2.2/24
#            UDP 51820 (later 51830)                      UDP 51821
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip ping wg wireguard-go python3
root_state_snapshot

mga=mga$MG_PID
wgb=wgb$MG_PID
sock=/var/run/wireguard/$mga.sock
dir=$(mg_workdir)
MG_EXTRA_CLEANUP+=("rm -f '$sock'")

ns_create a b
veth_pair a veth-a b veth-b
ns_ip a addr add 192.0.2.1/24 dev veth-a
ns_ip b addr add 192.0.2.2/24 dev veth-b

key_a=$(mg_genkey)
key_b=$(mg_genkey)
pub_a=$(mg_pubkey "$key_a")
pub_b=$(mg_pubkey "$key_b")
psk=$(wg genpsk)
echo "$key_a" >"$dir/a.key"
echo "$key_b" >"$dir/b.key"
echo "$psk" >"$dir/psk"
chmod 600 "$dir/a.key" "$dir/b.key" "$dir/psk"

mg_config "$dir/a.conf" "$mga" 51820 "$dir/a.key" '"10.20.0.1/24"' ""

wggo_start b "$wgb"
ns_exec b wg set "$wgb" private-key "$dir/b.key" listen-port 51821 \
	peer "$pub_a" preshared-key "$dir/psk" allowed-ips 10.20.0.1/32
ns_ip b addr add 10.20.0.2/24 dev "$wgb"
ns_ip b link set "$wgb" up

mg_start a a "$dir/a.conf"

wga() {
	ns_exec a wg "$@"
}

# Sends raw UAPI text on one connection, prints everything that comes back.
uapi_raw() {
	python3 - "$sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
PY
}

# ---- show, and a peer configured only through wg set ----
check "the UAPI socket exists, mode 0600" \
	sh -c "test -S '$sock' && [ \$(stat -c %a '$sock') = 600 ]"
check "wg show: public key" sh -c "ip netns exec $(ns_name a) wg show $mga public-key | grep -qx '$pub_a'"
check "wg show: listen port" sh -c "ip netns exec $(ns_name a) wg show $mga listen-port | grep -qx 51820"
check "wg show: no peers yet" sh -c "[ -z \"\$(ip netns exec $(ns_name a) wg show $mga peers)\" ]"
check "wg show interfaces lists it" sh -c "wg show interfaces | tr ' ' '\n' | grep -qx $mga"

check "wg set adds a peer with psk, endpoint, allowed IPs, keepalive" \
	wga set "$mga" peer "$pub_b" preshared-key "$dir/psk" endpoint 192.0.2.2:51821 \
	allowed-ips 10.20.0.2/32,10.99.1.7/16 persistent-keepalive 25
check "the tunnel works (a -> b)" wait_for 30 0.5 ns_exec a ping -c1 -W1 10.20.0.2
check "the tunnel works (b -> a)" ns_exec b ping -c1 -W1 10.20.0.1
check "wg show: handshake, transfer and keepalive" \
	sh -c "ip netns exec $(ns_name a) wg show $mga dump | awk -F'\t' -v p='$pub_b' -v k='$psk' \
		'NR > 1 && \$1 == p && \$2 == k && \$3 == \"192.0.2.2:51821\" &&
		 \$4 == \"10.20.0.2/32,10.99.0.0/16\" && \$5 > 0 && \$6 > 0 && \$7 > 0 && \$8 == 25 { ok = 1 }
		 END { exit !ok }'"

# ---- showconf / setconf / syncconf ----
wga showconf "$mga" >"$dir/a.wgconf"
check "showconf has the key, port and peer" \
	sh -c "grep -qx 'PrivateKey = $key_a' '$dir/a.wgconf' &&
	       grep -qx 'ListenPort = 51820' '$dir/a.wgconf' &&
	       grep -qx 'PublicKey = $pub_b' '$dir/a.wgconf' &&
	       grep -qx 'PresharedKey = $psk' '$dir/a.wgconf' &&
	       grep -qx 'AllowedIPs = 10.20.0.2/32, 10.99.0.0/16' '$dir/a.wgconf' &&
	       grep -qx 'Endpoint = 192.0.2.2:51821' '$dir/a.wgconf' &&
	       grep -qx 'PersistentKeepalive = 25' '$dir/a.wgconf'"
check "setconf with showconf's output is accepted" wga setconf "$mga" "$dir/a.wgconf"
wga showconf "$mga" >"$dir/a2.wgconf"
check "showconf reads the same after setconf" diff -u "$dir/a.wgconf" "$dir/a2.wgconf"
check "the tunnel works after setconf" wait_for 30 0.5 ns_exec a ping -c1 -W1 10.20.0.2
sed 's|^AllowedIPs = .*|AllowedIPs = 10.20.0.2/32|' "$dir/a.wgconf" >"$dir/a3.wgconf"
check "syncconf applies a difference" wga syncconf "$mga" "$dir/a3.wgconf"
check "syncconf dropped the extra allowed IP" \
	sh -c "ip netns exec $(ns_name a) wg show $mga allowed-ips | grep -qx '$pub_b	10.20.0.2/32'"

# ---- listen port and fwmark ----
check "wg set listen-port rebinds" wga set "$mga" listen-port 51830
check "wg show reads the new port" \
	sh -c "ip netns exec $(ns_name a) wg show $mga listen-port | grep -qx 51830"
check "the daemon listens on UDP 51830" \
	sh -c "ip netns exec $(ns_name a) ss -Hlun | grep -q ':51830 '"
check "the tunnel follows the new port (b roams)" wait_for 40 0.5 ns_exec a ping -c1 -W1 10.20.0.2
check "wg set fwmark" wga set "$mga" fwmark 0x1234
check "wg show reads the fwmark" sh -c "ip netns exec $(ns_name a) wg show $mga fwmark | grep -qx 0x1234"
check "wg set fwmark off" wga set "$mga" fwmark off
check "fwmark is off again" sh -c "ip netns exec $(ns_name a) wg show $mga fwmark | grep -qx off"

# ---- raw protocol ----
out=$(uapi_raw 'set=1\nfwmark=0\n\nget=1\n\n')
check "raw: set then get on one connection" \
	sh -c "printf '%s\n' \"\$1\" | head -1 | grep -qx errno=0 &&
	       [ \$(printf '%s\n' \"\$1\" | grep -c '^errno=0\$') = 2 ] &&
	       printf '%s\n' \"\$1\" | grep -qx 'listen_port=51830'" _ "$out"
check "raw: keys are hex in get" \
	sh -c "printf '%s\n' \"\$1\" | grep -Eqx 'public_key=[0-9a-f]{64}'" _ "$out"
check "raw: an unknown key is EINVAL" \
	sh -c "[ \"\$(printf '%s' \"\$1\")\" = 'errno=-22' ]" _ "$(uapi_raw 'set=1\nno_such_key=1\n\n')"
check "raw: a line without '=' is EPROTO" \
	sh -c "[ \"\$(printf '%s' \"\$1\")\" = 'errno=-71' ]" _ "$(uapi_raw 'set=1\nlisten_port\n\n')"
check "raw: a refused set changed nothing" \
	sh -c "ip netns exec $(ns_name a) wg show $mga listen-port | grep -qx 51830"
ns_bg a python3 -c 'import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 51840))
time.sleep(60)'
wait_for 50 0.1 ns_exec a sh -c 'ss -Hlun | grep -q ":51840 "'
check "wg reports the daemon's error (port in use)" \
	sh -c "! ip netns exec $(ns_name a) wg set $mga listen-port 51840 2>'$dir/wg.err' &&
	       grep -q 'Address already in use' '$dir/wg.err'"
check "the old port stays" \
	sh -c "ip netns exec $(ns_name a) wg show $mga listen-port | grep -qx 51830"

# ---- removal and a new private key ----
check "wg set peer remove" wga set "$mga" peer "$pub_b" remove
check "the peer is gone" sh -c "[ -z \"\$(ip netns exec $(ns_name a) wg show $mga peers)\" ]"
check "traffic stops" not ns_exec a ping -c1 -W1 10.20.0.2
key_n=$(mg_genkey)
echo "$key_n" >"$dir/n.key"
check "wg set private-key" wga set "$mga" private-key "$dir/n.key"
check "wg show reads the new public key" \
	sh -c "ip netns exec $(ns_name a) wg show $mga public-key | grep -qx '$(mg_pubkey "$key_n")'"

# ---- secrets and lifecycle ----
check "no key material in the log" \
	sh -c "! grep -qF -e '$key_a' -e '$key_n' -e '$psk' '$dir/a.log' &&
	       ! grep -qiF -e \"\$(echo '$key_a' | base64 -d | od -An -tx1 | tr -d ' \n')\" '$dir/a.log'"
mg_stop a
check "SIGTERM removed the socket" not test -e "$sock"
# A daemon killed outright leaves its socket; the next start replaces it.
mg_start a a2 "$dir/a.conf"
check "a restart answers" wait_for 50 0.1 ns_exec a wg show "$mga" listen-port
mg_stop a2 KILL
check "SIGKILL leaves a stale socket" test -S "$sock"
# mg_start waits for the control socket: drop the stale one so it waits for the new daemon.
rm -f "$dir/$mga.sock"
mg_start a a3 "$dir/a.conf"
check "a restart over the stale socket answers" \
	sh -c "ip netns exec $(ns_name a) wg show $mga listen-port | grep -qx 51820"
check "the new socket is 0600" sh -c "[ \$(stat -c %a '$sock') = 600 ]"
mg_stop a3
check "the socket is gone again" wait_for 50 0.1 not test -e "$sock"

pass
