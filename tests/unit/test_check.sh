#!/bin/sh
# meshgated --check on whole files, as the service's ExecStartPre runs it:
# each configuration start-up would refuse fails with exit 1 and exactly
# its "FILE:LINE: ..." line on stderr; kernel facts are warnings that leave
# the exit status 0; a good file passes. No root, no kernel objects: the
# check only reads files (and asks whether an interface exists).
# Usage: test_check.sh MESHGATED
set -eu

meshgated=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
n=0

KEY=I5/h/qsGhhR+WdJLQ0f4JHAGceyiqDT6tc1rBIPX5k4=
# A well-formed invite: key 01..20, id 7, one endpoint 198.51.100.1:41641.
CODE=mg1-AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gBwAAAAAAAABCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQgESMTk4LjUxLjEwMC4xOjQxNjQx

# conf NAME [KEYFILE]: stdin after two lines that keep the files inside
# $work (the key in state_dir unless KEYFILE names another place).
conf() {
	mkdir -p "$work/$1"
	{
		printf 'state_dir = "%s/%s/state";\n' "$work" "$1"
		printf 'private_key_file = "%s";\n' "${2:-$work/$1/state/private.key}"
		cat
	} >"$work/$1.conf"
}

# expect NAME STATUS TEXT: --check exits STATUS and stderr is exactly TEXT,
# with FILE standing for the configuration's path.
expect() {
	n=$((n + 1))
	file="$work/$1.conf"
	want=$(printf '%s' "$3" | sed "s|FILE|$file|g")
	status=0
	# shellcheck disable=SC2086 # $meshgated may carry a setpriv prefix
	$meshgated --check -c "$file" >"$work/out" 2>"$work/err" || status=$?
	got=$(cat "$work/err")
	if [ "$status" != "$2" ] || [ "$got" != "$want" ]; then
		echo "FAIL: $1: exit $status (want $2)"
		echo "  got:  $got"
		echo "  want: $want"
		fail=1
	else
		echo "ok: $1: ${got:-(no message)}"
	fi
}

conf default_route <<'E'
subnet_router = {
  routes = [ "0.0.0.0/0" ];
};
E
expect default_route 1 "FILE:4: subnet_router.routes: 0.0.0.0/0 is a default route; offer the uplink with exit_node.enabled instead"

conf pool_route <<'E'
coordinator = { enabled = true; };
subnet_router = { routes = [ "100.64.7.0/24" ]; };
E
expect pool_route 1 "FILE:4: subnet_router.routes: 100.64.7.0/24 overlaps the mesh's address pool 100.64.0.0/10 (coordinator.prefix4); advertise only LAN prefixes"

conf mesh_route <<'E'
addresses = [ "10.0.0.1/24" ];
subnet_router = {
  routes = [ "192.168.1.0/24", "10.0.0.0/16" ];
};
E
expect mesh_route 1 "FILE:5: subnet_router.routes: 10.0.0.0/16 overlaps the mesh network 10.0.0.0/24 (addresses); advertise only LAN prefixes"

conf bad_join <<'E'

join = "mg1-notacode";
E
expect bad_join 1 "FILE:4: join: not an invite code: invite code is damaged (copy it whole) (\`meshgate invite\` prints one)"

conf coordinator_join <<E
coordinator = { enabled = true; };
join = "$CODE";
E
expect coordinator_join 1 "FILE:4: join: this node is the coordinator (coordinator.enabled), which joins no other mesh; remove join, or set coordinator.enabled = false to join the invite's mesh"

# A coordinator by `meshgate init` (the role file), not by the file: checked
# as one, and the join start-up would leave unread is refused with its fix.
init_role() { # NAME
	mkdir -p "$work/$1/state"
	echo '{"role": "coordinator"}' >"$work/$1/state/role.json"
}
conf init_join <<E
join = "$CODE";
E
init_role init_join
expect init_join 1 "FILE:3: join: this node is the coordinator (meshgate init, $work/init_join/state/role.json), which joins no other mesh; remove join; to make it a member of the invite's mesh, run meshgate join CODE once it runs (--force when it has members)"

conf init_pool <<'E'
subnet_router = { routes = [ "100.64.7.0/24" ]; };
E
init_role init_pool
expect init_pool 1 "FILE:3: subnet_router.routes: 100.64.7.0/24 overlaps the mesh network 100.64.0.0/10 (addresses); advertise only LAN prefixes"
grep -qx "checked as: coordinator (meshgate init, $work/init_pool/state/role.json)" "$work/out" || {
	echo "FAIL: init_pool: stdout is $(cat "$work/out")"
	fail=1
}

