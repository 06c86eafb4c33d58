/*
 * router/route against the real kernel: routes in ROUTE_TABLE and rules in
 * the priority band reconciled to a plan, changed, removed; foreign routes
 * and rules left alone; conflicts named; ten thousand routes.
 *
 * Needs root; everything happens in a private network namespace created by
 * unshare(CLONE_NEWNET) before anything else, with one test link (a dummy,
 * or a veth pair where the dummy driver is missing). What the kernel holds
 * is read back with `ip` (independent of the code under test), and netlink
 * notifications show which routes and rules were actually touched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/socket.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link.h"
#include "route.h"
#include "testlib.h"

#define DEV "mgr0"

enum { MANY = 10000, LINES_MAX = 32 };

static struct nl_sock *sk;
static unsigned dev_index;
static char errbuf[512];

/* ---- setup ---- */

static int make_link(void)
{
	struct rtnl_link *link = rtnl_link_alloc();
	unsigned peer;
	int ret;

	rtnl_link_set_name(link, DEV);
	ret = rtnl_link_set_type(link, "dummy");
	if (ret == 0)
		ret = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	if (ret < 0) /* no dummy driver: a veth pair does as well */
		ret = rtnl_link_veth_add(sk, DEV, DEV "p", getpid());
	if (ret < 0)
		return ret;
	dev_index = link_index(sk, DEV);
	peer = link_index(sk, DEV "p"); /* only a veth has one */
	if (peer && link_up(sk, peer, 1500) < 0)
		return -EIO;
	return dev_index ? link_up(sk, dev_index, 1500) : -ENODEV;
}

static int sh(const char *cmd)
{
	char full[512];

	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	return system(full);
}

/* ---- reading back with ip ---- */

struct lines {
	char v[LINES_MAX][160];
	size_t n;   /* kept, up to LINES_MAX */
	size_t all; /* counted */
};

/* Runs an `ip` listing; keeps the lines, trailing blanks cut. */
static void ip_lines(const char *cmd, struct lines *out)
{
	FILE *f = popen(cmd, "r");
	char line[256];

	memset(out, 0, sizeof(*out));
	while (f && fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
			line[--len] = '\0';
		if (out->n < LINES_MAX)
			snprintf(out->v[out->n++], sizeof(out->v[0]), "%s", line);
		out->all++;
	}
	if (f)
		pclose(f);
}

static bool has_line(const struct lines *l, const char *want)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], want) == 0)
			return true;
	return false;
}

static bool check_has(const struct lines *l, const char *want)
{
	if (has_line(l, want))
		return CHECK(true);
	printf("  missing line \"%s\"; have:\n", want);
	for (size_t i = 0; i < l->n; i++)
		printf("    \"%s\"\n", l->v[i]);
	return CHECK(false);
}

static size_t count_lines(const char *cmd)
{
	struct lines l;

	ip_lines(cmd, &l);
	return l.all;
}

/* ---- watching what changes ---- */

struct monitor {
	struct nl_sock *sk;
	unsigned news, dels;
	bool overrun;
};

static void monitor_open(struct monitor *m)
{
	memset(m, 0, sizeof(*m));
	m->sk = nl_socket_alloc();
	nl_connect(m->sk, NETLINK_ROUTE);
	/* Room for the notifications of ten thousand changes. */
	setsockopt(nl_socket_get_fd(m->sk), SOL_SOCKET, SO_RCVBUFFORCE, &(int){ 64 << 20 },
		   sizeof(int));
	nl_socket_add_memberships(m->sk, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE,
				  RTNLGRP_IPV6_RULE, 0);
}

/* Counts the notifications queued so far (the kernel queues them before
 * the change's request returns). */
static void monitor_read(struct monitor *m)
{
	char buf[65536];
	ssize_t n;

	while ((n = recv(nl_socket_get_fd(m->sk), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		int len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)len);
		     h = NLMSG_NEXT(h, len)) {
			/* The kernel's own routes (IPv6 link-local ones once
			 * DAD ends, late on a loaded machine) are not ours. */
			bool route = h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE;
			if (route &&
			    ((struct rtmsg *)NLMSG_DATA(h))->rtm_protocol != ROUTE_PROTOCOL)
				continue;
			m->news += h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_NEWRULE;
			m->dels += h->nlmsg_type == RTM_DELROUTE || h->nlmsg_type == RTM_DELRULE;
		}
	}
	m->overrun = n < 0 && errno == ENOBUFS;
	CHECK(!m->overrun);
	nl_socket_free(m->sk);
}

/* ---- plans ---- */

static struct plan_route rt(const char *dst, enum plan_route_type type, uint32_t metric)
{
	struct plan_route r = { .type = type, .metric = metric };

	if (prefix_parse(&r.dst, dst) < 0)
		abort();
	return r;
}

