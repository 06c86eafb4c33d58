/* Local answers of the mesh resolver (daemon/dns/answer.c): queries built
 * with ldns, responses parsed with ldns and checked field by field. */
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer.h"
#include "dns_testlib.h"
#include "testlib.h"

static struct dns_zone *zone;

static uint8_t out[DNS_ANSWER_TCP_MAX];
static struct dns_reply reply;

/* Answers wire; the parsed response (ldns_pkt_free() it) or NULL. */
static ldns_pkt *answer_wire(const uint8_t *wire, size_t len, enum dns_transport t,
			     enum dns_answer_verdict want)
{
	enum dns_answer_verdict v = dns_answer_local(zone, wire, len, t, out, sizeof(out), &reply);
	ldns_pkt *resp = NULL;

	if (!CHECK_EQ_INT(v, want) || v != DNS_ANSWER_REPLY)
		return NULL;
	if (!CHECK(ldns_wire2pkt(&resp, out, reply.len) == LDNS_STATUS_OK))
		return NULL;
	CHECK(ldns_pkt_qr(resp));
	CHECK(ldns_pkt_ra(resp));
	return resp;
}

static ldns_pkt *ask(const struct dns_test_query *q, enum dns_transport t,
		     enum dns_answer_verdict want)
{
	size_t len;
	uint8_t *wire = dns_test_query_wire(q, &len);
	ldns_pkt *resp = answer_wire(wire, len, t, want);

	free(wire);
	if (resp) {
		CHECK_EQ_INT(ldns_pkt_id(resp), q->id);
		CHECK_EQ_INT(ldns_pkt_rd(resp), q->rd);
		CHECK_EQ_INT(ldns_pkt_cd(resp), q->cd);
	}
	return resp;
}

/* The record's rdata field i as text. */
static bool rdf_is(const ldns_rr *rr, size_t i, const char *want)
{
	char *text = ldns_rdf2str(ldns_rr_rdf(rr, i));
	bool ok = text && !strcasecmp(text, want); /* compression may take the question's case */

	if (!ok)
		fprintf(stderr, "  rdata %zu: got '%s', want '%s'\n", i, text ? text : "(null)",
			want);
	free(text);
	return ok;
}

static bool rdf_is_name(const ldns_rdf *rdf, const char *want)
{
	char *text = ldns_rdf2str(rdf);
	bool ok = text && !strcasecmp(text, want);

	if (!ok)
		fprintf(stderr, "  name: got '%s', want '%s'\n", text ? text : "(null)", want);
	free(text);
	return ok;
}

static bool owner_is(const ldns_rr *rr, const char *want)
{
	char *text = ldns_rdf2str(ldns_rr_owner(rr));
	bool ok = text && !strcmp(text, want);

	if (!ok)
		fprintf(stderr, "  owner: got '%s', want '%s'\n", text ? text : "(null)", want);
	free(text);
	return ok;
}

/* The question section echoes name and type. */
static void check_question(const ldns_pkt *resp, const char *name, ldns_rr_type type)
{
	const ldns_rr *q;

	if (!CHECK_EQ_INT(ldns_pkt_qdcount(resp), 1))
		return;
	q = ldns_rr_list_rr(ldns_pkt_question(resp), 0);
	CHECK(owner_is(q, name));
	CHECK_EQ_INT(ldns_rr_get_type(q), type);
}

