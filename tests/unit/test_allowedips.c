/*
 * Allowed IPs: hand-written cases, then a randomized differential test of the
 * trie against the naive linear table in allowedips_ref.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips_ref.h"
#include "testlib.h"
#include "wg/allowedips.h"

static char peer_objs[8];
#define PEER(i) ((void *)&peer_objs[i])
enum { NPEERS = 8 };

static const uint8_t *v4(const char *s)
{
	static uint8_t buf[4][4];
	static unsigned n;
	uint8_t *b = buf[n++ % 4];
	if (inet_pton(AF_INET, s, b) != 1)
		abort();
	return b;
}

static const uint8_t *v6(const char *s)
{
	static uint8_t buf[4][16];
	static unsigned n;
	uint8_t *b = buf[n++ % 4];
	if (inet_pton(AF_INET6, s, b) != 1)
		abort();
	return b;
}

/* Collects a walk as ref_prefix records. */
enum { WALK_MAX = 4096 };
struct walk_log {
	struct ref_prefix v[WALK_MAX];
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static int walk_collect(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	struct walk_log *log = ctx;
	if (log->n < WALK_MAX) {
		struct ref_prefix *p = &log->v[log->n];
		memset(p, 0, sizeof(*p));
		p->family = family;
		memcpy(p->ip, ip, family == AF_INET ? 4 : 16);
		p->cidr = cidr;
	}
	log->n++;
	return log->stop_after && log->n == log->stop_after ? 7 : 0;
}

static void test_zero_prefix_and_hosts(void)
{
	struct allowedips t;
	allowedips_init(&t);
	CHECK(allowedips_lookup(&t, AF_INET, v4("1.2.3.4")) == NULL);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("0.0.0.0"), 0, PEER(0)), 0);
	CHECK(allowedips_lookup(&t, AF_INET, v4("1.2.3.4")) == PEER(0));
	CHECK(allowedips_lookup(&t, AF_INET, v4("255.255.255.255")) == PEER(0));
	CHECK(allowedips_lookup(&t, AF_INET6, v6("::1")) == NULL);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET6, v6("::"), 0, PEER(1)), 0);
	CHECK(allowedips_lookup(&t, AF_INET6, v6("ffff::1")) == PEER(1));

	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.1"), 32, PEER(2)), 0);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.0.1")) == PEER(2));
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.0.0")) == PEER(0));
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.0.2")) == PEER(0));
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET6, v6("2001:db8::1"), 128, PEER(3)), 0);
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8::1")) == PEER(3));
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8::")) == PEER(1));
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8::2")) == PEER(1));
	CHECK(allowedips_match(&t, AF_INET6, v6("2001:db8::1"), PEER(3)));
	CHECK(!allowedips_match(&t, AF_INET6, v6("2001:db8::1"), PEER(1)));
	CHECK_EQ_INT(allowedips_count(&t), 4);

	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("0.0.0.0"), 0, PEER(0)), 0);
	CHECK(allowedips_lookup(&t, AF_INET, v4("1.2.3.4")) == NULL);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.0.1")) == PEER(2));
	allowedips_free(&t);
	CHECK_EQ_INT(allowedips_count(&t), 0);
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8::1")) == NULL);
}

