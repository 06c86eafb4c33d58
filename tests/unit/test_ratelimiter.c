/*
 * Handshake rate limiter: burst and refill on a fake clock, source grouping,
 * garbage collection, a full table, a differential run against a naive
 * per-source token bucket that never forgets anything, and an init that
 * leaves the table's pages untouched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wg/ratelimiter.h"

#define MS 1000000ULL
#define T0 (5000 * MS) /* an arbitrary non-zero start */

static const uint8_t secret[RATELIMITER_SECRET_LEN] = "0123456789abcdef";

static const uint8_t *addr(int family, const char *s)
{
	static uint8_t buf[4][16];
	static unsigned n;
	uint8_t *b = buf[n++ % 4];
	if (inet_pton(family, s, b) != 1)
		abort();
	return b;
}

/* How many of n back-to-back packets at now pass. */
static unsigned allow_n(struct ratelimiter *rl, int family, const uint8_t *a, uint64_t now,
			unsigned n)
{
	unsigned ok = 0;
	while (n--)
		ok += ratelimiter_allow(rl, family, a, now);
	return ok;
}

static void test_burst_and_refill(void)
{
	struct ratelimiter rl;
	const uint8_t *a = addr(AF_INET, "192.0.2.1");
	CHECK_EQ_INT(ratelimiter_init(&rl, 64, secret), 0);

	CHECK_EQ_INT(allow_n(&rl, AF_INET, a, T0, 10), RATELIMITER_PACKETS_BURST);
	/* One packet's worth of time buys exactly one packet. */
	CHECK(!ratelimiter_allow(&rl, AF_INET, a, T0 + 49 * MS));
	CHECK(ratelimiter_allow(&rl, AF_INET, a, T0 + 50 * MS));
	CHECK(!ratelimiter_allow(&rl, AF_INET, a, T0 + 50 * MS));
	CHECK_EQ_INT(allow_n(&rl, AF_INET, a, T0 + 150 * MS, 5), 2);
	/* Credit is capped at the burst however long the source waits. */
	CHECK_EQ_INT(allow_n(&rl, AF_INET, a, T0 + 900 * MS, 10), RATELIMITER_PACKETS_BURST);
	CHECK_EQ_INT(allow_n(&rl, AF_INET, a, T0 + 60000 * MS, 10), RATELIMITER_PACKETS_BURST);
	/* A steady 20 per second passes entirely. */
	unsigned ok = 0;
	for (unsigned i = 1; i <= 100; i++)
		ok += ratelimiter_allow(&rl, AF_INET, a, T0 + 70000 * MS + i * 50 * MS);
	CHECK_EQ_INT(ok, 100);
	ratelimiter_deinit(&rl);
}

static void test_clock_backwards(void)
{
	struct ratelimiter rl;
	const uint8_t *a = addr(AF_INET, "192.0.2.1");
	CHECK_EQ_INT(ratelimiter_init(&rl, 64, secret), 0);
	CHECK_EQ_INT(allow_n(&rl, AF_INET, a, T0, 10), RATELIMITER_PACKETS_BURST);
	CHECK_EQ_INT(allow_n(&rl, AF_INET, a, T0 - 3000 * MS, 10), 0);
	CHECK_EQ_INT(allow_n(&rl, AF_INET, a, T0 + 50 * MS, 10), 1);
	ratelimiter_deinit(&rl);
}