/* A negative answer: no answers and the zone's SOA at apex. */
static void check_negative(const ldns_pkt *resp, unsigned rcode, const char *apex)
{
	const ldns_rr *soa;

	CHECK_EQ_INT(ldns_pkt_get_rcode(resp), rcode);
	CHECK(ldns_pkt_aa(resp));
	CHECK_EQ_INT(ldns_pkt_ancount(resp), 0);
	if (!CHECK_EQ_INT(ldns_pkt_nscount(resp), 1))
		return;
	soa = ldns_rr_list_rr(ldns_pkt_authority(resp), 0);
	CHECK_EQ_INT(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	CHECK(rdf_is_name(ldns_rr_owner(soa), apex));
	CHECK_EQ_INT(ldns_rr_ttl(soa), DNS_ZONE_TTL);
	CHECK(rdf_is(soa, 0, "mesh.internal."));
	CHECK(rdf_is(soa, 1, "hostmaster.mesh.internal."));
	CHECK(rdf_is(soa, 2, "42"));
	CHECK(rdf_is(soa, 6, "60"));
}

static void test_a_aaaa(void)
{
	struct dns_test_query q = { .name = "home.mesh.internal.",
				    .type = LDNS_RR_TYPE_A,
				    .id = 0x1234 };
	ldns_pkt *r;
	const ldns_rr *rr;

	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (!r)
		return;
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	CHECK(ldns_pkt_aa(r));
	CHECK(!ldns_pkt_tc(r));
	CHECK(!ldns_pkt_edns(r)); /* no OPT asked, none sent */
	check_question(r, "home.mesh.internal.", LDNS_RR_TYPE_A);
	CHECK_EQ_INT(ldns_pkt_ancount(r), 1);
	CHECK_EQ_INT(ldns_pkt_nscount(r), 0);
	rr = ldns_rr_list_rr(ldns_pkt_answer(r), 0);
	CHECK_EQ_INT(ldns_rr_get_type(rr), LDNS_RR_TYPE_A);
	CHECK_EQ_INT(ldns_rr_get_class(rr), LDNS_RR_CLASS_IN);
	CHECK_EQ_INT(ldns_rr_ttl(rr), 60);
	CHECK(owner_is(rr, "home.mesh.internal."));
	CHECK(rdf_is(rr, 0, "100.64.0.1"));
	CHECK_EQ_INT(reply.rcode, 0);
	CHECK(reply.authoritative && !reply.truncated);
	ldns_pkt_free(r);

	/* Any case; the owner keeps the question's; RD and CD copied. */
	q = (struct dns_test_query){ .name = "LapTop.MESH.internal",
				     .type = LDNS_RR_TYPE_AAAA,
				     .id = 7,
				     .rd = true,
				     .cd = true };
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (!r)
		return;
	check_question(r, "LapTop.MESH.internal.", LDNS_RR_TYPE_AAAA);
	CHECK_EQ_INT(ldns_pkt_ancount(r), 1);
	rr = ldns_rr_list_rr(ldns_pkt_answer(r), 0);
	CHECK(owner_is(rr, "LapTop.MESH.internal."));
	CHECK(rdf_is(rr, 0, "fd7a:6d67:7465::2"));
	ldns_pkt_free(r);

	/* ANY: both. */
	q = (struct dns_test_query){ .name = "home.mesh.internal",
				     .type = LDNS_RR_TYPE_ANY,
				     .id = 8 };
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		CHECK_EQ_INT(ldns_pkt_ancount(r), 2);
	ldns_pkt_free(r);
	/* A static record. */
	q = (struct dns_test_query){ .name = "switch.mesh.internal",
				     .type = LDNS_RR_TYPE_A,
				     .id = 9 };
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1))
		CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, "192.168.77.2"));
	ldns_pkt_free(r);
}

static void test_negative(void)
{
	struct dns_test_query q = { .name = "home.mesh.internal",
				    .type = LDNS_RR_TYPE_MX,
				    .id = 1 };
	ldns_pkt *r;

	/* NODATA: the name, another type; a family it has no address of. */
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NOERROR, "mesh.internal.");
	ldns_pkt_free(r);
	q = (struct dns_test_query){ .name = "switch.mesh.internal",
				     .type = LDNS_RR_TYPE_AAAA,
				     .id = 2 };
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NOERROR, "mesh.internal.");
	ldns_pkt_free(r);
	/* NXDOMAIN: unknown names, and below a name. */
	static const char *const nx[] = { "nobody.mesh.internal", "a.home.mesh.internal",
					  "exit_1.mesh.internal", "x.y.z.mesh.internal" };
	for (size_t i = 0; i < sizeof(nx) / sizeof(nx[0]); i++) {
		q = (struct dns_test_query){ .name = nx[i],
					     .type = LDNS_RR_TYPE_A,
					     .id = (uint16_t)(10 + i) };
		r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
		if (r)
			check_negative(r, LDNS_RCODE_NXDOMAIN, "mesh.internal.");
		CHECK_EQ_INT(reply.rcode, LDNS_RCODE_NXDOMAIN);
		ldns_pkt_free(r);
	}
}