static void test_host_bits_masked(void)
{
	struct allowedips t;
	static struct walk_log log;
	log = (struct walk_log){ .n = 0 };
	allowedips_init(&t);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("192.168.1.77"), 24, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET6, v6("2001:db8:1:2:3:4:5:6"), 33, PEER(0)), 0);
	CHECK(allowedips_lookup(&t, AF_INET, v4("192.168.1.1")) == PEER(0));
	CHECK(allowedips_lookup(&t, AF_INET, v4("192.168.2.1")) == NULL);
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8:7fff::")) == PEER(0));
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8:8000::")) == NULL);
	CHECK_EQ_INT(allowedips_walk_by_peer(&t, PEER(0), walk_collect, &log), 0);
	CHECK_EQ_INT(log.n, 2);
	CHECK_MEM(log.v[0].ip, v4("192.168.1.0"), 4);
	CHECK_EQ_INT(log.v[0].cidr, 24);
	CHECK_MEM(log.v[1].ip, v6("2001:db8::"), 16);
	CHECK_EQ_INT(log.v[1].cidr, 33);
	/* Same prefix written with other host bits: replace, then remove. */
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("192.168.1.200"), 24, PEER(1)), 0);
	CHECK_EQ_INT(allowedips_count(&t), 2);
	CHECK(allowedips_lookup(&t, AF_INET, v4("192.168.1.1")) == PEER(1));
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("192.168.1.3"), 24, PEER(1)), 0);
	CHECK_EQ_INT(allowedips_count(&t), 1);
	allowedips_free(&t);
}

static void test_replace_and_remove_errors(void)
{
	struct allowedips t;
	allowedips_init(&t);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.0"), 8, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.0"), 8, PEER(1)), 0);
	CHECK_EQ_INT(allowedips_count(&t), 1);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.9.9.9")) == PEER(1));
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("10.0.0.0"), 8, PEER(0)), -ENOENT);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.9.9.9")) == PEER(1));
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("10.0.0.0"), 9, PEER(1)), -ENOENT);
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET6, v6("a00::"), 8, PEER(1)), -ENOENT);

	/* Two /24s create a peerless joining /23: it is not a prefix. */
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.0"), 24, PEER(2)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.1.0"), 24, PEER(3)), 0);
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("10.0.0.0"), 23, PEER(2)), -ENOENT);
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("10.0.0.0"), 23, NULL), -ENOENT);
	CHECK_EQ_INT(allowedips_count(&t), 3);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.0"), 23, PEER(4)), 0);
	CHECK_EQ_INT(allowedips_count(&t), 4);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.0.9")) == PEER(2));
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.1.9")) == PEER(3));
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("10.0.0.0"), 24, PEER(2)), 0);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.0.9")) == PEER(4));
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("10.0.0.0"), 23, PEER(4)), 0);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.0.9")) == PEER(1));
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.1.9")) == PEER(3));
	CHECK(allowedips_lookup(&t, AF_INET, v4("11.0.0.0")) == NULL);

	CHECK_EQ_INT(allowedips_insert(&t, AF_UNIX, v4("1.1.1.1"), 8, PEER(0)), -EINVAL);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("1.1.1.1"), 33, PEER(0)), -EINVAL);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET6, v6("::1"), 129, PEER(0)), -EINVAL);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("1.1.1.1"), 8, NULL), -EINVAL);
	CHECK_EQ_INT(allowedips_remove(&t, AF_INET, v4("1.1.1.1"), 33, PEER(0)), -EINVAL);
	CHECK(allowedips_lookup(&t, AF_UNIX, v4("10.0.0.9")) == NULL);
	CHECK_EQ_INT(allowedips_count(&t), 2);
	allowedips_free(&t);
}

