#!/bin/sh
# Builds the Debian package as a release is built (release-deb.sh: a Release
# tree without sanitizers) and checks it as files only (test_lxc.sh installs
# it in a container): contents and modes, conffiles, maintainer
# scripts, Depends, the shipped configuration, the systemd unit, the man
# pages and the bash completion.
# Usage: test_deb.sh SOURCE_DIR BUILD_DIR      (exit 77: skipped)
set -eu

src=$1
build=$2
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

for tool in dpkg-deb cpack; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool is not installed (packaging/install-deps.sh installs it)"
		exit 77
	fi
done

deb=$("$src/tests/packaging/release-deb.sh" "$src" "$build") || exit 1
arch=$(dpkg --print-architecture)
version=$(sed -n 's/^project(meshgate VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ "$deb" = "$build/pkg-release/meshgate_${version}_${arch}.deb" ] ||
	bad "the package is $deb, expected meshgate_${version}_${arch}.deb"
echo "built $deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -c "$deb" >"$work/contents"
dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"

# Files and modes.
check_file() { # MODE PATH
	line=$(awk -v p="./$2" '$6 == p' "$work/contents")
	if [ -z "$line" ]; then
		bad "$2 is not in the package"
	elif [ "${line%% *}" != "$1" ]; then
		bad "$2 has mode ${line%% *}, expected $1"
	fi
}
check_file -rwxr-xr-x usr/sbin/meshgated
check_file -rwxr-xr-x usr/bin/meshgate
check_file -rw-r--r-- etc/meshgate/meshgate.conf
check_file -rw-r--r-- lib/systemd/system/meshgated.service
check_file -rw-r--r-- usr/share/man/man8/meshgated.8
check_file -rw-r--r-- usr/share/man/man1/meshgate.1
check_file -rw-r--r-- usr/share/man/man5/meshgate.conf.5
check_file -rw-r--r-- usr/share/bash-completion/completions/meshgate
check_file -rw-r--r-- usr/share/bash-completion/completions/meshgated
if awk '{print $2}' "$work/contents" | grep -v '^root/root$' >/dev/null; then
	bad "files not owned by root/root"
fi

# Control area: conffiles and maintainer scripts.
if [ "$(cat "$work/control/conffiles")" != /etc/meshgate/meshgate.conf ]; then
	bad "conffiles: $(cat "$work/control/conffiles" 2>/dev/null)"
fi
for script in postinst prerm postrm; do
	if [ ! -x "$work/control/$script" ]; then
		bad "$script missing or not executable"
	elif ! sh -n "$work/control/$script"; then
		bad "$script: syntax"
	fi
done
grep -q 'systemctl enable' "$work/control/postinst" || bad "postinst does not enable the unit"
grep -q 'meshgated --cleanup' "$work/control/prerm" || bad "prerm does not clean up"
grep -q 'rm -rf /var/lib/meshgate' "$work/control/postrm" || bad "postrm purge keeps the state"
grep -q 'addgroup --system --quiet meshgate' "$work/control/postinst" ||
	bad "postinst does not create the group meshgate"

# Control fields.
[ "$(dpkg-deb -f "$deb" Package)" = meshgate ] || bad "Package field"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || bad "Version field"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
if echo "$depends" | grep -q 'libasan\|libubsan'; then
	bad "Depends names a sanitizer runtime: the package came from a sanitizer build"
fi
libs="libsodium23 libb2-1 libconfig9 libjansson4 libnl-3-200 libnl-route-3-200 libnftnl11
	libmnl0 libmicrohttpd12 libsqlite3-0 libqrencode4 libpng16-16 libc6 libsystemd0"
# ldns (the resolver's wire format) once a packaged program calls it:
# none calls the resolver's answers yet, and dpkg-shlibdeps leaves out a
# library whose symbols a program does not use.
for prog in usr/sbin/meshgated usr/bin/meshgate; do
	if nm -D --undefined-only "$work/root/$prog" | grep -q ' ldns_'; then
		libs="$libs libldns3"
	fi
done
for lib in $libs; do
	echo "$depends" | tr ',' '\n' | grep -q "^ *$lib\( \|$\)" || bad "Depends lacks $lib"
	# The names must be real packages of this distribution.
	if command -v apt-cache >/dev/null 2>&1 && ! apt-cache show "$lib" >/dev/null 2>&1; then
		bad "Depends names $lib, which apt does not know"
	fi
done

# The shipped configuration is valid for the packaged daemon.
"$work/root/usr/sbin/meshgated" --check -c "$work/root/etc/meshgate/meshgate.conf" ||
	bad "the shipped meshgate.conf does not pass meshgated --check"
# A plain install is in no mesh yet: `meshgate join` or `meshgate init` decides.
grep -A3 '^coordinator = {' "$work/root/etc/meshgate/meshgate.conf" |
	grep -q '^ *enabled = false;' ||
	bad "the shipped config enables the coordinator (a plain install is in no mesh yet)"
# The status page keeps its default listen list (127.0.0.1:8080 and the mesh
# addresses; test_lxc.sh reaches both in a booted container).
grep -q '^ *listen *=' "$work/root/etc/meshgate/meshgate.conf" &&
	bad "the shipped config replaces the status page's default listen list"

# The systemd unit, checked against the package's own file tree.
unit="$work/root/lib/systemd/system/meshgated.service"
# shellcheck disable=SC2016
for key in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' Restart=on-failure \
	'ExecStopPost=/usr/sbin/meshgated --cleanup' StateDirectory=meshgate \
	RuntimeDirectory=meshgate CapabilityBoundingSet=CAP_NET_ADMIN NoNewPrivileges=yes \
	ProtectSystem=strict 'DeviceAllow=/dev/net/tun rw' ProtectHome=yes PrivateTmp=yes \
	SupplementaryGroups=meshgate; do
	grep -qF "$key" "$unit" || bad "unit lacks $key"
done
grep -q '^PrivateDevices=yes' "$unit" && bad "PrivateDevices=yes hides /dev/net/tun"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIPPED CHECK: systemd-analyze is not installed; the unit is not verified"
else
	# A copy whose meshgated is the packaged one, so ExecStart= resolves.
	sed "s|/usr/sbin/meshgated|$work/root/usr/sbin/meshgated|g" "$unit" \
		>"$work/meshgated.service"
	if systemd-analyze verify --man=no "$work/meshgated.service" >"$work/verify" 2>&1; then
		echo "systemd-analyze verify: ok"
	elif grep -qi 'not supported\|Failed to \(initialize\|setup\|set up\)\|Permission denied' \
		"$work/verify"; then
		cat "$work/verify"
		echo "SKIPPED CHECK: systemd-analyze cannot run on this machine"
	else
		cat "$work/verify"
		bad "systemd-analyze verify rejects meshgated.service"
	fi
fi

# Man pages render without warnings.
if command -v groff >/dev/null 2>&1; then
	for page in man1/meshgate.1 man5/meshgate.conf.5 man8/meshgated.8; do
		out=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z \
			"$work/root/usr/share/man/$page" 2>&1) || bad "$page: groff failed"
		[ -z "$out" ] || bad "$page: groff warnings: $out"
		LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$work/root/usr/share/man/$page" 2>/dev/null |
			grep -q 'SEE ALSO' || bad "$page renders empty"
	done
else
	bad "groff is not installed (groff-base)"
fi

# The completion file loads and completes.
if command -v bash >/dev/null 2>&1; then
	# shellcheck disable=SC2016
	got=$(bash -c '. "$1" || exit 1
		COMP_WORDS=(meshgate ro); COMP_CWORD=1; _meshgate; echo "${COMPREPLY[*]}"
		COMP_WORDS=(meshgated --ch); COMP_CWORD=1; _meshgated; echo "${COMPREPLY[*]}"' \
		sh "$work/root/usr/share/bash-completion/completions/meshgate" 2>&1) ||
		bad "bash completion does not load: $got"
	[ "$got" = "routes
--check" ] || bad "bash completion completes wrongly: $got"
fi

[ "$fail" -eq 0 ] && echo "package checks passed"
exit "$fail"
