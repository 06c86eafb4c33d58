#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2317,SC2119 # functions run through check
# The Proxmox LXC template, built from the release package and booted as an
# unprivileged container with Debian's lxc-start (what `pct start` runs):
# systemd reaches "running" with meshgated.service active on the shipped
# configuration (in no mesh by itself), the first boot made the node's key
# and made it a coordinator as `meshgate init` does, the status page answers
# inside, the control socket is 0660 and the group meshgate's, whose members
# run `meshgate status`; a laptop in a namespace on the host
# side joins with an invite and reaches the appliance and its status page
# through the tunnel; reload, package removal (service stopped, kernel
# objects gone), reinstall and purge on the container's real systemd. A
# second container without the TUN device lines fails with the message that
# names the fix; a third, given a device node it may not open (mode 0600),
# says the host's device must be mode 0666.
#
#   appliance (LXC, unprivileged, uid 0 = host 100000)      laptop (namespace)
#     eth0 192.0.2.2/24 ─────── veth ─────────────────────── up0 192.0.2.1/24
#     (default via 192.0.2.1)                                 meshgated (joins)
#     meshgated.service: coordinator 100.64.0.1, later also
#     subnet router and exit node (nftables table, forwarding)
#
# Usage: test_lxc.sh SOURCE_DIR BUILD_DIR     (exit 77: skipped)
# Needs MESHGATED and MESHGATE (the laptop's daemon and CLI, from BUILD_DIR),
# root, lxc, mmdebstrap and a Debian mirror (the template is built from it).
set -eu
src=$(readlink -f "$1")
build=$(readlink -f "$2")
# shellcheck source=../netns/lib.sh
. "$src/tests/netns/lib.sh"
# shellcheck source=../netns/meshgate.sh
. "$src/tests/netns/meshgate.sh"
# shellcheck source=../netns/meshnet.sh
. "$src/tests/netns/meshnet.sh"

require_root
require_cmd lxc-start lxc-attach lxc-stop lxc-info mmdebstrap zstd dpkg-deb cmake \
	ip wg curl python3 timeout
command -v newuidmap >/dev/null 2>&1 && ! grep -q '^root:' /etc/subuid 2>/dev/null &&
	skip "newuidmap is installed but /etc/subuid has no range for root (lxc then refuses the id map)"
root_state_snapshot

work=$(mg_workdir)
# Containers live outside the scratch directory: cleanup stops them before
# their root file systems go. The directory must be traversable by the
# containers' root (host uid 100000).
lxcdir=$(mktemp -d "${TMPDIR:-/tmp}/mg-lxc-$MG_PID.containers.XXXXXX")
chmod 0755 "$lxcdir"
MG_EXTRA_CLEANUP+=("lxc_cleanup")
IDMAP_BASE=100000
CONTAINERS=()

lxc_cleanup() {
	local name
	for name in "${CONTAINERS[@]}"; do
		lxc-stop -P "$lxcdir" -n "$name" -k >/dev/null 2>&1
	done
	rm -rf "$lxcdir"
}

inside() { # NAME CMD...: run CMD in the container, as its root, with a clean environment
	local name=$1
	shift
	timeout 120 lxc-attach -P "$lxcdir" -n "$name" --clear-env \
		--set-var PATH=/usr/sbin:/usr/bin:/sbin:/bin --set-var LANG=C.UTF-8 -- "$@"
}

# ---- the template ----

deb=$("$src/tests/packaging/release-deb.sh" "$src" "$build")
log "release package: $deb"
no_sanitizer_depends() { ! dpkg-deb -f "$deb" Depends | grep -q 'libasan\|libubsan'; }
check "the package does not depend on sanitizer runtimes" no_sanitizer_depends

version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
if ! "$src/packaging/lxc/build-template.sh" "$deb" "$work" >"$work/template.log" 2>&1; then
	tail -30 "$work/template.log"
	fail "build-template.sh failed"
fi
template=$(tail -1 "$work/template.log")
check "the template is named meshgate-appliance_${version}_${arch}.tar.zst" \
	test "$template" = "$work/meshgate-appliance_${version}_${arch}.tar.zst" -a -s "$template"