static void test_sources(void)
{
	struct ratelimiter rl;
	CHECK_EQ_INT(ratelimiter_init(&rl, 64, secret), 0);
	/* One /64 is one source. */
	CHECK_EQ_INT(allow_n(&rl, AF_INET6, addr(AF_INET6, "2001:db8:1:2::1"), T0, 3), 3);
	CHECK_EQ_INT(allow_n(&rl, AF_INET6, addr(AF_INET6, "2001:db8:1:2:ffff::9"), T0, 3), 2);
	CHECK_EQ_INT(allow_n(&rl, AF_INET6, addr(AF_INET6, "2001:db8:1:3::1"), T0, 9), 5);
	/* IPv4 addresses are separate, even next to each other. */
	CHECK_EQ_INT(allow_n(&rl, AF_INET, addr(AF_INET, "198.51.100.7"), T0, 9), 5);
	CHECK_EQ_INT(allow_n(&rl, AF_INET, addr(AF_INET, "198.51.100.8"), T0, 9), 5);
	/* The same key bytes in another family are another source. */
	CHECK_EQ_INT(allow_n(&rl, AF_INET, addr(AF_INET, "1.2.3.4"), T0, 9), 5);
	CHECK_EQ_INT(allow_n(&rl, AF_INET6, addr(AF_INET6, "102:304::"), T0, 9), 5);
	CHECK_EQ_INT(ratelimiter_count(&rl), 6);
	CHECK(!ratelimiter_allow(&rl, AF_UNIX, addr(AF_INET, "1.2.3.5"), T0));
	CHECK_EQ_INT(ratelimiter_count(&rl), 6);
	ratelimiter_deinit(&rl);
}

static void test_gc(void)
{
	struct ratelimiter rl;
	CHECK_EQ_INT(ratelimiter_init(&rl, 64, secret), 0);
	CHECK(ratelimiter_allow(&rl, AF_INET, addr(AF_INET, "10.0.0.1"), T0));
	CHECK(ratelimiter_allow(&rl, AF_INET, addr(AF_INET, "10.0.0.2"), T0 + 500 * MS));
	CHECK(ratelimiter_allow(&rl, AF_INET6, addr(AF_INET6, "fd00::1"), T0 + 700 * MS));
	ratelimiter_gc(&rl, T0 + 999 * MS);
	CHECK_EQ_INT(ratelimiter_count(&rl), 3);
	ratelimiter_gc(&rl, T0 + 1000 * MS);
	CHECK_EQ_INT(ratelimiter_count(&rl), 2);
	ratelimiter_gc(&rl, T0 + 1600 * MS);
	CHECK_EQ_INT(ratelimiter_count(&rl), 1);
	ratelimiter_gc(&rl, T0 + 1700 * MS);
	CHECK_EQ_INT(ratelimiter_count(&rl), 0);
	/* A collected source starts again with a full burst. */
	CHECK_EQ_INT(allow_n(&rl, AF_INET, addr(AF_INET, "10.0.0.1"), T0 + 1800 * MS, 9), 5);
	ratelimiter_deinit(&rl);
}

static void test_table_full(void)
{
	struct ratelimiter rl;
	char s[32];
	CHECK_EQ_INT(ratelimiter_init(&rl, 0, secret), -EINVAL);
	CHECK_EQ_INT(ratelimiter_init(&rl, 4, secret), 0);
	for (int i = 1; i <= 4; i++) {
		snprintf(s, sizeof(s), "10.0.0.%d", i);
		CHECK(ratelimiter_allow(&rl, AF_INET, addr(AF_INET, s), T0));
	}
	/* Full: new sources are refused, known ones keep their buckets. */
	CHECK(!ratelimiter_allow(&rl, AF_INET, addr(AF_INET, "10.0.0.5"), T0 + 100 * MS));
	CHECK(!ratelimiter_allow(&rl, AF_INET6, addr(AF_INET6, "fd00::5"), T0 + 100 * MS));
	CHECK(ratelimiter_allow(&rl, AF_INET, addr(AF_INET, "10.0.0.1"), T0 + 200 * MS));
	CHECK_EQ_INT(ratelimiter_count(&rl), 4);
	/* Once the others are idle, the full table makes room by itself (the
	 * sweep, or an idle entry met on the new source's chain). */
	CHECK(ratelimiter_allow(&rl, AF_INET, addr(AF_INET, "10.0.0.5"), T0 + 1100 * MS));
	CHECK(ratelimiter_count(&rl) >= 2 && ratelimiter_count(&rl) <= 4);
	ratelimiter_gc(&rl, T0 + 1100 * MS);
	CHECK_EQ_INT(ratelimiter_count(&rl), 2);
	/* The new source has the rest of its burst. */
	CHECK_EQ_INT(allow_n(&rl, AF_INET, addr(AF_INET, "10.0.0.5"), T0 + 1100 * MS, 9), 4);
	ratelimiter_deinit(&rl);
	ratelimiter_deinit(&rl); /* safe on a deinitialised (zeroed) struct */
}