#define TUN(dst)  rt(dst, PLAN_ROUTE_TUN, ROUTE_METRIC_TUN)
#define KILL(dst) rt(dst, PLAN_ROUTE_UNREACHABLE, ROUTE_METRIC_KILL_SWITCH)

static int reconcile(const struct plan_route *r, size_t n)
{
	int ret = route_reconcile(sk, dev_index, r, n, errbuf, sizeof(errbuf));

	if (ret < 0)
		printf("  route_reconcile: %d: %s\n", ret, errbuf);
	return ret;
}

static const char *const V4 = "ip -4 route show table 41641";
static const char *const V6 = "ip -6 route show table 41641";

/* ---- routes ---- */

static void test_routes_install(void)
{
	struct plan_route plan[] = {
		TUN("10.1.0.0/16"), TUN("10.2.0.0/16"), TUN("192.168.50.0/24"),
		KILL("0.0.0.0/0"),  TUN("fd00:1::/48"), TUN("fd00:2::/48"),
		KILL("::/0"),       TUN("10.1.0.0/16"), /* duplicate: once */
	};
	struct lines v4, v6;
	struct monitor m;

	CHECK_EQ_INT(reconcile(plan, sizeof(plan) / sizeof(plan[0])), 0);
	ip_lines(V4, &v4);
	ip_lines(V6, &v6);
	CHECK_EQ_INT(v4.all, 4);
	check_has(&v4, "10.1.0.0/16 dev " DEV " proto 77 scope link");
	check_has(&v4, "10.2.0.0/16 dev " DEV " proto 77 scope link");
	check_has(&v4, "192.168.50.0/24 dev " DEV " proto 77 scope link");
	check_has(&v4, "unreachable default proto 77 metric 2147483647");
	CHECK_EQ_INT(v6.all, 3);
	/* libnl's own requests on the same socket still work afterwards. */
	CHECK_EQ_INT(link_up(sk, dev_index, 1400), 0);
	CHECK_EQ_INT(link_up(sk, dev_index, 1500), 0);
	check_has(&v6, "fd00:1::/48 dev " DEV " proto 77 metric 1024 pref medium");
	check_has(&v6, "fd00:2::/48 dev " DEV " proto 77 metric 1024 pref medium");
	check_has(&v6, "unreachable default dev lo proto 77 metric 2147483647 pref medium");

	/* The same plan again changes nothing. */
	monitor_open(&m);
	CHECK_EQ_INT(reconcile(plan, sizeof(plan) / sizeof(plan[0])), 0);
	monitor_read(&m);
	CHECK_EQ_INT(m.news, 0);
	CHECK_EQ_INT(m.dels, 0);
}

static void test_routes_change(void)
{
	struct plan_route plan[] = {
		TUN("10.1.0.0/16"), rt("192.168.50.0/24", PLAN_ROUTE_TUN, 100),
		TUN("10.4.0.0/16"), KILL("0.0.0.0/0"),
		TUN("fd00:1::/48"), TUN("fd00:4::/48"),
		KILL("::/0"),
	};
	struct lines v4, v6, main4;
	struct monitor m;

	/* Not ours: another protocol in our table, our protocol elsewhere. */
	CHECK_EQ_INT(sh("ip route add 10.99.0.0/16 dev " DEV " table 41641 proto static"), 0);
	CHECK_EQ_INT(sh("ip route add 10.3.0.0/16 dev " DEV " proto 77"), 0);
	monitor_open(&m);
	CHECK_EQ_INT(reconcile(plan, sizeof(plan) / sizeof(plan[0])), 0);
	monitor_read(&m);
	/* 10.2/16, fd00:2::/48 and 192.168.50/24 metric 0 go; three come. */
	CHECK_EQ_INT(m.dels, 3);
	CHECK_EQ_INT(m.news, 3);
	ip_lines(V4, &v4);
	ip_lines(V6, &v6);
	ip_lines("ip -4 route show table main", &main4);
	CHECK_EQ_INT(v4.all, 5);
	check_has(&v4, "10.1.0.0/16 dev " DEV " proto 77 scope link");
	check_has(&v4, "10.4.0.0/16 dev " DEV " proto 77 scope link");
	check_has(&v4, "192.168.50.0/24 dev " DEV " proto 77 scope link metric 100");
	check_has(&v4, "10.99.0.0/16 dev " DEV " proto static scope link");
	check_has(&v4, "unreachable default proto 77 metric 2147483647");
	CHECK_EQ_INT(v6.all, 3);
	check_has(&v6, "fd00:4::/48 dev " DEV " proto 77 metric 1024 pref medium");
	check_has(&main4, "10.3.0.0/16 dev " DEV " proto 77 scope link");
}

