#!/bin/sh
# Install every package meshgate needs to build, run and test, from Debian 12.
# Usage: packaging/install-deps.sh            (as root)
set -eu

BUILD="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
       libsodium-dev libb2-dev libconfig-dev libjansson-dev
       libnl-3-dev libnl-route-3-dev libnftnl-dev libmnl-dev
       libmicrohttpd-dev libsqlite3-dev libqrencode-dev libpng-dev libldns-dev libsystemd-dev
       dpkg-dev"
# lxc comes without its Recommends: with uidmap's newuidmap installed, lxc
# insists on /etc/subuid ranges for root, which the LXC test does not add.
RUN="iproute2 nftables procps ca-certificates"
# coturn: test_stun runs its turnserver as a STUN server inside the test's
# namespaces; the package's own service is switched off below.
# nebula: tests/bench/throughput.sh compares against it; the package ships only
# a template unit (nebula@.service), so installing it starts nothing.
TEST="wireguard-go wireguard-tools nebula iperf3 tcpdump python3 curl iputils-ping chromium
      systemd groff-base shellcheck lxc mmdebstrap zstd zbar-tools radvd coturn
      dnsutils dnsmasq-base dbus-daemon"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (it calls apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $BUILD $RUN $TEST
# The tests start their own turnserver; none listens on the host.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
	systemctl disable --now coturn.service >/dev/null 2>&1 || true
fi