static void test_walk_order(void)
{
	struct allowedips t;
	static struct walk_log log;
	log = (struct walk_log){ .n = 0 };
	allowedips_init(&t);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET6, v6("2001:db8::"), 32, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.1.0.0"), 16, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.0"), 16, PEER(1)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.0"), 16, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.0.0"), 8, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("10.0.5.0"), 24, PEER(1)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET6, v6("::"), 0, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET, v4("1.2.3.4"), 32, PEER(0)), 0);
	CHECK_EQ_INT(allowedips_insert(&t, AF_INET6, v6("2001:db8::1"), 128, PEER(1)), 0);

	CHECK_EQ_INT(allowedips_walk_by_peer(&t, PEER(0), walk_collect, &log), 0);
	static const struct {
		int family;
		const char *ip;
		uint8_t cidr;
	} want[] = {
		{ AF_INET, "1.2.3.4", 32 },  { AF_INET, "10.0.0.0", 8 },
		{ AF_INET, "10.0.0.0", 16 }, { AF_INET, "10.1.0.0", 16 },
		{ AF_INET6, "::", 0 },       { AF_INET6, "2001:db8::", 32 },
	};
	if (CHECK_EQ_INT(log.n, 6)) {
		for (size_t i = 0; i < 6; i++) {
			CHECK_EQ_INT(log.v[i].family, want[i].family);
			CHECK_EQ_INT(log.v[i].cidr, want[i].cidr);
			CHECK_MEM(log.v[i].ip,
				  want[i].family == AF_INET ? v4(want[i].ip) : v6(want[i].ip),
				  want[i].family == AF_INET ? 4 : 16);
		}
	}
	/* A non-zero return stops the walk and is passed back. */
	log = (struct walk_log){ .stop_after = 3 };
	CHECK_EQ_INT(allowedips_walk_by_peer(&t, PEER(0), walk_collect, &log), 7);
	CHECK_EQ_INT(log.n, 3);
	log = (struct walk_log){ .n = 0 };
	CHECK_EQ_INT(allowedips_walk_by_peer(&t, PEER(5), walk_collect, &log), 0);
	CHECK_EQ_INT(log.n, 0);

	allowedips_remove_by_peer(&t, PEER(0));
	CHECK_EQ_INT(allowedips_count(&t), 2);
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.5.1")) == PEER(1));
	CHECK(allowedips_lookup(&t, AF_INET, v4("10.0.6.1")) == NULL);
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8::1")) == PEER(1));
	CHECK(allowedips_lookup(&t, AF_INET6, v6("2001:db8::2")) == NULL);
	allowedips_remove_by_peer(&t, PEER(1));
	CHECK_EQ_INT(allowedips_count(&t), 0);
	CHECK(t.root4 == NULL && t.root6 == NULL);
	allowedips_free(&t);
}

/* ---- randomized differential test ---- */

struct diff_state {
	struct allowedips trie;
	struct ref_table ref;
	struct test_rng rng;
	uint8_t bases4[6][4], bases6[6][16];
	unsigned ops, lookups;
	bool failed;
};

static uint64_t rnd(struct diff_state *s, uint64_t n)
{
	return test_rng_next(&s->rng) % n;
}