log "template: $template ($(du -h "$template" | cut -f1))"

tar --zstd -tf "$template" >"$work/template.list"
has() { grep -qx "./$1" "$work/template.list"; }
check "the template holds meshgated" has usr/sbin/meshgated
check "meshgated.service is enabled in the template" \
	has etc/systemd/system/multi-user.target.wants/meshgated.service
check "the first-boot unit is enabled in the template" \
	has etc/systemd/system/multi-user.target.wants/meshgate-firstboot.service
check "the template holds no private key or registry" \
	not grep -q '^\./var/lib/meshgate/.' "$work/template.list"
mkdir "$work/tpl"
tar --zstd -xf "$template" -C "$work/tpl" ./etc/hostname ./etc/resolv.conf ./etc/machine-id \
	./etc/network/interfaces ./etc/meshgate/meshgate.conf
check "the template's host name is neutral" test "$(cat "$work/tpl/etc/hostname")" = meshgate
check "the template's machine-id is empty (made at first boot)" test ! -s "$work/tpl/etc/machine-id"
check "the template carries no resolver of the build host" test ! -s "$work/tpl/etc/resolv.conf"
check "eth0 asks DHCP unless Proxmox configures it" \
	grep -q '^iface eth0 inet dhcp' "$work/tpl/etc/network/interfaces"
check "the template's configuration passes meshgated --check" \
	"$MESHGATED" --check -c "$work/tpl/etc/meshgate/meshgate.conf"

# ---- containers ----

# What every udev-managed host has: /dev/net/tun with mode 0666. A host
# without udev (this kind of build machine) gets a private node of its own
# for the containers, so the host's device is never changed.
tun_dev=/dev/net/tun
if [ "$(stat -c %a /dev/net/tun 2>/dev/null)" != 666 ]; then
	tun_dev="$lxcdir/tun"
	mknod -m 0666 "$tun_dev" c 10 200
fi
# The device-cgroup key of this host's cgroup version (Proxmox 7/8: cgroup2).
if [ -d /sys/fs/cgroup/devices ]; then
	devices_key=lxc.cgroup.devices.allow
else
	devices_key=lxc.cgroup2.devices.allow
fi

# container_create NAME IFNAME TUN(yes|no|DEVICE_NODE): unpack the template as `pct
# create` does for an unprivileged container (ids shifted by 100000), write
# the settings Proxmox writes (host name, static eth0) and an lxc config.
container_create() {
	local name=$1 ifname=$2 tun=$3 dir="$lxcdir/$1"
	mkdir -p "$dir/rootfs"
	tar --zstd -xpf "$template" -C "$dir/rootfs"
	echo "$name" >"$dir/rootfs/etc/hostname"
	cat >"$dir/rootfs/etc/network/interfaces" <<EOF
auto lo
iface lo inet loopback
auto eth0
iface eth0 inet static
	address 192.0.2.2/24
	gateway 192.0.2.1
EOF
	python3 "$src/tests/packaging/shift-ids.py" "$dir/rootfs" "$IDMAP_BASE"
	cat >"$dir/config" <<EOF
lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /usr/share/lxc/config/userns.conf
lxc.arch = $arch
lxc.uts.name = $name
lxc.rootfs.path = dir:$dir/rootfs
lxc.idmap = u 0 $IDMAP_BASE 65536
lxc.idmap = g 0 $IDMAP_BASE 65536
lxc.apparmor.profile = unconfined
lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed
lxc.net.0.type = veth
lxc.net.0.veth.pair = $ifname
lxc.net.0.name = eth0
lxc.net.0.flags = up
lxc.console.logfile = $dir/console.log
lxc.log.file = $dir/lxc.log
lxc.log.level = INFO
EOF
	[ "$tun" != yes ] || tun=$tun_dev
	if [ "$tun" != no ]; then
		cat >>"$dir/config" <<EOF
$devices_key = c 10:200 rwm
lxc.mount.entry = $tun dev/net/tun none bind,create=file
EOF
	fi
	CONTAINERS+=("$name")
}

