#!/bin/sh
# Starts meshgated from a build directory on this host and says how to look
# at it. The configuration is /etc/meshgate/meshgate.conf when there is one,
# else the one the package ships (packaging/meshgate.conf: in no mesh, its
# status page on 127.0.0.1:8080 and its mesh address); `meshgate init` then
# makes the node a coordinator unless it is already in a mesh.
# Usage: start-appliance.sh BUILD_DIR
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
sock=/run/meshgate/meshgated.sock
conf=/etc/meshgate/meshgate.conf
[ -f "$conf" ] || conf="$src/packaging/meshgate.conf"

if "$build/meshgate" --socket "$sock" status >/dev/null 2>&1; then
	echo "meshgated is already running."
else
	"$build/meshgated" --check -c "$conf"
	"$build/meshgated" -c "$conf"
	echo "meshgated started on $conf (logs: journalctl -t meshgated, or syslog)."
fi
in_mesh() {
	"$build/meshgate" --socket "$sock" status --json |
		grep -q '"role": *"\(coordinator\|member\)"'
}
in_mesh || "$build/meshgate" --socket "$sock" init
echo
"$build/meshgate" --socket "$sock" status || true
cat <<MSG

Status page:  http://127.0.0.1:8080/  (and port 8080 on the mesh addresses above)
Status:       $build/meshgate status  (add --json for the full document)
Add a node:   $build/meshgate invite  (then on the node: meshgate join CODE)
Add a phone:  $build/meshgate device add phone --endpoint HOST:41641
              (scan the QR code in the WireGuard app; README "Add a phone")
WireGuard:    wg show meshgate0  (stock wg tools work against it)
Config:       $conf
              (every key: packaging/meshgate.conf.example;
              reload with: kill -HUP \$(pidof meshgated))
Stop:         kill \$(pidof meshgated)  (removes everything it installed)
MSG