static void test_apex(void)
{
	struct dns_test_query q = { .name = "Mesh.Internal.", .type = LDNS_RR_TYPE_SOA, .id = 3 };
	const ldns_rr *rr;
	ldns_pkt *r;

	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1)) {
		rr = ldns_rr_list_rr(ldns_pkt_answer(r), 0);
		CHECK_EQ_INT(ldns_rr_get_type(rr), LDNS_RR_TYPE_SOA);
		CHECK(rdf_is(rr, 0, "mesh.internal."));
		CHECK(rdf_is(rr, 2, "42"));
		CHECK(rdf_is(rr, 3, "3600"));
		CHECK(rdf_is(rr, 4, "600"));
		CHECK(rdf_is(rr, 5, "86400"));
		CHECK(ldns_pkt_aa(r));
	}
	ldns_pkt_free(r);
	q.type = LDNS_RR_TYPE_NS;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1))
		CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, "mesh.internal."));
	ldns_pkt_free(r);
	q.type = LDNS_RR_TYPE_A;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1))
		CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, DNS_RESOLVER_V4));
	ldns_pkt_free(r);
	q.type = LDNS_RR_TYPE_AAAA;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1))
		CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, DNS_RESOLVER_V6));
	ldns_pkt_free(r);
	q.type = LDNS_RR_TYPE_TXT;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NOERROR, "mesh.internal.");
	ldns_pkt_free(r);
}

static void test_ptr(void)
{
	struct dns_test_query q = { .name = "2.0.64.100.in-addr.arpa",
				    .type = LDNS_RR_TYPE_PTR,
				    .id = 4 };
	const ldns_rr *rr;
	ldns_pkt *r;

	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1)) {
		rr = ldns_rr_list_rr(ldns_pkt_answer(r), 0);
		CHECK_EQ_INT(ldns_rr_get_type(rr), LDNS_RR_TYPE_PTR);
		CHECK(owner_is(rr, "2.0.64.100.in-addr.arpa."));
		CHECK(rdf_is(rr, 0, "laptop.mesh.internal."));
		CHECK_EQ_INT(ldns_rr_ttl(rr), 60);
		CHECK(ldns_pkt_aa(r));
	}
	ldns_pkt_free(r);
	q.name = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1))
		CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, "home.mesh.internal."));
	ldns_pkt_free(r);
	/* A mesh address without a name; the resolver's own. */
	q.name = "9.9.64.100.in-addr.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NXDOMAIN, "64.100.in-addr.arpa.");
	ldns_pkt_free(r);
	q.name = "3.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NXDOMAIN, "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa.");
	ldns_pkt_free(r);
	/* A mesh address's name, another type: NODATA. */
	q = (struct dns_test_query){ .name = "1.0.64.100.in-addr.arpa",
				     .type = LDNS_RR_TYPE_TXT,
				     .id = 5 };
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NOERROR, "64.100.in-addr.arpa.");
	ldns_pkt_free(r);
	/* Outside the mesh (a record's LAN address too), names above the
	 * mesh's reverse zones: forwarded. */
	static const char *const fwd[] = { "2.77.168.192.in-addr.arpa", "100.in-addr.arpa",
					   "2.0.64.99.in-addr.arpa",    "in-addr.arpa",
					   "2.0.128.100.in-addr.arpa",  "d.f.ip6.arpa" };
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++) {
		q = (struct dns_test_query){ .name = fwd[i], .type = LDNS_RR_TYPE_PTR, .id = 6 };
		ldns_pkt_free(ask(&q, DNS_UDP, DNS_ANSWER_FORWARD));
	}
}

/* The mesh's reverse space is answered here, none of it forwarded: an
 * apex has SOA and NS; a partial address is NODATA with a name below,
 * else NXDOMAIN (RFC 8020). */
