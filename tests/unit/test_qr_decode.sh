#!/bin/sh
# QR codes as `meshgate device add --qr-png` writes them, read back by a
# real scanner (zbarimg, from zbar-tools): each decodes to exactly the text
# that went in, from a short configuration to one that needs a version 40
# code at error correction level L.
# Usage: test_qr_decode.sh QRPNG      (exit 77: skipped)
set -eu

qrpng=$1
if ! command -v zbarimg >/dev/null 2>&1; then
	echo "SKIP: zbarimg is not installed (zbar-tools; packaging/install-deps.sh)"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

# A device's configuration with n extra routes in AllowedIPs.
config() {
	printf '# meshgate device phone, hub home\n[Interface]\n'
	printf 'PrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n'
	printf 'Address = 100.64.0.7/32, fd7a:6d67:7465::7/128\nMTU = 1280\n\n[Peer]\n'
	printf 'PublicKey = 3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=\n'
	printf 'Endpoint = [2001:db8::1]:41641\n'
	printf 'AllowedIPs = 100.64.0.0/10, fd7a:6d67:7465::/48'
	i=0
	while [ "$i" -lt "$1" ]; do
		printf ', 10.%d.%d.0/24' $((i / 256)) $((i % 256))
		i=$((i + 1))
	done
	printf ', 0.0.0.0/0, ::/0\nPersistentKeepalive = 25\n'
}

for routes in 0 1 20 60 120 170; do
	config "$routes" >"$work/in.conf"
	size=$(wc -c <"$work/in.conf")
	if ! "$qrpng" "$work/code.png" <"$work/in.conf"; then
		echo "FAIL: $routes routes ($size bytes): no PNG"
		fail=1
		continue
	fi
	# zbarimg ends the symbol's data with a newline of its own.
	# (zbarimg complains on stderr when it finds no D-Bus.)
	if ! zbarimg --raw -q "$work/code.png" >"$work/out.raw" 2>"$work/zbar.err"; then
		echo "FAIL: $routes routes ($size bytes): zbarimg finds no code"
		cat "$work/zbar.err"
		fail=1
		continue
	fi
	head -c -1 "$work/out.raw" >"$work/out.conf"
	if cmp -s "$work/in.conf" "$work/out.conf"; then
		echo "ok: $routes routes, $size bytes decode exactly"
	else
		echo "FAIL: $routes routes ($size bytes) decode differently:"
		diff "$work/in.conf" "$work/out.conf" | head -5
		fail=1
	fi
done
exit "$fail"
