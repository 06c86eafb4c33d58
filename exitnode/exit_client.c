/*
 * Exit-node client (exit_client.h): the exit in use, its default routes
 * and kill switch, and whether the host's LANs stay direct. Pure, like the
 * rest of the route plan (router/plan.c); every rule below has a case in
 * tests/unit/test_plan.c.
 *
 * Exit node in use (use_exit_node.peer)
 *  - Matched by name first, then by a mesh address when the value is an IP
 *    address. Unknown, or without a default in its allowed IPs: -EINVAL,
 *    the configuration cannot be served. On a mesh member (plan_host's
 *    mesh_member) both only warn: a netmap peer's exit offer comes and
 *    goes, and the peer itself may not be in the netmap yet (or any more);
 *    the routes and kill switch below stay, so nothing leaks meanwhile.
 *  - Default routes through the TUN for both families, plus unreachable
 *    defaults at ROUTE_METRIC_KILL_SWITCH: a family the exit does not offer
 *    still goes into the TUN, where the engine drops it (with a warning),
 *    rather than out of the uplink.
 *  - One predicate, exit_client_verdict(), decides both: the plan routes
 *    through the peer exactly when it returns PLAN_EXIT_OK, and the plan
 *    keeps its result (exit_state, exit_reason) for status, so the two
 *    cannot disagree. Blocked (no netmap yet, unknown, no exit offered,
 *    not approved, offline): the kill switch drops internet traffic.
 *  - Independent of accept_routes: asking for an exit is explicit.
 *  - LAN access: the LAN rule stays only with use_exit_node.allow_lan_access;
 *    without it the host's LANs too take ROUTE_TABLE, and served prefixes
 *    inside them are routed through the mesh.
 */
#include "exit_client.h"

#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "plan_exit.h"
#include "planner.h"

static bool exit_capable(const struct plan_peer *peer, int family)
{
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		const struct prefix *p = &peer->allowed_ips[i];
		if (planner_is_default(p) && (family == AF_UNSPEC || p->family == family))
			return true;
	}
	return false;
}

/* True if addr (a host prefix) is one of the peer's mesh addresses. */
static bool peer_has_mesh_address(const struct planner *pl, const struct plan_peer *peer,
				  const struct prefix *addr)
{
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		const struct prefix *p = &peer->allowed_ips[i];
		if (!planner_is_default(p) && planner_is_mesh_address(pl, p) &&
		    prefix_contains(p, addr))
			return true;
	}
	return false;
}

static long find_peer(const struct planner *pl, const char *want)
{
	struct prefix addr;

	for (size_t i = 0; i < pl->n_peers; i++)
		if (!strcmp(pl->peers[i].name, want))
			return (long)i;
	if (strchr(want, '/') || prefix_parse(&addr, want) < 0)
		return -1;
	for (size_t i = 0; i < pl->n_peers; i++)
		if (peer_has_mesh_address(pl, &pl->peers[i], &addr))
			return (long)i;
	return -1;
}

enum plan_exit_reason exit_client_verdict(const struct plan_peer *peer, bool mesh_joined)
{
	if (!peer)
		return mesh_joined ? PLAN_EXIT_UNKNOWN : PLAN_EXIT_NO_NETMAP;
	if (exit_capable(peer, AF_UNSPEC))
		return PLAN_EXIT_OK;
	if (peer->exit_pending)
		return PLAN_EXIT_PENDING;
	/* The netmap gives an approved exit's defaults only while it is online. */
	return peer->exit_approved ? PLAN_EXIT_OFFLINE : PLAN_EXIT_NOT_OFFERED;
}

static void set_state(struct planner *pl, enum plan_exit_reason reason)
{
	pl->p.exit_reason = reason;
	pl->p.exit_state = reason == PLAN_EXIT_OK ? PLAN_EXIT_IN_USE : PLAN_EXIT_BLOCKED;
}

int exit_client_choose_peer(struct planner *pl)
{
	const char *want = pl->cfg->use_exit_node.peer;
	const struct plan_peer *peer;
	long i;

	pl->p.exit_peer = -1;
	pl->p.exit_wanted = want[0] != '\0';
	pl->p.exit_state = PLAN_EXIT_OFF;
	pl->p.exit_reason = PLAN_EXIT_OK;
	if (!want[0])
		return 0;
	i = find_peer(pl, want);
	set_state(pl, exit_client_verdict(i < 0 ? NULL : &pl->peers[i], pl->host->mesh_joined));
	if (i < 0 && pl->host->mesh_member)
		return planner_warn(pl,
				    "exit node '%s' is not in the mesh's netmap (yet); internet "
				    "traffic is dropped rather than sent outside the mesh",
				    want);
	if (i < 0)
		return planner_fail(pl,
				    "use_exit_node.peer '%s' is not a known peer: no peer has that "
				    "name or mesh address",
				    want);
	peer = &pl->peers[i];
	if (pl->p.exit_state != PLAN_EXIT_IN_USE && peer->mesh) {
		pl->p.exit_peer = i;
		return planner_warn(pl,
				    "exit node '%s' offers no exit now (%s); internet traffic is "
				    "dropped rather than sent outside the mesh",
				    peer->name, route_plan_exit_reason_name(pl->p.exit_reason));
	}
	if (pl->p.exit_state != PLAN_EXIT_IN_USE)
		return planner_fail(pl,
				    "use_exit_node.peer '%s' is not an exit node: its allowed_ips "
				    "have no 0.0.0.0/0 or ::/0",
				    want);
	pl->p.exit_peer = i;
	if (!exit_capable(peer, AF_INET))
		return planner_warn(pl,
				    "exit node '%s' offers IPv6 only; IPv4 traffic is dropped "
				    "rather than sent outside the mesh",
				    peer->name);
	if (!exit_capable(peer, AF_INET6))
		return planner_warn(pl,
				    "exit node '%s' offers IPv4 only; IPv6 traffic is dropped "
				    "rather than sent outside the mesh",
				    peer->name);
	return 0;
}

bool exit_client_allows_lan(const struct planner *pl)
{
	return !pl->p.exit_wanted || pl->cfg->use_exit_node.allow_lan_access;
}

int exit_client_routes(struct planner *pl)
{
	static const struct prefix defaults[] = { { .family = AF_INET }, { .family = AF_INET6 } };
	int ret = 0;

	if (!pl->p.exit_wanted)
		return 0;
	for (size_t i = 0; i < 2 && !ret; i++)
		ret = planner_route_add(pl, &defaults[i], PLAN_ROUTE_TUN, ROUTE_METRIC_TUN);
	for (size_t i = 0; i < 2 && !ret; i++)
		ret = planner_route_add(pl, &defaults[i], PLAN_ROUTE_UNREACHABLE,
					ROUTE_METRIC_KILL_SWITCH);
	return ret;
}