static void test_reverse_space(void)
{
	struct dns_test_query q = { .name = "64.100.in-addr.arpa",
				    .type = LDNS_RR_TYPE_SOA,
				    .id = 7 };
	ldns_pkt *r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);

	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1)) {
		CHECK(ldns_pkt_aa(r));
		CHECK(owner_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), "64.100.in-addr.arpa."));
		CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, "mesh.internal."));
	}
	ldns_pkt_free(r);
	q.type = LDNS_RR_TYPE_NS;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r && CHECK_EQ_INT(ldns_pkt_ancount(r), 1))
		CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, "mesh.internal."));
	ldns_pkt_free(r);
	q.type = LDNS_RR_TYPE_PTR;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NOERROR, "64.100.in-addr.arpa.");
	ldns_pkt_free(r);
	q.name = "0.64.100.in-addr.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NOERROR, "64.100.in-addr.arpa.");
	ldns_pkt_free(r);
	q.name = "1.64.100.in-addr.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NXDOMAIN, "64.100.in-addr.arpa.");
	ldns_pkt_free(r);
	q.name = "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NOERROR, "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa.");
	ldns_pkt_free(r);
	q.name = "1.0.5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NXDOMAIN, "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa.");
	ldns_pkt_free(r);
	q.name = "x.2.0.64.100.in-addr.arpa";
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		check_negative(r, LDNS_RCODE_NXDOMAIN, "64.100.in-addr.arpa.");
	ldns_pkt_free(r);
}

/* The naive reference: an address's parts (octets, or nibbles of IPv6),
 * 0 the highest. */
static unsigned naive_part(int family, const uint8_t *a, unsigned i)
{
	if (family == AF_INET)
		return a[i];
	return i % 2 ? a[i / 2] & 0xf : a[i / 2] >> 4;
}

/* What a reverse name of the first p parts of a (and a label that is no
 * address before them) gets from a zone of the addresses set[0..n) (names
 * "n<i>") in 100.64.0.0/10 and fd7a:6d67:7465::/48: -1 forwarded, else the
 * rcode, *found the index of the name of a whole address or -1. */
static int naive_reverse(const struct prefix *set, size_t n, int family, const uint8_t *a,
			 unsigned p, bool junk, long *found)
{
	static const uint8_t net6[6] = { 0xfd, 0x7a, 0x6d, 0x67, 0x74, 0x65 };
	unsigned max = family == AF_INET ? 4u : 32u;
	bool ours = family == AF_INET ? p >= 2 && a[0] == 100 && a[1] >= 64 && a[1] < 128
				      : p >= 12 && !memcmp(a, net6, 6);

	*found = -1;
	if (!ours)
		return -1;
	if (junk)
		return LDNS_RCODE_NXDOMAIN;
	if (p == (family == AF_INET ? 2u : 12u))
		return LDNS_RCODE_NOERROR;
	for (size_t i = 0; i < n; i++) {
		unsigned k = 0;

		while (set[i].family == family && k < p &&
		       naive_part(family, set[i].addr, k) == naive_part(family, a, k))
			k++;
		if (k == p && set[i].family == family) {
			*found = p == max ? (long)i : -1;
			return LDNS_RCODE_NOERROR;
		}
	}
	return LDNS_RCODE_NXDOMAIN;
}

/* The reverse name of the first p parts of a, a junk label first. */
static void reverse_text(int family, const uint8_t *a, unsigned p, bool junk, char *buf)
{
	size_t used = (size_t)sprintf(buf, "%s", junk ? "junk." : "");

	for (unsigned i = p; i-- > 0;)
		used += (size_t)sprintf(buf + used, family == AF_INET ? "%u." : "%x.",
					naive_part(family, a, i));
	sprintf(buf + used, "%s", family == AF_INET ? "in-addr.arpa" : "ip6.arpa");
}

/* Random names in and around the mesh's reverse space against the naive
 * reference: verdict, rcode, the PTR's target. */