static void test_route_conflict(void)
{
	struct plan_route plan4[] = { TUN("10.1.0.0/16"), TUN("10.50.0.0/16") };
	struct plan_route plan6[] = { TUN("fd00:50::/48") };

	CHECK_EQ_INT(sh("ip route add 10.50.0.0/16 dev " DEV " table 41641 proto static"), 0);
	CHECK_EQ_INT(route_reconcile(sk, dev_index, plan4, 2, errbuf, sizeof(errbuf)), -EEXIST);
	printf("  %s\n", errbuf);
	CHECK(strstr(errbuf, "10.50.0.0/16") != NULL);
	CHECK(strstr(errbuf, "proto 4") != NULL);
	CHECK(strstr(errbuf, "did not install") != NULL);
	CHECK_EQ_INT(count_lines("ip -4 route show table 41641 10.50.0.0/16 proto static"), 1);

	CHECK_EQ_INT(sh("ip -6 route add fd00:50::/48 dev " DEV " table 41641 proto boot"), 0);
	CHECK_EQ_INT(route_reconcile(sk, dev_index, plan6, 1, errbuf, sizeof(errbuf)), -EEXIST);
	printf("  %s\n", errbuf);
	CHECK(strstr(errbuf, "fd00:50::/48") != NULL);
	CHECK(strstr(errbuf, "proto 3") != NULL);
	CHECK_EQ_INT(sh("ip -6 route del fd00:50::/48 table 41641"), 0);
}

static void test_route_invalid(void)
{
	struct plan_route plan[] = { TUN("10.1.0.0/16") };

	CHECK_EQ_INT(route_reconcile(sk, 0, plan, 1, errbuf, sizeof(errbuf)), -ENODEV);
	CHECK(strstr(errbuf, "TUN") != NULL);
}

static void test_route_remove_all(void)
{
	struct lines v4;

	CHECK_EQ_INT(route_remove_all(sk), 0);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77"), 0);
	CHECK_EQ_INT(count_lines("ip -6 route show table 41641 proto 77"), 0);
	ip_lines(V4, &v4);
	CHECK_EQ_INT(v4.all, 2); /* the two static ones stay */
	check_has(&v4, "10.99.0.0/16 dev " DEV " proto static scope link");
	CHECK_EQ_INT(count_lines("ip route show table main proto 77"), 1);
	CHECK_EQ_INT(route_remove_all(sk), 0);
	CHECK_EQ_INT(count_lines("ip route show table 41641"), 2);
}

/* 100.0.0.0/24, 100.0.1.0/24, ...: the i-th from base on. */
static void many_routes(struct plan_route *r, size_t n, size_t base)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = base + i;
		r[i] = (struct plan_route){ .dst = { .family = AF_INET, .len = 24 },
					    .type = PLAN_ROUTE_TUN };
		r[i].dst.addr[0] = 100 + (uint8_t)(k >> 16);
		r[i].dst.addr[1] = (uint8_t)(k >> 8);
		r[i].dst.addr[2] = (uint8_t)k;
	}
}

static void test_routes_many(void)
{
	struct plan_route *r = calloc(MANY, sizeof(*r));
	struct monitor m;

	many_routes(r, MANY, 0);
	CHECK_EQ_INT(reconcile(r, MANY), 0);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77"), MANY);
	/* Half of them replaced by others. */
	many_routes(r + MANY / 2, MANY / 2, MANY);
	monitor_open(&m);
	CHECK_EQ_INT(reconcile(r, MANY), 0);
	monitor_read(&m);
	CHECK_EQ_INT(m.dels, MANY / 2);
	CHECK_EQ_INT(m.news, MANY / 2);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77"), MANY);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77 100.0.0.0/24"), 1);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77 100.19.135.0/24"), 1);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77 100.19.136.0/24"), 0);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77 100.39.15.0/24"), 0);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77 100.58.151.0/24"), 1);
	CHECK_EQ_INT(route_remove_all(sk), 0);
	CHECK_EQ_INT(count_lines("ip route show table 41641 proto 77"), 0);
	free(r);
}

/* ---- rules ---- */

static const struct plan_rule rule_lan4 = { AF_INET, RULE_PRIORITY_LAN, RT_TABLE_MAIN, 0, 0, false,
					    0 };
static const struct plan_rule rule_mesh4 = {
	AF_INET, RULE_PRIORITY_MESH, ROUTE_TABLE, FWMARK_BYPASS, FWMARK_MASK, true, -1
};
static const struct plan_rule rule_lan6 = { AF_INET6, RULE_PRIORITY_LAN, RT_TABLE_MAIN, 0, 0, false,
					    0 };
static const struct plan_rule rule_mesh6 = {
	AF_INET6, RULE_PRIORITY_MESH, ROUTE_TABLE, FWMARK_BYPASS, FWMARK_MASK, true, -1
};

#define LAN  "5300:\tfrom all lookup main suppress_prefixlength 0 proto 77"
#define MESH "5310:\tnot from all fwmark 0x4d0000/0xff0000 lookup 41641 proto 77"

