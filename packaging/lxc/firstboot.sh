#!/bin/sh
# meshgate appliance, first boot: create this container's WireGuard key
# before meshgated starts, so that no two containers made from one template
# share a key. Runs from meshgate-firstboot.service; does nothing when the
# key exists. The key file's path is the shipped configuration's
# private_key_file.
set -eu
key=/var/lib/meshgate/private.key

[ -e "$key" ] && exit 0
umask 077
mkdir -p "$(dirname "$key")"
/usr/bin/meshgate genkey >"$key.new"
mv "$key.new" "$key"
echo "created $key; public key $(/usr/bin/meshgate pubkey <"$key")"
echo "status page: http://127.0.0.1:8080/ inside the container, and on its mesh address"
echo "add a device: meshgate invite, then meshgate join CODE on the device"