static void test_reverse_random(void)
{
	enum { N = 400, QUERIES = 20000 };
	static struct prefix set[N], mesh[2];
	static struct dns_zone_name names[N];
	static char label[N][8];
	struct dns_zone_spec spec = { .mesh = mesh, .n_mesh = 2, .serial = 42 };
	struct dns_zone *saved = zone, *z = NULL;
	struct test_rng rng = { 0x4e7 };
	size_t counts[4] = { 0 }; /* forwarded, NOERROR, NXDOMAIN, PTR */
	char text[160], want[32];

	mesh[0] = dns_test_prefix("100.64.0.0/10");
	mesh[1] = dns_test_prefix("fd7a:6d67:7465::/48");
	for (size_t i = 0; i < N; i++) {
		/* Few distinct parts, so that partial names often have names below. */
		set[i] = dns_test_prefix(i % 2 ? "fd7a:6d67:7465::" : "100.64.0.0");
		if (i % 2)
			for (int b = 6; b < 16; b++)
				set[i].addr[b] =
				    (uint8_t)(test_rng_next(&rng) % 3 ? 0
								      : test_rng_next(&rng) % 4);
		else
			for (int b = 1; b < 4; b++)
				set[i].addr[b] =
				    (uint8_t)((b == 1 ? 64 : 0) + test_rng_next(&rng) % 4);
		snprintf(label[i], sizeof(label[i]), "n%zu", i);
		names[i] = (struct dns_zone_name){ label[i], &set[i], 1, true, 0 };
	}
	if (!CHECK_EQ_INT(dns_zone_build(&spec, names, N, &z, NULL), 0))
		return;
	zone = z;
	for (int i = 0; i < QUERIES; i++) {
		const struct prefix *base = &set[test_rng_next(&rng) % N];
		struct prefix a = *base;
		int family = a.family;
		unsigned max = family == AF_INET ? 4 : 32;
		unsigned p = (unsigned)(test_rng_next(&rng) % (max + 1));
		bool junk = test_rng_next(&rng) % 8 == 0;
		struct dns_test_query q = { .name = text,
					    .type = LDNS_RR_TYPE_PTR,
					    .id = (uint16_t)i };
		long found, first;
		int rcode;
		ldns_pkt *r;

		if (test_rng_next(&rng) % 3 == 0) /* some part changed, maybe out of the mesh */
			a.addr[test_rng_next(&rng) % addr_len(family)] ^=
			    (uint8_t)(1u << test_rng_next(&rng) % 8);
		/* The first of a repeated address keeps the name (members by name). */
		rcode = naive_reverse(set, N, family, a.addr, p, junk, &found);
		for (size_t j = 0; found >= 0 && j < N; j++)
			if (set[j].family == family &&
			    !memcmp(set[j].addr, a.addr, addr_len(family)) &&
			    strcmp(label[j], label[found]) < 0)
				found = (long)j;
		first = found;
		reverse_text(family, a.addr, p, junk, text);
		r = ask(&q, DNS_UDP, rcode < 0 ? DNS_ANSWER_FORWARD : DNS_ANSWER_REPLY);
		counts[rcode < 0 ? 0 : rcode == LDNS_RCODE_NOERROR ? 1 : 2]++;
		if (!r) {
			if (rcode >= 0)
				fprintf(stderr, "  %s\n", text);
			continue;
		}
		if (!CHECK_EQ_INT(ldns_pkt_get_rcode(r), rcode))
			fprintf(stderr, "  %s\n", text);
		CHECK_EQ_INT(ldns_pkt_ancount(r), first >= 0);
		if (first >= 0 && ldns_pkt_ancount(r) == 1) {
			counts[3]++;
			snprintf(want, sizeof(want), "%s.mesh.internal.", label[first]);
			CHECK(rdf_is(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0, want));
		}
		ldns_pkt_free(r);
	}
	printf("reverse: %zu forwarded, %zu NOERROR (%zu PTR), %zu NXDOMAIN of %d\n", counts[0],
	       counts[1], counts[3], counts[2], QUERIES);
	CHECK(counts[0] > 500 && counts[1] > 2000 && counts[2] > 2000 && counts[3] > 1000);
	zone = saved;
	dns_zone_free(z);
}

static void test_forward(void)
{
	static const char *const names[] = { "example.com", "internal", "mesh.internal.evil",
					     "xmesh.internal", "." };
	struct dns_test_query q = { .type = LDNS_RR_TYPE_A, .id = 77 };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		q.name = names[i];
		reply.len = 99;
		ldns_pkt_free(ask(&q, DNS_UDP, DNS_ANSWER_FORWARD));
		CHECK_EQ_INT(reply.len, 0);
	}
}

