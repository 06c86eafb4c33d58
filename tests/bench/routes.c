/*
 * Benchmark: time to install, change and remove N IPv4 routes (default
 * 10,000) with route_reconcile()'s batched netlink, and, for comparison, to
 * install them with one synchronous request and acknowledgement per route
 * (libnl's rtnl_route_add). Prints figures; asserts nothing.
 *
 * Needs root; runs in its own network namespace (unshare(CLONE_NEWNET)) on a
 * dummy link (or a veth pair without the dummy driver).
 *
 *   cmake --build build --target bench_routes && build/tests/bench_routes [N]
 */
#include <errno.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "route.h"

#define DEV "mgbench0"

static struct nl_sock *sk;
static unsigned dev_index;
static char errbuf[512];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int make_link(void)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int ret;

	rtnl_link_set_name(link, DEV);
	ret = rtnl_link_set_type(link, "dummy");
	if (ret == 0)
		ret = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	if (ret < 0)
		ret = rtnl_link_veth_add(sk, DEV, DEV "p", getpid());
	dev_index = ret < 0 ? 0 : link_index(sk, DEV);
	return dev_index ? link_up(sk, dev_index, 1500) : -ENODEV;
}

/* The i-th of 100.0.0.0/24, 100.0.1.0/24, ... from base on. */
static void routes_fill(struct plan_route *r, size_t n, size_t base)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = base + i;
		r[i] = (struct plan_route){ .dst = { .family = AF_INET, .len = 24 },
					    .type = PLAN_ROUTE_TUN };
		r[i].dst.addr[0] = (uint8_t)(100 + (k >> 16));
		r[i].dst.addr[1] = (uint8_t)(k >> 8);
		r[i].dst.addr[2] = (uint8_t)k;
	}
}

static void report(const char *what, size_t n, double ms)
{
	printf("%zu routes %s in %.1f ms (%.0f routes/s)\n", n, what, ms,
	       ms > 0 ? (double)n * 1e3 / ms : 0.0);
}

static int timed_reconcile(const char *what, const struct plan_route *r, size_t n, size_t changed)
{
	double t0 = now_ms();
	int ret = route_reconcile(sk, dev_index, r, n, errbuf, sizeof(errbuf));

	if (ret < 0) {
		fprintf(stderr, "route_reconcile: %s\n", errbuf);
		return ret;
	}
	report(what, changed, now_ms() - t0);
	return 0;
}

/* One request and one acknowledgement per route, for comparison. */
static int sync_install(const struct plan_route *r, size_t n)
{
	double t0 = now_ms();

	for (size_t i = 0; i < n; i++) {
		struct rtnl_route *route = rtnl_route_alloc();
		struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
		struct nl_addr *dst = nl_addr_build(AF_INET, r[i].dst.addr, 4);
		int ret;

		nl_addr_set_prefixlen(dst, r[i].dst.len);
		rtnl_route_set_family(route, AF_INET);
		rtnl_route_set_table(route, ROUTE_TABLE);
		rtnl_route_set_protocol(route, ROUTE_PROTOCOL);
		rtnl_route_set_scope(route, RT_SCOPE_LINK);
		rtnl_route_set_dst(route, dst);
		rtnl_route_nh_set_ifindex(nh, (int)dev_index);
		rtnl_route_add_nexthop(route, nh);
		ret = rtnl_route_add(sk, route, NLM_F_EXCL);
		nl_addr_put(dst);
		rtnl_route_put(route);
		if (ret < 0) {
			fprintf(stderr, "rtnl_route_add: %s\n", nl_geterror(ret));
			return -EIO;
		}
	}
	report("installed one request at a time (libnl rtnl_route_add)", n, now_ms() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	struct plan_route *r = calloc(n + n / 2 + 1, sizeof(*r));
	double t0;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "needs root and a network namespace\n");
		return 77;
	}
	sk = rtnl_open();
	if (!r || n == 0 || !sk || make_link() < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	routes_fill(r, n, 0);
	if (timed_reconcile("installed", r, n, n) < 0)
		return 1;
	if (timed_reconcile("reconciled unchanged", r, n, n) < 0)
		return 1;
	routes_fill(r + n / 2, n - n / 2, n);
	/* Counted in changes: n/2 deletions plus n/2 additions. */
	if (timed_reconcile("changed (half deleted, as many added; counted as changes)", r, n,
			    2 * (n - n / 2)) < 0)
		return 1;
	t0 = now_ms();
	if (route_remove_all(sk) < 0)
		return 1;
	report("removed", n, now_ms() - t0);

	routes_fill(r, n, 0);
	if (sync_install(r, n) < 0)
		return 1;
	t0 = now_ms();
	if (route_remove_all(sk) < 0)
		return 1;
	report("removed (after the one-at-a-time install)", n, now_ms() - t0);
	rtnl_close(sk);
	free(r);
	return 0;
}