# container_start NAME IFNAME NS: boot it; its veth's host end goes straight
# into namespace NS (it never keeps an address in the root namespace).
container_start() {
	local name=$1 ifname=$2 ns=$3
	lxc-start -P "$lxcdir" -n "$name" -d || {
		tail -20 "$lxcdir/$name/lxc.log"
		fail "lxc-start $name"
	}
	ip link set "$ifname" netns "$(ns_name "$ns")"
	ns_ip "$ns" link set "$ifname" name up0
	ns_ip "$ns" addr add 192.0.2.1/24 dev up0
	ns_ip "$ns" link set up0 up
}

system_state() { # NAME: systemd's state once start-up is over (90 s at most)
	local i state=""
	for ((i = 0; i < 180; i++)); do
		# Empty until systemd answers on its socket; "starting" until boot is over.
		state=$(inside "$1" systemctl is-system-running 2>/dev/null) || true
		case $state in
		running | degraded | maintenance | stopping) break ;;
		esac
		sleep 0.5
	done
	echo "$state"
}

# ---- the appliance ----

ns_create laptop
container_create appliance "mgl$MG_PID" yes
container_start appliance "mgl$MG_PID" laptop

state=$(system_state appliance)
if [ "$state" != running ]; then
	inside appliance systemctl --failed --no-pager || true
	inside appliance journalctl -b --no-pager | tail -40 || true
fi
check "the container boots to systemd 'running' (was: $state)" test "$state" = running
check "meshgated.service is active" inside appliance systemctl is-active --quiet meshgated
check "the first boot made the node's key, mode 0600" \
	test "$(inside appliance stat -c %a /var/lib/meshgate/private.key)" = 600
firstboot_logged() {
	inside appliance journalctl -u meshgate-firstboot --no-pager | grep -q 'public key'
}
check "the first boot logged the public key" firstboot_logged

status_json() { # NAME: the node's status document
	inside "$1" meshgate status --json
}
is_coordinator_named() { # NAME
	status_json "$1" | python3 -c 'import json,sys; s=json.load(sys.stdin)["self"]
assert s["coordinator"] is True and s["name"] == sys.argv[1], s
assert s["role_origin"] == "meshgate init", s' "$1"
}
check "the node runs as a coordinator, named after the container" is_coordinator_named appliance

# The operator group: the unit's daemon (no CAP_CHOWN, in the group by
# SupplementaryGroups=) gives it the control socket.
check "the control socket is 0660 and the group meshgate's" \
	test "$(inside appliance stat -c '%a %G' /run/meshgate/meshgated.sock)" = "660 meshgate"
check "a user in the group meshgate runs meshgate status" \
	inside appliance runuser -u nobody -g nogroup -G meshgate -- meshgate status
check "a user outside it is told to join the group" not \
	inside appliance runuser -u nobody -g nogroup -- meshgate status

preflight_ok() { # NAME CHECK: that preflight check passed, per the status document
	status_json "$1" | python3 -c 'import json,sys
p = [c for c in json.load(sys.stdin)["preflight"] if c["check"] == sys.argv[1]]
assert p and p[0]["ok"] is True, p' "$2"
}
check "the preflight's TUN check passes inside" preflight_ok appliance tun

http_inside() { # NAME PATH: GET http://127.0.0.1:8080PATH from inside (bash, no curl there)
	# shellcheck disable=SC2016
	inside "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 || exit 1
		printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n" "$1" >&3
		timeout 5 cat <&3' http "$2"
}
healthz_inside() { http_inside "$1" /healthz | tr -d '\r' | grep -qx ok; }
page_inside() { http_inside "$1" / | grep -qi '<html'; }
check "the status page answers inside the container (/healthz)" healthz_inside appliance
check "the status page serves the page inside the container" page_inside appliance

# ---- a laptop joins the appliance's mesh ----

mesh_conf laptop
mesh_start laptop
code=$(inside appliance meshgate invite)
check "the laptop joins with the appliance's invite" mg_cli laptop laptop join "$code"

