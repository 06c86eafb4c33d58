#!/bin/sh
# Builds the Proxmox LXC template of the meshgate appliance: a Debian 12
# root file system with systemd, ifupdown and a DHCP client, the meshgate
# package installed and its service enabled, packed as
# meshgate-appliance_<version>_<arch>.tar.zst (the format `pct create` takes).
#
# Usage (as root, on Debian 12):
#   packaging/lxc/build-template.sh DEB [OUT_DIR]
#     DEB      the meshgate package (cmake --build build --target package)
#     OUT_DIR  where the template goes (default: the directory of DEB)
# Environment: MESHGATE_MIRROR, a Debian mirror URL (default: mmdebstrap's,
# deb.debian.org, with bookworm-updates and bookworm-security).
# Prints the template's path on the last line of its output.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
deb=${1:?usage: build-template.sh DEB [OUT_DIR]}
[ -f "$deb" ] || {
	echo "build-template.sh: $deb: no such file" >&2
	exit 1
}
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
out=${2:-$(dirname "$deb")}
mkdir -p "$out"

for tool in mmdebstrap dpkg-deb zstd; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "build-template.sh: $tool is missing (apt-get install mmdebstrap dpkg-dev zstd)" >&2
		exit 1
	}
done
[ "$(id -u)" -eq 0 ] || {
	echo "build-template.sh: run as root (mmdebstrap builds the root file system as root)" >&2
	exit 1
}

version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
template="$out/meshgate-appliance_${version}_${arch}.tar.zst"

# What the appliance runs on, beyond Debian's essential set:
# * systemd as init; ifupdown and isc-dhcp-client because Proxmox configures
#   a Debian container's network through /etc/network/interfaces;
# * iproute2, nftables, procps, iputils-ping, wireguard-tools: the tools to
#   look at what meshgate set up (ip, nft, sysctl, ping, wg show);
# * the meshgate package itself (Depends pulls in its libraries).
packages="systemd-sysv,ifupdown,isc-dhcp-client,iproute2,nftables,procps,iputils-ping"
packages="$packages,wireguard-tools,less,$deb"

# The local .deb reaches apt inside the chroot through the file-mirror hook
# (it bind-mounts the file); customize.sh turns the tree into a template.
set -- --variant=apt --architectures="$arch" --include="$packages" \
	--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
	--customize-hook="$here/customize.sh \"\$1\" \"$here\"" \
	bookworm "$template"
if [ -n "${MESHGATE_MIRROR:-}" ]; then
	set -- "$@" "$MESHGATE_MIRROR"
fi

rm -f "$template"
mmdebstrap "$@"
echo "$template"
