/*
 * The route plan: what the kernel should hold for this node, computed by a
 * pure function from the configuration, the peers and a few facts about the
 * host. router/ reconciles the kernel to it (routes and rules through
 * rtnetlink, the nftables table through one batch, sysctls), and the node
 * gives the engine the allowed IPs the plan says.
 *
 * Kernel objects carry the tags of plan_types.h, so what is ours can
 * always be found again.
 *
 * The policy rules, for each family, when the table has any route:
 *
 *   5300  lookup main suppress_prefixlength 0    the host's own specific
 *         routes (its LANs) win over the mesh; left out when an exit node
 *         is in use without allow_lan_access
 *   5310  not fwmark BYPASS/MASK lookup ROUTE_TABLE
 *
 * An exit-node client gets default routes through the TUN in ROUTE_TABLE,
 * plus unreachable defaults with the highest metric: if the daemon dies the
 * TUN routes vanish but the unreachable ones stay, so traffic is refused
 * instead of leaking out of the uplink (until `meshgated --cleanup`).
 *
 * router/plan.c computes the plan and calls the exit node's two parts,
 * exitnode/exit_client.c and exit_server.c, one way; all three work on one
 * computation's state through the helpers of router/planner.h (planner.c),
 * which call none of them.
 */
#ifndef MESHGATE_ROUTER_PLAN_H
#define MESHGATE_ROUTER_PLAN_H

#include <stddef.h>

#include "plan_types.h"

struct mg_config;

/*
 * Computes the plan. Pure: no system calls, no global state. Returns 0,
 * -ENOMEM, or -EINVAL with errbuf saying why the configuration cannot be
 * served on this host (e.g. exit_node.enabled without any WAN interface).
 * Free out with route_plan_free() in every case.
 */
int route_plan_compute(const struct mg_config *cfg, const struct plan_peer *peers, size_t n_peers,
		       const struct plan_host *host, struct route_plan *out, char *errbuf,
		       size_t errlen) __attribute__((warn_unused_result));

void route_plan_free(struct route_plan *plan);

/*
 * Writes the plan as text, one object per line ("route tun 192.168.77.0/24
 * metric 0", "rule ipv4 5310 not fwmark 0x4d0000/0xff0000 lookup 41641",
 * "sysctl ...", "nft ...", "peer N [exit] PREFIX...", "warning ..."), for
 * logs and tests. Returns the length of the whole text, as snprintf() does;
 * buf is always terminated when len > 0.
 */
size_t route_plan_format(const struct route_plan *plan, char *buf, size_t len);

/* True if the two plans want the same nftables table (prefix lists of a
 * computed plan are sorted, so they compare element by element). */
bool plan_nft_equal(const struct plan_nft *a, const struct plan_nft *b);

/* Deep copy of src into dst, whose old content is freed first; 0 or
 * -ENOMEM (dst then empty). Free with plan_nft_free(). */
int plan_nft_copy(struct plan_nft *dst, const struct plan_nft *src)
    __attribute__((warn_unused_result));

/* Frees what nft owns and empties it. */
void plan_nft_free(struct plan_nft *nft);

#endif
