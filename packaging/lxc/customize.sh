#!/bin/sh
# mmdebstrap customize hook of build-template.sh: turns the freshly built
# root file system into a template. Nothing of the build host and nothing
# that must differ between two containers may stay in it.
# Usage: customize.sh ROOTFS LXC_DIR     (run on the build host, as root)
set -eu
root=${1:?usage: customize.sh ROOTFS LXC_DIR}
lxc=${2:?usage: customize.sh ROOTFS LXC_DIR}

# Identity: Proxmox writes the host name, /etc/hosts and resolv.conf when it
# creates or starts a container; a plain lxc-start gets these neutral ones.
echo meshgate >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	meshgate
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
: >"$root/etc/resolv.conf"
# An empty machine-id makes systemd create one on first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# Network: Proxmox replaces this file with the container's settings (static
# or DHCP, per interface); without Proxmox eth0 asks DHCP and SLAAC.
cat >"$root/etc/network/interfaces" <<'EOF'
# Proxmox writes this file from the container's network settings.
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
iface eth0 inet6 auto

source /etc/network/interfaces.d/*
EOF

# debugfs cannot be mounted in a container; masked, so that the container
# reaches "running" rather than "degraded".
ln -sf /dev/null "$root/etc/systemd/system/sys-kernel-debug.mount"

# First boot: this container's own key (never one baked into the template).
install -D -m 0755 "$lxc/firstboot.sh" "$root/usr/lib/meshgate-appliance/firstboot"
install -D -m 0644 "$lxc/meshgate-firstboot.service" \
	"$root/lib/systemd/system/meshgate-firstboot.service"
wants="$root/etc/systemd/system/multi-user.target.wants"
mkdir -p "$wants"
ln -sf /lib/systemd/system/meshgate-firstboot.service "$wants/meshgate-firstboot.service"
# The package's postinst enables the service; make sure of it (a chroot has
# no running systemd, so `systemctl enable` there only made links).
ln -sf /lib/systemd/system/meshgated.service "$wants/meshgated.service"

install -m 0644 "$lxc/motd" "$root/etc/motd"

# State the build may have left: no key, no registry, no logs.
rm -rf "$root/var/lib/meshgate"
find "$root/var/log" -type f -delete
rm -f "$root/etc/ssh/ssh_host_"*