appliance_addr() {
	inside appliance meshgate status --json | python3 -c 'import json,sys
print(json.load(sys.stdin)["self"]["addresses"][0].split("/")[0])'
}
addr=$(appliance_addr)
log "appliance's mesh address: $addr"
check "the laptop reaches the appliance through the tunnel" \
	wait_for 100 0.2 ns_exec laptop ping -c1 -W1 "$addr"
handshake_in_wg() {
	inside appliance wg show meshgate0 latest-handshakes | awk '$2 > 0 { n++ } END { exit !n }'
}
check "stock wg inside the container shows the laptop's handshake" handshake_in_wg

laptop_sees_page() { # the appliance's status page, from the laptop through the tunnel
	ns_exec laptop curl -sf --max-time 5 "http://$addr:8080/api/status" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["self"]["name"] == "appliance"
assert [p for p in d["peers"] if p["name"] == "laptop" and p["path"] == "direct"], d["peers"]'
}
check "the appliance's status page answers the laptop on its mesh address" \
	wait_for 25 0.2 laptop_sees_page

check "the appliance's udp_port check passes: the laptop reached its port" \
	wait_for 50 0.2 preflight_ok appliance udp_port
check "the laptop's udp_port check passes: the appliance's probe reached it" \
	wait_for 100 0.2 mg_preflight_is laptop laptop udp_port true

# The appliance's two jobs, as its user would turn them on: more kernel
# objects (the nftables table, forwarding sysctls) for the removal to clean.
inside appliance sh -c 'cat >>/etc/meshgate/meshgate.conf' <<'CONF'
subnet_router = { routes = [ "192.168.77.0/24" ]; };
exit_node = { enabled = true; };
CONF
check "the edited configuration passes meshgated --check inside" \
	inside appliance meshgated --check -c /etc/meshgate/meshgate.conf
check "systemctl reload keeps the service active" inside appliance systemctl reload meshgated
check "the service is active after the reload" inside appliance systemctl is-active --quiet meshgated
check "the tunnel works after the reload" wait_for 50 0.2 ns_exec laptop ping -c1 -W1 "$addr"
sysctl_is() { # NAME KEY VALUE
	test "$(inside "$1" sysctl -n "$2")" = "$3"
}
# The coordinator's own routes and exit are approved by its config (it
# records them within a second of the reload): no command.
approved_own() {
	inside appliance meshgate nodes --json | python3 -c 'import json, sys
want = {"192.168.77.0/24", "0.0.0.0/0", "::/0"}
got = [set(n["routes_approved"]) for n in json.load(sys.stdin) if n["name"] == "appliance"]
sys.exit(0 if got and want <= got[0] else 1)'
}
check "the appliance's own LAN and exit are approved without a command" \
	wait_for 25 0.2 approved_own
check "after the reload the node forwards (subnet router, exit node)" \
	wait_for 50 0.1 sysctl_is appliance net.ipv4.ip_forward 1
check "after the reload the node has its nftables table" \
	inside appliance nft list table inet meshgate

# ---- the package on a running systemd: remove, reinstall, purge ----

cp "$deb" "$lxcdir/appliance/rootfs/root/meshgate.deb"
chown "$IDMAP_BASE:$IDMAP_BASE" "$lxcdir/appliance/rootfs/root/meshgate.deb"
inside appliance env DEBIAN_FRONTEND=noninteractive apt-get remove -y meshgate \
	>"$work/remove.log" 2>&1 || {
	cat "$work/remove.log"
	fail "apt-get remove meshgate"
}
check "removing the package stops the service" \
	not inside appliance systemctl is-active --quiet meshgated
check "removing the package removes the TUN device" not inside appliance ip link show meshgate0
check "removing the package removes the nftables table" \
	not inside appliance nft list table inet meshgate
check "removing the package restores net.ipv4.ip_forward" \
	sysctl_is appliance net.ipv4.ip_forward 0
check "removing the package restores net.ipv6.conf.all.forwarding" \
	sysctl_is appliance net.ipv6.conf.all.forwarding 0
check "removing the package keeps the node's key and configuration" \
	inside appliance test -s /var/lib/meshgate/private.key -a -s /etc/meshgate/meshgate.conf

