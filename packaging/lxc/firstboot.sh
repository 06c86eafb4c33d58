#!/bin/sh
# meshgate appliance, first boot: create this container's WireGuard key
# before meshgated starts, so that no two containers made from one template
# share a key, and make the node a coordinator: the shipped configuration
# leaves a node in no mesh, and meshgated is not running yet to be asked
# with `meshgate init`, so this writes the role file that command keeps
# (state_dir/role.json). Runs from meshgate-firstboot.service; does nothing
# when the key exists. The paths are the shipped configuration's
# private_key_file and state_dir.
set -eu
key=/var/lib/meshgate/private.key
role=/var/lib/meshgate/role.json

[ -e "$key" ] && exit 0
umask 077
mkdir -p "$(dirname "$key")"
/usr/bin/meshgate genkey >"$key.new"
mv "$key.new" "$key"
if [ ! -e "$role" ]; then
	echo '{"role": "coordinator"}' >"$role.new"
	mv "$role.new" "$role"
	echo "this node is a coordinator (as meshgate init makes it)"
fi
echo "created $key; public key $(/usr/bin/meshgate pubkey <"$key")"
echo "status page: http://127.0.0.1:8080/ inside the container, and on its mesh address"
echo "add a device: meshgate invite, then meshgate join CODE on the device"