conf missing_psk <<E
peers = ( { public_key = "$KEY";
            preshared_key_file = "$work/missing.psk"; } );
E
expect missing_psk 1 "FILE:4: peers[0].preshared_key_file $work/missing.psk: No such file or directory"

: >"$work/a-file"
conf key_under_file "$work/a-file/keys/private.key" </dev/null
expect key_under_file 1 "FILE:2: private_key_file $work/a-file/keys/private.key: cannot be created: a parent is not a directory"

# The node's own key among its peers: start-up reads the key and refuses.
mkdir -p "$work/own_key/state"
(umask 077 && wg genkey >"$work/own_key/state/private.key")
conf own_key <<E
peers = ( { name = "me";
            public_key = "$(wg pubkey <"$work/own_key/state/private.key")"; } );
E
expect own_key 1 "FILE:3: peer 'me' has this node's own public key"

conf peer_in_pool <<E
coordinator = { enabled = true; };
peers = ( { name = "nas"; public_key = "$KEY";
            allowed_ips = [ "100.64.0.7/32" ]; } );
E
expect peer_in_pool 1 "FILE:5: peers[0].allowed_ips: 100.64.0.7/32 is inside the mesh's address pool 100.64.0.0/10 (coordinator.prefix4), where the coordinator gives members their addresses; give peer 'nas' addresses outside it"

conf unknown_exit <<'E'
use_exit_node = { peer = "home"; };
E
expect unknown_exit 1 "FILE:3: use_exit_node.peer 'home' is not a known peer: no peer has that name or mesh address"

cat >"$work/wg0.conf" <<'E'
# pasted from a WireGuard app
[Interface]
PrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=
Address = 10.0.0.2/24

[Peer]
PublicKey = I5/h/qsGhhR+WdJLQ0f4JHAGceyiqDT6tc1rBIPX5k4=
AllowedIPs = 0.0.0.0/0
E
expect wg0 1 "FILE:2: this is a wg-quick config, not a meshgate config: see meshgate.conf(5) (peers = ( { public_key = ...; allowed_ips = [...]; endpoint = ...; } ))"

# A kernel fact: a warning, and the file passes.
conf absent_wan <<'E'
exit_node = { enabled = true;
  wan_interface = "mgnone9"; };
E
expect absent_wan 0 "FILE:4: warning: exit_node.wan_interface 'mgnone9' is not an interface of this host now (a fact of the kernel, not of the file): the exit node forwards nothing until it exists"

# A member's policy section: read and checked, but the coordinator's counts.
conf member_policy <<'E'
policy = { default = "deny";
  rules = ( { from = [ "*" ]; to = [ "exit" ]; } ); };
E
expect member_policy 0 "FILE:3: warning: policy counts only on the coordinator: this node enforces the coordinator's policy and ignores its own"

# A broken policy: refused at its line.
conf bad_policy <<'E'
policy = {
  rules = ( { from = [ "group:admins" ]; to = [ "home:22" ]; } ); };
E
expect bad_policy 1 "FILE:4: policy.rules: group:admins is not defined in policy.groups"

conf good <<E
addresses = [ "10.0.0.1/24" ];
peers = ( { name = "b"; public_key = "$KEY"; allowed_ips = [ "10.0.0.2/32", "0.0.0.0/0" ]; } );
use_exit_node = { peer = "b"; };
E
expect good 0 ""
if ! grep -qx "checked as: none (no coordinator.enabled, join or role.json)" "$work/out" ||
	! grep -qx "$work/good.conf: configuration is valid" "$work/out"; then
	echo "FAIL: good: stdout is $(cat "$work/out")"
	fail=1
fi

# Not root: what this user may not read is not judged, and says so.
if [ "$(id -u)" = 0 ]; then
	conf unreadable <<'E'
E
	mkdir -p "$work/unreadable/state"
	(umask 077 && wg genkey >"$work/unreadable/state/private.key")
	chmod 0700 "$work/unreadable/state"
	chmod 0755 "$work" "$work/unreadable"
	chmod 0644 "$work/unreadable.conf"
	meshgated_root=$meshgated
	meshgated="setpriv --reuid=nobody --regid=nogroup --clear-groups $meshgated_root"
	expect unreadable 0 "FILE:2: warning: private_key_file $work/unreadable/state/private.key: not checked: Permission denied (meshgated runs as root)"
	meshgated=$meshgated_root
fi

echo "$n files checked"
exit "$fail"
