/* The reconciler; see router.h. */
#include "router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "link.h"
#include "log.h"
#include "loop.h"
#include "nft.h"
#include "route.h"
#include "sysctl.h"

void router_sysctl_state_path(const char *state_dir, char *out, size_t len)
{
	snprintf(out, len, "%s/sysctl.saved", state_dir);
}

void router_init(struct router *r, struct nl_sock *rtnl, struct loop *loop, unsigned tun_ifindex,
		 const char *state_dir)
{
	*r = (struct router){ .rtnl = rtnl, .loop = loop, .tun_ifindex = tun_ifindex };
	router_sysctl_state_path(state_dir, r->sysctl_state, sizeof(r->sysctl_state));
}

/* Someone else changed or removed our table (`nft flush ruleset` on a
 * kernel without owned tables, say): put it back. */
static void on_nft_event(void *ctx, uint32_t events)
{
	struct router *r = ctx;
	int ret;

	if (!nft_monitor_read(r->nft) || !r->nft_present)
		return;
	ret = nft_apply(r->nft, &r->nft_applied);
	if (ret < 0) {
		log_err("nftables: cannot restore table inet meshgate: %s", strerror(-ret));
		return;
	}
	r->restores++;
	log_warn("nftables: table inet meshgate was changed by someone else; restored it");
}

static int nft_ready(struct router *r, char *errbuf, size_t errlen)
{
	int fd, ret;

	if (r->nft)
		return 0;
	ret = nft_open(&r->nft);
	if (ret < 0) {
		snprintf(errbuf, errlen,
			 "nftables is unavailable (%s): forwarding, masquerading and the exit "
			 "node need the kernel's nf_tables (CONFIG_NF_TABLES) and CAP_NET_ADMIN",
			 strerror(-ret));
		return ret;
	}
	if (r->loop && nft_monitor_open(r->nft, &fd) == 0)
		r->nft_watch = loop_add_fd(r->loop, fd, EPOLLIN, on_nft_event, r);
	return 0;
}

static int apply_nft(struct router *r, const struct plan_nft *nft, char *errbuf, size_t errlen)
{
	int ret;

	if (!nft->present && !r->nft_present)
		return 0;
	if (r->nft_present && plan_nft_equal(&r->nft_applied, nft))
		return 0;
	ret = nft_ready(r, errbuf, errlen);
	if (ret < 0)
		return ret;
	ret = nft_apply(r->nft, nft);
	if (ret < 0) {
		snprintf(errbuf, errlen, "nftables: cannot install table inet meshgate: %s%s",
			 strerror(-ret),
			 ret == -EBUSY ? " (another meshgated owns it: stop that one first)" : "");
		return ret;
	}
	r->nft_present = nft->present;
	return plan_nft_copy(&r->nft_applied, nft);
}

int router_apply(struct router *r, const struct route_plan *plan, char *errbuf, size_t errlen)
{
	int ret = 0;

	if (plan->n_sysctls)
		ret = sysctl_apply(plan->sysctls, plan->n_sysctls, r->sysctl_state, errbuf, errlen);
	if (ret == 0)
		ret = apply_nft(r, &plan->nft, errbuf, errlen);
	if (ret == 0)
		ret = route_reconcile(r->rtnl, r->tun_ifindex, plan->routes, plan->n_routes, errbuf,
				      errlen);
	if (ret == 0)
		ret = rule_reconcile(r->rtnl, plan->rules, plan->n_rules, errbuf, errlen);
	return ret;
}

int router_policy_counters(const struct router *r, struct nft_policy_counter **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!r->nft || !r->nft_present || !r->nft_applied.acl.deny)
		return -ENOENT;
	return nft_policy_counters(r->nft, out, n);
}

void router_stop(struct router *r)
{
	char err[512];
	int ret;

	if (rule_remove_all(r->rtnl) < 0)
		log_err("cannot remove the ip rules in the band %d-%d", RULE_PRIORITY_FIRST,
			RULE_PRIORITY_LAST);
	if (route_remove_all(r->rtnl) < 0)
		log_err("cannot remove the routes of table %d", ROUTE_TABLE);
	if (r->nft) {
		if (r->nft_present && (ret = nft_remove(r->nft)) < 0)
			log_err("cannot remove table inet meshgate: %s", strerror(-ret));
		if (r->loop && r->nft_watch)
			loop_del_fd(r->loop, r->nft_watch);
		nft_close(r->nft);
	}
	if (sysctl_restore(r->sysctl_state, err, sizeof(err)) < 0)
		log_err("%s", err);
	plan_nft_free(&r->nft_applied);
	r->nft = NULL;
	r->nft_watch = NULL;
	r->nft_present = false;
}

int router_cleanup(const char *state_dir)
{
	char state[PATH_MAX], err[512];
	struct nl_sock *sk = rtnl_open();
	int ret = 0, r;

	if (!sk) {
		fprintf(stderr, "meshgated: cannot open rtnetlink: %s\n", strerror(errno));
		return -errno;
	}
	if ((r = rule_remove_all(sk)) < 0) {
		fprintf(stderr, "meshgated: cannot remove ip rules %d-%d: %s\n",
			RULE_PRIORITY_FIRST, RULE_PRIORITY_LAST, strerror(-r));
		ret = r;
	}
	if ((r = route_remove_all(sk)) < 0) {
		fprintf(stderr, "meshgated: cannot remove the routes of table %d: %s\n",
			ROUTE_TABLE, strerror(-r));
		ret = r;
	}
	rtnl_close(sk);
	r = nft_cleanup_table();
	if (r < 0 && r != -EPROTONOSUPPORT) {
		fprintf(stderr, "meshgated: cannot remove table inet meshgate: %s\n", strerror(-r));
		ret = r;
	}
	router_sysctl_state_path(state_dir, state, sizeof(state));
	if ((r = sysctl_restore(state, err, sizeof(err))) < 0) {
		fprintf(stderr, "meshgated: %s\n", err);
		ret = r;
	}
	return ret;
}