static void test_edns(void)
{
	struct dns_test_query q = { .name = "home.mesh.internal",
				    .type = LDNS_RR_TYPE_A,
				    .id = 11,
				    .edns_size = 4096,
				    .do_bit = true };
	ldns_pkt *r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);

	if (r) {
		CHECK(ldns_pkt_edns(r));
		CHECK_EQ_INT(ldns_pkt_edns_udp_size(r), DNS_ANSWER_EDNS_SIZE);
		CHECK_EQ_INT(ldns_pkt_edns_version(r), 0);
		CHECK(ldns_pkt_edns_do(r));
		CHECK_EQ_INT(ldns_pkt_ancount(r), 1);
	}
	ldns_pkt_free(r);
	q.do_bit = false;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		CHECK(ldns_pkt_edns(r) && !ldns_pkt_edns_do(r));
	ldns_pkt_free(r);
	/* Version 1: BADVERS, with our OPT, nothing answered. */
	q.edns_version = 1;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK(ldns_pkt_edns(r));
		CHECK_EQ_INT(ldns_pkt_edns_extended_rcode(r), 1);
		CHECK_EQ_INT(ldns_pkt_get_rcode(r), 0);
		CHECK_EQ_INT(ldns_pkt_ancount(r), 0);
		CHECK_EQ_INT(reply.rcode, DNS_RCODE_BADVERS);
	}
	ldns_pkt_free(r);
}

/* big has 32 AAAA: about 950 bytes. */
static void test_truncation(void)
{
	struct dns_test_query q = { .name = "big.mesh.internal",
				    .type = LDNS_RR_TYPE_AAAA,
				    .id = 21 };
	ldns_pkt *r;

	/* No EDNS over UDP: 512. */
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK(ldns_pkt_tc(r));
		CHECK(reply.truncated);
		CHECK(reply.len <= 512);
		check_question(r, "big.mesh.internal.", LDNS_RR_TYPE_AAAA);
		CHECK_EQ_INT(ldns_pkt_ancount(r), 0);
		CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	}
	ldns_pkt_free(r);
	/* Over TCP the whole answer. */
	r = ask(&q, DNS_TCP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK(!ldns_pkt_tc(r));
		CHECK_EQ_INT(ldns_pkt_ancount(r), DNS_NAME_ADDRS_MAX);
		CHECK(reply.len > 512);
	}
	ldns_pkt_free(r);
	/* The client's EDNS size: 600 truncates, 1232 does not. */
	q.edns_size = 600;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK(ldns_pkt_tc(r));
		CHECK(reply.len <= 600);
		CHECK(ldns_pkt_edns(r));
		CHECK_EQ_INT(ldns_pkt_ancount(r), 0);
	}
	ldns_pkt_free(r);
	q.edns_size = 1232;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK(!ldns_pkt_tc(r));
		CHECK_EQ_INT(ldns_pkt_ancount(r), DNS_NAME_ADDRS_MAX);
		CHECK(reply.len > 600 && reply.len <= 1232);
	}
	ldns_pkt_free(r);
	/* A size below 512 counts as 512. */
	q = (struct dns_test_query){
		.name = "laptop.mesh.internal", .type = LDNS_RR_TYPE_ANY, .id = 23, .edns_size = 50
	};
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK(!ldns_pkt_tc(r));
		CHECK(reply.len > 50);
		CHECK_EQ_INT(ldns_pkt_ancount(r), 2);
	}
	ldns_pkt_free(r);
	/* A small name fits in 512. */
	q = (struct dns_test_query){ .name = "home.mesh.internal",
				     .type = LDNS_RR_TYPE_ANY,
				     .id = 22 };
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		CHECK(!ldns_pkt_tc(r));
	ldns_pkt_free(r);
}

