#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The control socket's operator group: with control_group naming a group
# that exists the socket is 0660 and that group's, and its members (primary
# or supplementary group) run every command as an unprivileged user, status
# and a coordinator's invite alike; anyone else gets one line saying which
# group to join; the daemon refuses a non-member even when the file mode
# lets it connect. control_group = "" keeps the socket root's (0600), and
# the CLI then says so; a named group that does not exist fails --check
# with FILE:LINE. A daemon without CAP_CHOWN (as under its systemd unit)
# shares the socket only when it is a member of the group
# (SupplementaryGroups=), else it logs why and stays 0600.
#
#   a: meshgated, a coordinator (no peers), TUN mga<pid>; its control socket
#      in a directory every user may enter
#   a temporary system group mgop<pid> (removed on exit); the user nobody
set -eu
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
# shellcheck source=meshgate.sh
. "$(dirname "$(readlink -f "$0")")/meshgate.sh"

require_root
require_cmd ip groupadd groupdel getent runuser setpriv stat
root_state_snapshot

dir=$(mg_workdir)
grp=mgop$MG_PID
sock=$dir/run/a.sock
chmod 711 "$dir"
mkdir -m 755 "$dir/run"
groupadd --system "$grp" || fail "groupadd $grp"
MG_EXTRA_CLEANUP+=("groupdel '$grp'")
gid=$(getent group "$grp" | cut -d: -f3)

# conf GROUP_LINE: the node's config.
conf() {
	cat >"$dir/a.conf" <<CONF
interface = "mga$MG_PID";
listen_port = 41641;
private_key_file = "$dir/a.key";
state_dir = "$dir/state-a";
control_socket = "$sock";
hostname = "a";
addresses = [];
web = { enabled = false; };
coordinator = { enabled = true; stun = []; endpoints = [ "192.0.2.1:41641" ]; };
$1
CONF
}

# as USER_ARGS... -- CLI ARGS: the CLI as another user; stderr in $dir/err.
as() {
	local args=()
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	ns_exec a runuser "${args[@]}" -- "$MESHGATE" --socket "$sock" "$@" 2>"$dir/err"
}
err_says() {
	grep -qF -- "$1" "$dir/err" || {
		echo "stderr: $(cat "$dir/err")" >&2
		return 1
	}
}
mode_is() { # MODE GROUP
	[ "$(stat -c '%a %G' "$sock")" = "$1 $2" ] || {
		echo "socket: $(stat -c '%a %G' "$sock")" >&2
		return 1
	}
}
start() { # [WRAPPER...]: the daemon, waited for its socket
	ns_bg a "$@" "$MESHGATED" -f -c "$dir/a.conf" >>"$dir/a.log" 2>&1
	wait_for 100 0.1 test -S "$sock" || fail "meshgated did not come up: $(cat "$dir/a.log")"
	wait_for 100 0.1 "$MESHGATE" --socket "$sock" status || fail "no status"
}
stop() {
	local pid=${MG_PIDS[-1]}
	kill -TERM "$pid"
	wait_for 100 0.1 not kill -0 "$pid" || fail "meshgated did not stop"
	wait "$pid" 2>/dev/null || true
	MG_PIDS=("${MG_PIDS[@]:0:${#MG_PIDS[@]}-1}")
}

ns_create a

# A group that is not there: --check says so, with the line.
conf "control_group = \"mgno$MG_PID\";"
check "--check refuses a control_group that does not exist" not "$MESHGATED" --check -c "$dir/a.conf"
"$MESHGATED" --check -c "$dir/a.conf" 2>"$dir/err" || true
check "... with FILE:LINE and how to create it" \
	err_says "$dir/a.conf:$(grep -n control_group "$dir/a.conf" | cut -d: -f1): control_group: no group 'mgno$MG_PID' on this host (create it with groupadd --system mgno$MG_PID"

# The operator group.
conf "control_group = \"$grp\";"
check "--check passes with an existing group" "$MESHGATED" --check -c "$dir/a.conf"
start
check "the socket is 0660 and group $grp's" mode_is 660 "$grp"
check "the daemon logged it" grep -q "control socket: group $grp may use it (mode 0660)" "$dir/a.log"
check "nobody with $grp as primary group runs status" as -u nobody -g "$grp" -- status
check "nobody with $grp as a supplementary group runs status" as -u nobody -g nogroup -G "$grp" -- status
as -u nobody -g nogroup -G "$grp" -- invite >"$dir/invite" || true
check "... and a coordinator's command (invite prints a code)" grep -q '^mg1-' "$dir/invite"
check "nobody outside the group is refused" not as -u nobody -g nogroup -- status
check "... with which group to join" \
	err_says "permission denied on $sock: add yourself to group $grp (adduser USER $grp, then log in again), or run as root"
chmod 666 "$sock"
check "a mode opened by hand does not let a non-member in (the daemon checks)" \
	not as -u nobody -g nogroup -- status
check "... which closes the connection unanswered" \
	grep -qE "cannot send to meshgated|cannot read from meshgated|invalid answer from meshgated" "$dir/err"
chmod 660 "$sock"
check "root still runs status" "$MESHGATE" --socket "$sock" status
stop

# No operator group.
conf 'control_group = "";'
: >"$dir/a.log"
start
check "control_group \"\": the socket is 0600 and root's" mode_is 600 root
check "... the log says the socket is root's" grep -qF 'control socket: root only (control_group "")' "$dir/a.log"
check "a member of $grp is refused" not as -u nobody -g "$grp" -- status
check "... told only root may use it" \
	err_says "permission denied on $sock: only root may use it (the daemon has no operator group: control_group in meshgate.conf(5))"
stop

# Without CAP_CHOWN, as under the unit (CapabilityBoundingSet=CAP_NET_ADMIN).
conf "control_group = \"$grp\";"
: >"$dir/a.log"
start setpriv --bounding-set=-chown --clear-groups
check "no CAP_CHOWN and not in the group: the socket stays 0600" mode_is 600 root
check "... and the log says why" grep -q "control socket: cannot give it to group $grp (the daemon needs to be in the group, SupplementaryGroups=$grp in its unit, or CAP_CHOWN); root only" "$dir/a.log"
check "... root runs status" "$MESHGATE" --socket "$sock" status
stop
start setpriv --bounding-set=-chown --groups="$gid"
check "no CAP_CHOWN but in the group (SupplementaryGroups=): 0660, $grp's" mode_is 660 "$grp"
check "... nobody in $grp runs status" as -u nobody -g "$grp" -- status
stop

pass