/* Rules of the band only. */
static void band_lines(const char *family, struct lines *out)
{
	char cmd[128];
	struct lines all;

	snprintf(cmd, sizeof(cmd), "ip %s rule show", family);
	ip_lines(cmd, &all);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < all.n; i++) {
		long prio = strtol(all.v[i], NULL, 10);
		if (prio >= RULE_PRIORITY_FIRST && prio <= RULE_PRIORITY_LAST) {
			memcpy(out->v[out->n++], all.v[i], sizeof(all.v[i]));
			out->all++;
		}
	}
}

static int rules(const struct plan_rule *r, size_t n)
{
	int ret = rule_reconcile(sk, r, n, errbuf, sizeof(errbuf));

	if (ret < 0)
		printf("  rule_reconcile: %d: %s\n", ret, errbuf);
	return ret;
}

static void test_rules(void)
{
	struct plan_rule plan[] = { rule_lan4, rule_mesh4, rule_lan6, rule_mesh6 };
	struct plan_rule plan2[] = { rule_mesh4, rule_lan6, rule_mesh6 };
	struct lines v4, v6;
	struct monitor m;

	/* Foreign: outside the band; inside it with a selector we never use,
	 * and a look-alike at our priority. */
	CHECK_EQ_INT(sh("ip rule add pref 1000 lookup 100"), 0);
	CHECK_EQ_INT(sh("ip rule add pref 5400 lookup 101"), 0);
	CHECK_EQ_INT(sh("ip rule add pref 5320 from 10.0.0.0/8 lookup 41641"), 0);
	CHECK_EQ_INT(sh("ip rule add pref 5310 lookup 41641"), 0);
	CHECK_EQ_INT(rules(plan, 4), 0);
	band_lines("-4", &v4);
	band_lines("-6", &v6);
	CHECK_EQ_INT(v4.all, 2);
	check_has(&v4, LAN);
	check_has(&v4, MESH);
	CHECK_EQ_INT(v6.all, 2);
	check_has(&v6, LAN);
	check_has(&v6, MESH);
	CHECK_EQ_INT(count_lines("ip rule show pref 1000"), 1);
	CHECK_EQ_INT(count_lines("ip rule show pref 5400"), 1);

	/* Again: nothing changes. */
	monitor_open(&m);
	CHECK_EQ_INT(rules(plan, 4), 0);
	monitor_read(&m);
	CHECK_EQ_INT(m.news + m.dels, 0);

	/* An exit node without LAN access: the IPv4 LAN rule goes, and the
	 * IPv6 mesh rule moves to another mark. */
	plan2[2].fwmark = FWMARK_MESH_SNAT;
	monitor_open(&m);
	CHECK_EQ_INT(rules(plan2, 3), 0);
	monitor_read(&m);
	CHECK_EQ_INT(m.dels, 2);
	CHECK_EQ_INT(m.news, 1);
	band_lines("-4", &v4);
	band_lines("-6", &v6);
	CHECK_EQ_INT(v4.all, 1);
	check_has(&v4, MESH);
	CHECK_EQ_INT(v6.all, 2);
	check_has(&v6, LAN);
	check_has(&v6, "5310:\tnot from all fwmark 0x4e0000/0xff0000 lookup 41641 proto 77");

	CHECK_EQ_INT(rule_remove_all(sk), 0);
	band_lines("-4", &v4);
	band_lines("-6", &v6);
	CHECK_EQ_INT(v4.all + v6.all, 0);
	CHECK_EQ_INT(rule_remove_all(sk), 0);
	CHECK_EQ_INT(count_lines("ip rule show pref 1000"), 1);
	CHECK_EQ_INT(count_lines("ip rule show pref 5400"), 1);
}

static void test_rule_invalid(void)
{
	struct plan_rule r = rule_mesh4;

	r.priority = 100;
	CHECK_EQ_INT(rule_reconcile(sk, &r, 1, errbuf, sizeof(errbuf)), -EINVAL);
	CHECK(strstr(errbuf, "100:") != NULL);
	CHECK_EQ_INT(count_lines("ip rule show pref 100"), 0);
}

int main(void)
{
	int skip = test_enter_private_netns();

	if (skip)
		return skip;
	sk = rtnl_open();
	if (!sk || link_up(sk, link_index(sk, "lo"), 65536) < 0 || make_link() < 0) {
		printf("cannot set up the namespace's links\n");
		return 1;
	}
	RUN(test_routes_install);
	RUN(test_routes_change);
	RUN(test_route_conflict);
	RUN(test_route_invalid);
	RUN(test_route_remove_all);
	RUN(test_routes_many);
	RUN(test_rules);
	RUN(test_rule_invalid);
	rtnl_close(sk);
	return test_summary();
}
