/*
 * The reconciler: makes the kernel hold what a route plan says, and takes it
 * all away again. Order matters for traffic, so it is fixed:
 *
 *   apply:  sysctls -> nftables table -> routes -> rules
 *   stop:   rules -> routes -> nftables table -> sysctls restored
 *
 * Rules come last on the way up and first on the way down: they are what
 * diverts traffic into the mesh, so nothing is diverted before the routes
 * and the firewall that serve it exist. Previous sysctl values are saved in
 * the state directory before they change, so `meshgated --cleanup` can put
 * them back after a crash.
 */
#ifndef MESHGATE_ROUTER_ROUTER_H
#define MESHGATE_ROUTER_ROUTER_H

#include <limits.h>
#include <stdbool.h>

#include "plan.h"

struct nl_sock;
struct nft_ctx;
struct loop;
struct loop_source;
struct nft_policy_counter;

struct router {
	struct nl_sock *rtnl; /* borrowed */
	struct loop *loop;
	unsigned tun_ifindex;
	struct nft_ctx *nft; /* opened on first need: a plain node needs no nftables */
	struct loop_source *nft_watch;
	struct plan_nft nft_applied; /* what the table holds, for the monitor's re-apply */
	bool nft_present;
	char sysctl_state[PATH_MAX];
	unsigned restores; /* times the table was put back after someone removed it */
};

/* Prepares a router; state_dir holds the saved sysctl values. */
void router_init(struct router *r, struct nl_sock *rtnl, struct loop *loop, unsigned tun_ifindex,
		 const char *state_dir);

/* Reconciles the kernel to plan. On error the message names what failed
 * and how to fix it; what was applied before the failure stays (a later
 * apply or router_stop() finishes the job). */
int router_apply(struct router *r, const struct route_plan *plan, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * The access policy's counters (nft_policy_counters()), read from the
 * kernel now: one netlink dump, so call it per scrape of the status, not
 * per packet. -ENOENT when the table enforces no policy (none, or default
 * "allow"); else 0 or -errno. *out: free() it.
 */
int router_policy_counters(const struct router *r, struct nft_policy_counter **out, size_t *n)
    __attribute__((warn_unused_result));

/* Removes everything (see the order above). */
void router_stop(struct router *r);

/* `meshgated --cleanup`: the same removal without a running daemon. 0 when
 * nothing of ours is left; messages go to stderr. */
int router_cleanup(const char *state_dir);

/* Where the saved sysctl values live under state_dir. */
void router_sysctl_state_path(const char *state_dir, char *out, size_t len);

#endif
