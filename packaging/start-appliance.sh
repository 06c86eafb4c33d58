#!/bin/sh
# Starts meshgated from a build directory on this host, on its configuration
# file if there is one (/etc/meshgate/meshgate.conf), else on the built-in
# defaults, and says how to look at it. Usage: start-appliance.sh BUILD_DIR
set -eu
build=${1:-build}
sock=/run/meshgate/meshgated.sock

if "$build/meshgate" --socket "$sock" status >/dev/null 2>&1; then
	echo "meshgated is already running."
else
	"$build/meshgated"
	echo "meshgated started (logs: journalctl -t meshgated, or syslog)."
fi
echo
"$build/meshgate" --socket "$sock" status || true
cat <<MSG

Status page: http://127.0.0.1:8080/        (and on the node's mesh addresses, port 8080)
Status:      $build/meshgate status        (add --json for the full document)
WireGuard:   wg show meshgate0              (stock wg tools work against it)
Config:      /etc/meshgate/meshgate.conf    (example: packaging/meshgate.conf.example;
             reload with: kill -HUP \$(pidof meshgated))
Stop:        kill \$(pidof meshgated)        (removes everything it installed)
MSG