static void flip_bit(uint8_t *ip, unsigned bit)
{
	ip[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
}

/* An address near one of a few bases, so prefixes overlap and nest. */
static int random_near(struct diff_state *s, uint8_t *ip)
{
	int family = rnd(s, 2) ? AF_INET : AF_INET6;
	unsigned bits = ref_bits(family);
	memset(ip, 0, 16);
	memcpy(ip, family == AF_INET ? s->bases4[rnd(s, 6)] : s->bases6[rnd(s, 6)], bits / 8);
	for (unsigned k = rnd(s, 4); k; k--)
		flip_bit(ip, (unsigned)rnd(s, bits));
	return family;
}

static uint8_t random_cidr(struct diff_state *s, int family)
{
	unsigned bits = ref_bits(family);
	/* Half uniform, half among the long prefixes that split deep. */
	if (rnd(s, 2))
		return (uint8_t)rnd(s, bits + 1);
	return (uint8_t)(bits - rnd(s, bits / 4 + 1));
}

static bool diff_lookup(struct diff_state *s, int family, const uint8_t *ip)
{
	void *got = allowedips_lookup(&s->trie, family, ip);
	void *want = ref_lookup(&s->ref, family, ip);
	s->lookups++;
	if (got == want)
		return true;
	char str[INET6_ADDRSTRLEN];
	inet_ntop(family, ip, str, sizeof(str));
	fprintf(stderr, "op %u: lookup %s: got peer %ld, want %ld\n", s->ops, str,
		got ? (long)((char *)got - peer_objs) : -1L,
		want ? (long)((char *)want - peer_objs) : -1L);
	return false;
}

/* Adds delta (+1/-1) to an address as a big-endian number, wrapping. */
static void addr_add(uint8_t *ip, unsigned len, int delta)
{
	for (unsigned i = len; i-- > 0;) {
		uint8_t old = ip[i];
		ip[i] = (uint8_t)(ip[i] + delta);
		if ((delta > 0 && ip[i] > old) || (delta < 0 && ip[i] < old))
			break;
	}
}

/* Network, last address, and the addresses just outside of a prefix. */
static bool diff_boundaries(struct diff_state *s, const struct ref_prefix *p)
{
	unsigned len = ref_bits(p->family) / 8;
	uint8_t lo[16], hi[16];
	memcpy(lo, p->ip, 16);
	memcpy(hi, p->ip, 16);
	for (unsigned b = p->cidr; b < len * 8; b++)
		flip_bit(hi, b);
	bool ok = diff_lookup(s, p->family, lo) && diff_lookup(s, p->family, hi);
	addr_add(lo, len, -1);
	addr_add(hi, len, +1);
	return ok && diff_lookup(s, p->family, lo) && diff_lookup(s, p->family, hi);
}

static bool diff_lookups(struct diff_state *s)
{
	uint8_t ip[16];
	for (int i = 0; i < 6; i++) {
		int family = random_near(s, ip);
		if (!diff_lookup(s, family, ip))
			return false;
		test_rng_bytes(&s->rng, ip, 16);
		if (!diff_lookup(s, i & 1 ? AF_INET : AF_INET6, ip))
			return false;
	}
	for (int i = 0; i < 3 && s->ref.n; i++)
		if (!diff_boundaries(s, &s->ref.v[rnd(s, s->ref.n)]))
			return false;
	return true;
}

static bool diff_walks(struct diff_state *s)
{
	static struct ref_prefix want[WALK_MAX];
	for (unsigned i = 0; i < NPEERS; i++) {
		size_t n = 0;
		for (size_t j = 0; j < s->ref.n && n < WALK_MAX; j++)
			if (s->ref.v[j].peer == PEER(i))
				want[n++] = s->ref.v[j];
		qsort(want, n, sizeof(want[0]), ref_cmp);
		static struct walk_log log;
		log = (struct walk_log){ .n = 0 };
		allowedips_walk_by_peer(&s->trie, PEER(i), walk_collect, &log);
		bool same = log.n == n;
		for (size_t j = 0; same && j < n; j++)
			same = log.v[j].family == want[j].family && log.v[j].cidr == want[j].cidr &&
			       !memcmp(log.v[j].ip, want[j].ip, 16);
		if (!same) {
			fprintf(stderr, "op %u: walk of peer %u: %zu prefixes, want %zu\n", s->ops,
				i, log.n, n);
			return false;
		}
	}
	return true;
}

/* One random mutation applied to both tables; false on a disagreement.
 * by_peer (per mille) sets how often a whole peer goes, which bounds the
 * table's size. */
static bool diff_step(struct diff_state *s, unsigned by_peer)
{
	uint8_t ip[16];
	unsigned r = (unsigned)rnd(s, 1000);
	if (r < 500) {
		int family = random_near(s, ip);
		uint8_t cidr = random_cidr(s, family);
		void *peer = PEER(rnd(s, NPEERS));
		ref_insert(&s->ref, family, ip, cidr, peer);
		return allowedips_insert(&s->trie, family, ip, cidr, peer) == 0;
	}
	if (r < 700 && s->ref.n) {
		struct ref_prefix p = s->ref.v[rnd(s, s->ref.n)];
		/* Remove an existing prefix, spelled with random host bits. */
		uint8_t spelled[16];
		memcpy(spelled, p.ip, 16);
		for (unsigned b = p.cidr; b < ref_bits(p.family); b++)
			if (rnd(s, 2))
				flip_bit(spelled, b);
		ref_remove(&s->ref, p.family, p.ip, p.cidr, p.peer);
		return allowedips_remove(&s->trie, p.family, spelled, p.cidr, p.peer) == 0;
	}
	if (r < 850) {
		int family = random_near(s, ip);
		uint8_t cidr = random_cidr(s, family);
		void *peer = PEER(rnd(s, NPEERS));
		int want = ref_remove(&s->ref, family, ip, cidr, peer) == 0 ? 0 : -ENOENT;
		return allowedips_remove(&s->trie, family, ip, cidr, peer) == want;
	}
	if (r < 850 + by_peer) {
		void *peer = PEER(rnd(s, NPEERS));
		ref_remove_by_peer(&s->ref, peer);
		allowedips_remove_by_peer(&s->trie, peer);
		return true;
	}
	if (r < 852 + by_peer) {
		ref_free(&s->ref);
		allowedips_free(&s->trie);
	}
	return true;
}

static void diff_run(uint64_t seed, unsigned nops, unsigned by_peer)
{
	struct diff_state s = { .rng = { seed } };
	allowedips_init(&s.trie);
	test_rng_bytes(&s.rng, s.bases4, sizeof(s.bases4));
	test_rng_bytes(&s.rng, s.bases6, sizeof(s.bases6));
	bool ok = true;
	size_t max_n = 0;
	for (s.ops = 0; ok && s.ops < nops; s.ops++) {
		ok = CHECK(diff_step(&s, by_peer)) && CHECK(allowedips_check(&s.trie)) &&
		     CHECK_EQ_INT(allowedips_count(&s.trie), s.ref.n);
		if (ok && s.ops % 4 == 0)
			ok = CHECK(diff_lookups(&s));
		if (ok && s.ops % 256 == 0)
			ok = CHECK(diff_walks(&s));
		max_n = s.ref.n > max_n ? s.ref.n : max_n;
	}
	if (ok)
		ok = CHECK(diff_walks(&s));
	printf("  %u ops, %u lookups, up to %zu prefixes\n", s.ops, s.lookups, max_n);
	ref_free(&s.ref);
	allowedips_free(&s.trie);
}

static uint64_t seed;

static void test_differential(void)
{
	/* Independent runs: small churning tables, then large ones. */
	for (unsigned i = 0; i < 3; i++)
		diff_run(seed + i, 6000, 20);
	diff_run(seed + 3, 6000, 1);
}

/* Many prefixes of few peers, then removal of all by peer: exercise pruning. */
static void test_remove_by_peer_bulk(void)
{
	struct diff_state s = { .rng = { seed ^ 0x5555 } };
	allowedips_init(&s.trie);
	test_rng_bytes(&s.rng, s.bases4, sizeof(s.bases4));
	test_rng_bytes(&s.rng, s.bases6, sizeof(s.bases6));
	for (unsigned i = 0; i < 3000; i++) {
		uint8_t ip[16];
		int family = random_near(&s, ip);
		uint8_t cidr = random_cidr(&s, family);
		void *peer = PEER(rnd(&s, 3));
		ref_insert(&s.ref, family, ip, cidr, peer);
		CHECK_EQ_INT(allowedips_insert(&s.trie, family, ip, cidr, peer), 0);
	}
	for (unsigned p = 0; p < 3; p++) {
		ref_remove_by_peer(&s.ref, PEER(p));
		allowedips_remove_by_peer(&s.trie, PEER(p));
		CHECK_EQ_INT(allowedips_count(&s.trie), s.ref.n);
		CHECK(allowedips_check(&s.trie));
		bool ok = true;
		for (unsigned i = 0; ok && i < 500; i++)
			ok = diff_lookups(&s);
		CHECK(ok);
	}
	CHECK(s.trie.root4 == NULL && s.trie.root6 == NULL);
	ref_free(&s.ref);
	allowedips_free(&s.trie);
}

int main(void)
{
	seed = test_seed();
	RUN(test_zero_prefix_and_hosts);
	RUN(test_host_bits_masked);
	RUN(test_replace_and_remove_errors);
	RUN(test_walk_order);
	RUN(test_differential);
	RUN(test_remove_by_peer_bulk);
	return test_summary();
}
