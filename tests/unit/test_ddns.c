/*
 * Following an endpoint's name (daemon/ddns.c), no resolver: answers are
 * handed in as the resolver would. A first answer is news; an answer that
 * still holds the previous address is not, whichever of its addresses comes
 * first (the roaming rule: the peer stays where roaming put it); one
 * without it is, with the old address handed back; a failed lookup keeps
 * the address; lookups are due at once, then every DDNS_INTERVAL_S, every
 * DDNS_RETRY_S while the peer looks failed.
 */
#include <errno.h>
#include <string.h>

#include "ddns.h"
#include "testlib.h"

#define SEC 1000000000ULL

static struct resolver_result answer(const char *a, const char *b)
{
	struct resolver_result r = { 0 };

	if (a && sockaddr_parse(&r.addrs[r.n], a) == 0)
		r.n++;
	if (b && sockaddr_parse(&r.addrs[r.n], b) == 0)
		r.n++;
	return r;
}

static void name_init(struct ddns_name *n)
{
	struct endpoint ep;

	if (!CHECK_EQ_INT(endpoint_parse(&ep, "home.ddns.test:41641"), 0))
		return;
	ddns_init(n, &ep);
}

static bool addr_is(const union sockaddr_inet *sa, const char *text)
{
	union sockaddr_inet want;

	return sockaddr_parse(&want, text) == 0 && sockaddr_equal(sa, &want);
}

static void test_first_answer(void)
{
	struct resolver_result r = answer("198.51.100.10:41641", NULL);
	union sockaddr_inet was;
	struct ddns_name n;

	name_init(&n);
	CHECK(!n.known);
	CHECK_EQ_INT(ddns_take(&n, &r, 1000, "peer home", &was), DDNS_NEW);
	CHECK(n.known);
	CHECK(addr_is(&n.addr, "198.51.100.10:41641"));
	CHECK_EQ_INT(was.sa.sa_family, AF_UNSPEC);
	CHECK_EQ_INT(n.resolved_at, 1000);
}

static void test_same_is_no_news(void)
{
	struct resolver_result r = answer("198.51.100.10:41641", NULL);
	struct resolver_result both = answer("198.51.100.30:41641", "198.51.100.10:41641");
	struct ddns_name n;

	name_init(&n);
	ddns_take(&n, &r, 1000, "peer home", NULL);
	CHECK_EQ_INT(ddns_take(&n, &r, 1030, "peer home", NULL), DDNS_SAME);
	CHECK_EQ_INT(n.resolved_at, 1030);
	/* Still among the answers, not first: no news either. */
	CHECK_EQ_INT(ddns_take(&n, &both, 1060, "peer home", NULL), DDNS_SAME);
	CHECK(addr_is(&n.addr, "198.51.100.10:41641"));
}

static void test_changed(void)
{
	struct resolver_result r = answer("198.51.100.10:41641", NULL);
	struct resolver_result moved = answer("198.51.100.20:41641", NULL);
	union sockaddr_inet was;
	struct ddns_name n;

	if (!CHECK_EQ_INT(sockaddr_parse(&moved.addrs[moved.n++], "[2001:db8::20]:41641"), 0))
		return;
	name_init(&n);
	ddns_take(&n, &r, 1000, "peer home", NULL);
	CHECK_EQ_INT(ddns_take(&n, &moved, 1030, "peer home", &was), DDNS_NEW);
	CHECK(addr_is(&n.addr, "198.51.100.20:41641"));
	CHECK(addr_is(&was, "198.51.100.10:41641"));
	/* The new address is the baseline now. */
	CHECK_EQ_INT(ddns_take(&n, &moved, 1060, "peer home", NULL), DDNS_SAME);
}

static void test_failure_keeps_address(void)
{
	struct resolver_result r = answer("198.51.100.10:41641", NULL);
	struct resolver_result fail = { .err = -EAGAIN };
	struct resolver_result none = { 0 };
	struct ddns_name n;

	name_init(&n);
	CHECK_EQ_INT(ddns_take(&n, &fail, 900, "peer home", NULL), DDNS_FAILED);
	CHECK(!n.known);
	ddns_take(&n, &r, 1000, "peer home", NULL);
	CHECK_EQ_INT(ddns_take(&n, &fail, 1030, "peer home", NULL), DDNS_FAILED);
	CHECK(n.failing);
	CHECK_EQ_INT(ddns_take(&n, &none, 1060, "peer home", NULL), DDNS_FAILED);
	CHECK(n.known);
	CHECK(addr_is(&n.addr, "198.51.100.10:41641"));
	CHECK_EQ_INT(n.resolved_at, 1000);
	/* Back with the same address: no news. */
	CHECK_EQ_INT(ddns_take(&n, &r, 1090, "peer home", NULL), DDNS_SAME);
	CHECK(!n.failing);
}

static void test_due(void)
{
	struct ddns_name n;
	uint64_t t = 5 * SEC;

	name_init(&n);
	CHECK(ddns_due(&n, t, false));
	ddns_asked(&n, t);
	CHECK(!ddns_due(&n, t + (DDNS_RETRY_S - 1) * SEC, true));
	CHECK(ddns_due(&n, t + DDNS_RETRY_S * SEC, true));
	CHECK(!ddns_due(&n, t + (DDNS_INTERVAL_S - 1) * SEC, false));
	CHECK(ddns_due(&n, t + DDNS_INTERVAL_S * SEC, false));
	/* Asked at monotonic 0 still counts as asked. */
	ddns_asked(&n, 0);
	CHECK(!ddns_due(&n, 1, false));
}

int main(void)
{
	RUN(test_first_answer);
	RUN(test_same_is_no_news);
	RUN(test_changed);
	RUN(test_failure_keeps_address);
	RUN(test_due);
	return test_summary();
}
