/*
 * Exit-node server: the part of the route plan (router/plan.h) for a node
 * that offers its uplink to the mesh (exit_node). Called by
 * route_plan_compute() on its struct planner (router/planner.h); it uses the
 * planner_* helpers and calls nothing of router/plan.c.
 */
#ifndef MESHGATE_EXITNODE_EXIT_SERVER_H
#define MESHGATE_EXITNODE_EXIT_SERVER_H

#include <net/if.h>

struct planner;
struct plan_nft;

/*
 * The exit node's WAN interface into wan: exit_node.wan_interface, else the
 * host's default-route interface, never the TUN. Returns 0 or -EINVAL with
 * the reason in the planner's errbuf.
 */
int exit_server_wan(struct planner *pl, char wan[IFNAMSIZ]) __attribute__((warn_unused_result));

/*
 * Fills the exit-node facts of nft: exit_node, wan, allow_private and the
 * guarded prefixes (canonical; empty with allow_private). Returns 0,
 * -EINVAL (no usable WAN, see exit_server_wan()) or -ENOMEM.
 */
int exit_server_nft(struct planner *pl, struct plan_nft *nft) __attribute__((warn_unused_result));

/* Private and special-purpose ranges exit traffic may not reach by default
 * (RFC 1918, RFC 6598, loopback, link-local, ULA, multicast, ...); NULL
 * ends the list. What is in and out, and why, is beside the definition. */
extern const char *const exit_server_private_ranges[];

#endif
