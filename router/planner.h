/*
 * The state of one route plan computation and the helpers its parts share:
 * router/plan.c (the plan as a whole) and exitnode/exit_client.c and
 * exit_server.c (the exit node's two sides), which plan.c calls. Defined in
 * planner.c, which calls none of them: the helpers are the bottom of the
 * planning unit (above only plan_types.h), so no call goes back up.
 * Internal to mg_router: nothing outside those files includes it.
 */
#ifndef MESHGATE_ROUTER_PLANNER_H
#define MESHGATE_ROUTER_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "plan_types.h"

struct mg_config;

/* The state of one computation; the plan is built in p and handed over
 * only on success. */
struct planner {
	const struct mg_config *cfg;
	const struct plan_peer *peers;
	size_t n_peers;
	const struct plan_host *host;
	const char *tun;
	struct plan_prefixes mesh; /* the mesh networks */
	/* What this node serves: subnet_router.routes and exit_node.enabled,
	 * on a mesh member only as far as the coordinator approved them. */
	struct plan_prefixes served;
	bool exit_served;
	bool lan_rule; /* RULE_PRIORITY_LAN is wanted */
	struct route_plan p;
	char *errbuf;
	size_t errlen;
};

/* Writes the reason into the caller's errbuf; returns -EINVAL. */
int planner_fail(struct planner *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds a note to the plan's warnings; returns 0 or -ENOMEM. */
int planner_warn(struct planner *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one zeroed element of size bytes to the array *vp of *n; returns
 * it, or NULL when out of memory. */
void *planner_append(void *vp, size_t *n, size_t size) __attribute__((warn_unused_result));

/* Appends a copy of p to list; returns 0 or -ENOMEM. */
int planner_prefixes_add(struct plan_prefixes *list, const struct prefix *p)
    __attribute__((warn_unused_result));

/* dst = a copy of src (dst's old contents are not freed); 0 or -ENOMEM,
 * dst empty then. */
int planner_prefixes_copy(struct plan_prefixes *dst, const struct plan_prefixes *src)
    __attribute__((warn_unused_result));

/* Element by element: equal canonical lists are equal sets. */
bool planner_prefixes_equal(const struct plan_prefixes *a, const struct plan_prefixes *b);

/* Sorts list and drops every entry that lies inside another one. */
void planner_prefixes_canonicalize(struct plan_prefixes *list);

/* True if p lies inside one of the mesh networks. */
bool planner_is_mesh_address(const struct planner *pl, const struct prefix *p);

/* Appends a route to the plan; returns 0 or -ENOMEM. */
int planner_route_add(struct planner *pl, const struct prefix *dst, enum plan_route_type type,
		      uint32_t metric) __attribute__((warn_unused_result));

static inline bool planner_is_default(const struct prefix *p)
{
	return p->len == 0;
}

#endif