/* ---- differential: the naive model never forgets and never fills up ---- */

struct model_source {
	int family;
	uint8_t addr[16];
	bool known;
	uint64_t tokens, last;
};

static bool model_allow(struct model_source *m, uint64_t now)
{
	if (!m->known) {
		m->known = true;
		m->tokens = RATELIMITER_TOKEN_MAX - RATELIMITER_PACKET_COST;
		m->last = now;
		return true;
	}
	uint64_t t = m->tokens + (now - m->last);
	if (t > RATELIMITER_TOKEN_MAX)
		t = RATELIMITER_TOKEN_MAX;
	m->last = now;
	if (t < RATELIMITER_PACKET_COST) {
		m->tokens = t;
		return false;
	}
	m->tokens = t - RATELIMITER_PACKET_COST;
	return true;
}

static void test_differential(void)
{
	enum { NSRC = 200 };
	static struct model_source src[NSRC];
	struct test_rng rng = { test_seed() };
	struct ratelimiter rl;
	uint8_t key[RATELIMITER_SECRET_LEN];
	test_rng_bytes(&rng, key, sizeof(key));
	/* Sized so that the table never fills: decisions must then be exact. */
	CHECK_EQ_INT(ratelimiter_init(&rl, NSRC, key), 0);
	for (unsigned i = 0; i < NSRC; i++) {
		src[i] = (struct model_source){ .family = i % 2 ? AF_INET : AF_INET6 };
		test_rng_bytes(&rng, src[i].addr, 16);
	}
	uint64_t now = T0;
	unsigned steps, passed = 0;
	for (steps = 0; steps < 200000; steps++) {
		uint64_t r = test_rng_next(&rng);
		now += r % 64 == 0 ? (r >> 8) % (1500 * MS) : (r >> 8) % (2 * MS);
		/* Mostly a few busy sources (limited), sometimes any of them. */
		struct model_source *m = &src[(r >> 40) % (r % 4 ? 4 : NSRC)];
		/* Vary the IPv6 interface identifier: the /64 must be the source. */
		if (m->family == AF_INET6)
			memcpy(m->addr + 8, &r, 8);
		bool want = model_allow(m, now);
		if (ratelimiter_allow(&rl, m->family, m->addr, now) != want)
			break;
		passed += want;
		if (r % 4096 == 0)
			ratelimiter_gc(&rl, now);
	}
	CHECK_EQ_INT(steps, 200000);
	printf("  %u packets, %u passed\n", steps, passed);
	ratelimiter_deinit(&rl);
}

/* This process's anonymous resident memory, kB; -1 if unknown. */
static long rss_anon_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* A table of 2^20 sources is 36 MB (entries and chain heads); init writes
 * none of it, and a few sources make a few of its pages resident. The bound
 * leaves room for a sanitizer's shadow (an eighth of the allocation). */
static void test_init_untouched(void)
{
	struct ratelimiter rl;
	long before = rss_anon_kb(), grown;

	if (before < 0) {
		printf("  no RssAnon in /proc/self/status, skipped\n");
		return;
	}
	CHECK_EQ_INT(ratelimiter_init(&rl, 1U << 20, secret), 0);
	CHECK(allow_n(&rl, AF_INET, addr(AF_INET, "192.0.2.1"), T0, 3) == 3);
	CHECK(allow_n(&rl, AF_INET6, addr(AF_INET6, "2001:db8::1"), T0, 3) == 3);
	grown = rss_anon_kb() - before;
	printf("  RssAnon grew by %ld kB for a 36 MB table\n", grown);
	CHECK(grown < 8 * 1024);
	CHECK_EQ_INT(ratelimiter_count(&rl), 2);
	ratelimiter_deinit(&rl);
}

int main(void)
{
	RUN(test_burst_and_refill);
	RUN(test_clock_backwards);
	RUN(test_sources);
	RUN(test_gc);
	RUN(test_table_full);
	RUN(test_differential);
	RUN(test_init_untouched);
	return test_summary();
}