/* A packet with the given opcode, flags and questions, as wire. */
static uint8_t *packet_wire(ldns_pkt_opcode opcode, size_t n_questions, size_t *len)
{
	ldns_pkt *pkt = ldns_pkt_new();
	uint8_t *wire = NULL;

	ldns_pkt_set_id(pkt, 0xbeef);
	ldns_pkt_set_opcode(pkt, opcode);
	ldns_pkt_set_rd(pkt, true);
	for (size_t i = 0; i < n_questions; i++) {
		ldns_rr *q = ldns_rr_new();
		ldns_rr_set_owner(q, ldns_dname_new_frm_str("home.mesh.internal."));
		ldns_rr_set_type(q, LDNS_RR_TYPE_A);
		ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
		ldns_rr_set_question(q, true);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, q);
	}
	if (ldns_pkt2wire(&wire, pkt, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(pkt);
	return wire;
}

static void check_error(const uint8_t *wire, size_t len, unsigned rcode, size_t qd)
{
	ldns_pkt *r = answer_wire(wire, len, DNS_UDP, DNS_ANSWER_REPLY);

	if (!r)
		return;
	CHECK_EQ_INT(ldns_pkt_id(r), LDNS_ID_WIRE(wire));
	CHECK_EQ_INT(ldns_pkt_get_rcode(r), rcode);
	CHECK_EQ_INT(ldns_pkt_get_opcode(r), LDNS_OPCODE_WIRE(wire));
	CHECK_EQ_INT(ldns_pkt_rd(r), LDNS_RD_WIRE(wire) != 0);
	CHECK(!ldns_pkt_aa(r));
	CHECK_EQ_INT(ldns_pkt_qdcount(r), qd);
	CHECK_EQ_INT(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
}

static void test_errors(void)
{
	uint8_t header[12] = { 0xab, 0xcd, 0x01, 0x00, 0x00, 0x01 }, junk[40];
	struct dns_test_query q = { .name = "version.bind",
				    .type = LDNS_RR_TYPE_TXT,
				    .klass = LDNS_RR_CLASS_CH,
				    .id = 31 };
	uint8_t *wire;
	size_t len;
	ldns_pkt *r;

	/* No question, two questions: FORMERR; NOTIFY and UPDATE: NOTIMP
	 * (a parsed one echoes its question). */
	wire = packet_wire(LDNS_PACKET_QUERY, 0, &len);
	check_error(wire, len, LDNS_RCODE_FORMERR, 0);
	free(wire);
	wire = packet_wire(LDNS_PACKET_QUERY, 2, &len);
	check_error(wire, len, LDNS_RCODE_FORMERR, 0);
	free(wire);
	wire = packet_wire(LDNS_PACKET_NOTIFY, 1, &len);
	check_error(wire, len, LDNS_RCODE_NOTIMPL, 1);
	free(wire);
	wire = packet_wire(LDNS_PACKET_UPDATE, 0, &len);
	check_error(wire, len, LDNS_RCODE_NOTIMPL, 0);
	free(wire);
	/* A header announcing a question that is not there: FORMERR with
	 * the ID; with opcode STATUS: NOTIMP. */
	check_error(header, sizeof(header), LDNS_RCODE_FORMERR, 0);
	header[2] = 0x11; /* opcode 2, RD */
	check_error(header, sizeof(header), LDNS_RCODE_NOTIMPL, 0);
	/* A name running past the end. */
	memset(junk, 0, sizeof(junk));
	junk[0] = 0x42, junk[5] = 1, junk[12] = 60;
	check_error(junk, sizeof(junk), LDNS_RCODE_FORMERR, 0);
	/* Class CH: REFUSED, never forwarded. */
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
		check_question(r, "version.bind.", LDNS_RR_TYPE_TXT);
	}
	ldns_pkt_free(r);
	q.name = "home.mesh.internal";
	q.klass = LDNS_RR_CLASS_ANY;
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	/* Zone transfers of ours: REFUSED; of others: forwarded. */
	q = (struct dns_test_query){ .name = "mesh.internal", .type = LDNS_RR_TYPE_AXFR, .id = 33 };
	r = ask(&q, DNS_TCP, DNS_ANSWER_REPLY);
	if (r) {
		CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
		CHECK(!ldns_pkt_aa(r));
	}
	ldns_pkt_free(r);
	q.name = "64.100.in-addr.arpa";
	r = ask(&q, DNS_TCP, DNS_ANSWER_REPLY);
	if (r)
		CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	q.name = "100.in-addr.arpa";
	ldns_pkt_free(ask(&q, DNS_TCP, DNS_ANSWER_FORWARD));
	q = (struct dns_test_query){ .name = "0.0.64.100.in-addr.arpa",
				     .type = LDNS_RR_TYPE_IXFR,
				     .id = 34 };
	r = ask(&q, DNS_UDP, DNS_ANSWER_REPLY);
	if (r)
		CHECK_EQ_INT(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	/* Silence: shorter than a header, a response (QR set), nothing. */
	q = (struct dns_test_query){ .name = "home.mesh.internal",
				     .type = LDNS_RR_TYPE_A,
				     .id = 32 };
	wire = dns_test_query_wire(&q, &len);
	for (size_t n = 0; n < 12; n++)
		CHECK_EQ_INT(dns_answer_local(zone, wire, n, DNS_UDP, out, sizeof(out), &reply),
			     DNS_ANSWER_DROP);
	wire[2] |= 0x80;
	CHECK_EQ_INT(dns_answer_local(zone, wire, len, DNS_UDP, out, sizeof(out), &reply),
		     DNS_ANSWER_DROP);
	CHECK_EQ_INT(dns_answer_local(zone, NULL, 0, DNS_UDP, out, sizeof(out), NULL),
		     DNS_ANSWER_DROP);
	free(wire);
}

/* A cap too small for even the question drops; one between truncates. */
static void test_small_cap(void)
{
	struct dns_test_query q = { .name = "big.mesh.internal",
				    .type = LDNS_RR_TYPE_AAAA,
				    .id = 41 };
	size_t len;
	uint8_t *wire = dns_test_query_wire(&q, &len);

	CHECK_EQ_INT(dns_answer_local(zone, wire, len, DNS_TCP, out, 20, &reply), DNS_ANSWER_DROP);
	CHECK_EQ_INT(dns_answer_local(zone, wire, len, DNS_TCP, out, 300, &reply),
		     DNS_ANSWER_REPLY);
	CHECK(reply.truncated && reply.len <= 300);
	free(wire);
}

/* Random datagrams, some with a plausible header: never a crash, every
 * reply parses and carries the query's ID. */
static void test_random(void)
{
	struct test_rng rng = { 0xd15 };
	uint8_t buf[300];
	size_t replies = 0, forwards = 0;

	for (int i = 0; i < 20000; i++) {
		size_t len = test_rng_next(&rng) % sizeof(buf);
		enum dns_answer_verdict v;
		ldns_pkt *r = NULL;

		test_rng_bytes(&rng, buf, len);
		if (len >= 12 && i % 2) {
			buf[2] &= 0x7f;
			buf[4] = 0, buf[5] = 1, buf[6] = buf[7] = buf[8] = buf[9] = 0;
		}
		v = dns_answer_local(zone, buf, len, i % 3 ? DNS_UDP : DNS_TCP, out, sizeof(out),
				     &reply);
		forwards += v == DNS_ANSWER_FORWARD;
		if (v != DNS_ANSWER_REPLY)
			continue;
		replies++;
		if (!CHECK(ldns_wire2pkt(&r, out, reply.len) == LDNS_STATUS_OK))
			break;
		CHECK_EQ_INT(ldns_pkt_id(r), LDNS_ID_WIRE(buf));
		ldns_pkt_free(r);
	}
	printf("random: %zu replies, %zu forwards of 20000\n", replies, forwards);
	CHECK(replies > 1000);
}

int main(void)
{
	/* The fixture zone (dns_testlib.h), serial 42. */
	zone = dns_test_zone(42);
	RUN(test_a_aaaa);
	RUN(test_negative);
	RUN(test_apex);
	RUN(test_ptr);
	RUN(test_reverse_space);
	RUN(test_reverse_random);
	RUN(test_forward);
	RUN(test_edns);
	RUN(test_truncation);
	RUN(test_errors);
	RUN(test_small_cap);
	RUN(test_random);
	dns_zone_free(zone);
	return test_summary();
}