inside appliance env DEBIAN_FRONTEND=noninteractive dpkg -i /root/meshgate.deb \
	>"$work/install.log" 2>&1 || {
	cat "$work/install.log"
	fail "dpkg -i meshgate.deb"
}
check "installing the package starts the service" \
	wait_for 50 0.2 inside appliance systemctl is-active --quiet meshgated
check "the service is enabled after installing" inside appliance systemctl is-enabled --quiet meshgated
check "the laptop reaches the reinstalled appliance (same key, same mesh)" \
	wait_for 150 0.2 ns_exec laptop ping -c1 -W1 "$addr"

inside appliance env DEBIAN_FRONTEND=noninteractive apt-get purge -y meshgate \
	>"$work/purge.log" 2>&1 || {
	cat "$work/purge.log"
	fail "apt-get purge meshgate"
}
check "purging removes the node's state" not inside appliance test -e /var/lib/meshgate
check "purging removes the configuration" not inside appliance test -e /etc/meshgate/meshgate.conf
no_kernel_objects() {
	! inside appliance ip rule | grep -q 'lookup 41641' &&
		! inside appliance nft list tables | grep -q meshgate &&
		! inside appliance ip link show meshgate0 >/dev/null 2>&1
}
check "nothing of meshgate stays in the container's kernel state" no_kernel_objects
mg_stop laptop
lxc-stop -P "$lxcdir" -n appliance -t 30 || fail "lxc-stop appliance"

# ---- no usable TUN device: the service fails and says how to fix it ----

output_has() { # FILE PATTERN...: FILE holds every PATTERN (fixed strings)
	local file=$1 pattern
	shift
	for pattern in "$@"; do
		grep -qF -- "$pattern" "$file" || return 1
	done
}
journal_says() { # NAME PATTERN...: meshgated's journal in container NAME
	inside "$1" journalctl -u meshgated --no-pager >"$work/$1-journal.log" 2>&1
	output_has "$work/$1-journal.log" "${@:2}"
}
preflight_says() { # NAME PATTERN...: meshgated --preflight in NAME fails, saying these
	! inside "$1" meshgated --preflight >"$work/$1-preflight.log" 2>&1 &&
		output_has "$work/$1-preflight.log" "${@:2}"
}
# expect_tun_failure NAME DESC JOURNAL_PATTERN PREFLIGHT_PATTERN: in the
# booted container NAME the service is down, and both say the fix.
expect_tun_failure() {
	local name=$1 desc=$2 journal=$3 preflight=$4
	wait_for 60 0.5 journal_says "$name" "$journal" || cat "$work/$name-journal.log"
	check "$desc: the journal names the fix" journal_says "$name" "$journal"
	check "$desc: meshgated.service is not active" \
		not inside "$name" systemctl is-active --quiet meshgated
	check "$desc: meshgated --preflight fails on tun and names the fix" \
		preflight_says "$name" "FAIL tun:" "$preflight"
}

ns_create bare
container_create bare "mgb$MG_PID" no
container_start bare "mgb$MG_PID" bare
expect_tun_failure bare "without the TUN lines" \
	"lxc.mount.entry: /dev/net/tun dev/net/tun none bind,create=file" \
	"pct set <ID> -dev0 /dev/net/tun"
check "without the TUN lines the journal also names pct set ... -dev0" \
	journal_says bare "pct set <ID> -dev0 /dev/net/tun"
lxc-stop -P "$lxcdir" -n bare -k

# A device node the container may not open: mode 0600 on the host.
mknod -m 0600 "$lxcdir/tun-0600" c 10 200
ns_create locked
container_create locked "mgk$MG_PID" "$lxcdir/tun-0600"
container_start locked "mgk$MG_PID" locked
expect_tun_failure locked "a 0600 device node" \
	"mode 0666, as udev makes it" "chmod 0666 /dev/net/tun"
check "a 0600 device node: the journal says the open was refused" \
	journal_says locked "cannot open /dev/net/tun: Permission denied"
lxc-stop -P "$lxcdir" -n locked -k

pass
