/*
 * The access policy's part of the route plan: plan_nft.acl, the share of
 * the policy this node enforces (plan_host.policy, acl/filter.h) as its
 * table holds it. Called by route_plan_compute() on its struct planner
 * (router/planner.h) once the other nftables facts are known; the rest
 * (copy, compare, free) serves plan.c's plan_nft_* functions.
 *
 *  - Only a policy that is present with default "deny" fills it; "allow",
 *    an absent policy or none at all leave deny false and no entries, and
 *    the table is what it was before policies existed.
 *  - Entry 0 is the mesh's own need, whatever the policy says (rule 0,
 *    "mesh control"): from anywhere to the node's own addresses (nft self),
 *    tcp MESH_CONTROL_PORT, where a coordinator answers its members; left
 *    out when the filter carries rule 0 itself (the coordinator's compiler
 *    may: its members to its control port), which is then taken as it is.
 *  - Then the filter's entries in its order, each a copy: src and dst
 *    masked and canonical, ports sorted and merged, and none when the
 *    protocols hold neither tcp nor udp or are "every protocol".
 *  - Exit entries only when this node serves the exit (nft exit_node):
 *    without it nothing leaves through the WAN to filter.
 */
#ifndef MESHGATE_ROUTER_PLAN_ACL_H
#define MESHGATE_ROUTER_PLAN_ACL_H

#include <stdbool.h>

#include "plan_types.h"

struct planner;

/* Fills nft->acl from the planner's host; nft->self and nft->exit_node
 * must be final. 0 or -ENOMEM. */
int plan_acl_compute(struct planner *pl, struct plan_nft *nft) __attribute__((warn_unused_result));

/* Deep copy into dst (which holds nothing); 0 or -ENOMEM (dst then empty). */
int plan_acl_copy(struct plan_acl *dst, const struct plan_acl *src)
    __attribute__((warn_unused_result));

/* Entry by entry; the plan's lists are canonical, so equal facts compare
 * equal. */
bool plan_acl_equal(const struct plan_acl *a, const struct plan_acl *b);

/* Frees the entries and empties acl; NULL-safe. */
void plan_acl_free(struct plan_acl *acl);

/* "tcp", "udp", "icmp" joined by ',' ("*" for every protocol) into buf. */
const char *plan_acl_protocols_format(uint8_t protocols, char *buf, size_t len);

/* "input", "forward", "exit". */
const char *plan_acl_hook_name(enum acl_hook hook);

#endif
