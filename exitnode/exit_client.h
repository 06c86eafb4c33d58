/*
 * Exit-node client: the part of the route plan (router/plan.h) for a node
 * that sends its internet traffic through a peer (use_exit_node). Called by
 * route_plan_compute() on its struct planner (router/planner.h), in the
 * order declared here; it uses the planner_* helpers and calls nothing of
 * router/plan.c.
 */
#ifndef MESHGATE_EXITNODE_EXIT_CLIENT_H
#define MESHGATE_EXITNODE_EXIT_CLIENT_H

#include <stdbool.h>

#include "plan_types.h"

struct planner;

/*
 * The one predicate of the exit in use: PLAN_EXIT_OK when peer (NULL: none
 * by the wanted name) carries internet traffic (a default among its allowed
 * IPs), else why not. mesh_joined: the peers are a netmap's. The plan routes
 * through the peer, and status reports, by this result alone.
 */
enum plan_exit_reason exit_client_verdict(const struct plan_peer *peer, bool mesh_joined);

/*
 * Sets the plan's exit_peer from use_exit_node.peer (-1 when it is empty or,
 * on a mesh member, names no peer yet), exit_wanted, exit_state and
 * exit_reason (exit_client_verdict()). Returns 0, -EINVAL
 * with the reason in the planner's errbuf (no such static peer, or one that
 * is not exit-capable), or -ENOMEM.
 */
int exit_client_choose_peer(struct planner *pl) __attribute__((warn_unused_result));

/* True if the LAN rule (RULE_PRIORITY_LAN) stays: no exit in use, or
 * use_exit_node.allow_lan_access. */
bool exit_client_allows_lan(const struct planner *pl);

/* With an exit in use, adds the default routes through the TUN and the kill
 * switch's unreachable defaults. Returns 0 or -ENOMEM. */
int exit_client_routes(struct planner *pl) __attribute__((warn_unused_result));

#endif
