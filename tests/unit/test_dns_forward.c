/*
 * The resolver's forwarder and cache against fake upstreams: UDP and TCP
 * servers on 127.0.0.x inside a private network namespace (loopback only),
 * answering with ldns-built responses the test controls (silence, SERVFAIL,
 * NXDOMAIN with a SOA, TC then the whole answer over TCP, a wrong ID or
 * question first, a spoofed source first), driven by the daemon's loop.
 */
/* stdbool.h before ldns: without it ldns/common.h makes bool a signed char. */
#include <stdbool.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/forward.h"
#include "loop.h"
#include "testlib.h"

enum { GUARD_MS = 8000 };

enum fake_mode { FAKE_ANSWER, FAKE_SILENT, FAKE_SERVFAIL, FAKE_NXDOMAIN, FAKE_TC };

struct fake {
	const char *ip;
	uint8_t octet; /* answers are 10.0.<octet>.i */
	int udp, tcp;
	struct loop_source *usrc, *tsrc;
	enum fake_mode mode;
	uint32_t ttl, soa_ttl, soa_min;
	unsigned n_answers; /* in a whole answer (TCP, or UDP unless TC) */
	bool wrong_id_first, wrong_question_first, spoof_first;
	unsigned udp_queries, tcp_queries;
	uint8_t last[4096];
	size_t last_len;
	uint16_t last_port;
};

struct tcp_conn {
	struct fake *f;
	int fd;
	struct loop_source *src;
	uint8_t buf[4096];
	size_t len;
};

struct result {
	int calls;
	uint8_t reply[65535];
	size_t len;
};

static struct loop *loop;
static int spoof_fd = -1; /* 127.0.0.66: replies from a server not asked */

/* ---- the fake upstreams ---- */

static ldns_rr *a_record(const ldns_rdf *owner, uint32_t ttl, const char *addr)
{
	ldns_rr *rr = ldns_rr_new();
	uint8_t a[4];

	inet_pton(AF_INET, addr, a);
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, a));
	return rr;
}

static ldns_rr *soa_record(uint32_t ttl, uint32_t minimum)
{
	ldns_rr *rr = NULL;
	char text[256];

	snprintf(text, sizeof(text), "test. %u IN SOA ns.test. host.test. 1 3600 600 86400 %u", ttl,
		 minimum);
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		abort();
	return rr;
}

/* The fake's response to query; lie: one A of 6.6.6.6 instead. */
static size_t fake_reply(const struct fake *f, const uint8_t *query, size_t len, bool tcp, bool lie,
			 uint8_t *out, size_t cap)
{
	ldns_pkt *q = NULL, *r;
	const ldns_rr *question;
	uint8_t *wire = NULL;
	size_t n = 0;

	if (ldns_wire2pkt(&q, query, len) != LDNS_STATUS_OK)
		return 0;
	question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	r = ldns_pkt_new();
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
	if (ldns_pkt_edns(q)) {
		ldns_pkt_set_edns_udp_size(r, 1232);
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
	}
	if (lie) {
		ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER,
				 a_record(ldns_rr_owner(question), f->ttl, "6.6.6.6"));
	} else if (f->mode == FAKE_SERVFAIL) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_SERVFAIL);
	} else if (f->mode == FAKE_NXDOMAIN) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
		ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY, soa_record(f->soa_ttl, f->soa_min));
	} else if (f->mode == FAKE_TC && !tcp) {
		ldns_pkt_set_tc(r, true);
	} else {
		for (unsigned i = 0; i < (f->n_answers ? f->n_answers : 1); i++) {
			char addr[32];
			snprintf(addr, sizeof(addr), "10.%u.%u.%u", f->octet, i / 250, i % 250 + 1);
			ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER,
					 a_record(ldns_rr_owner(question), f->ttl, addr));
		}
	}
	if (ldns_pkt2wire(&wire, r, &n) == LDNS_STATUS_OK && n <= cap)
		memcpy(out, wire, n);
	else
		n = 0;
	free(wire);
	ldns_pkt_free(r);
	ldns_pkt_free(q);
	return n;
}

static void fake_udp(void *ctx, uint32_t events)
{
	struct fake *f = ctx;
	union sockaddr_inet from;
	socklen_t flen = sizeof(from);
	uint8_t q[4096], r[65535];
	ssize_t n = recvfrom(f->udp, q, sizeof(q), 0, &from.sa, &flen);
	size_t rl;

	if (n < 12)
		return;
	f->udp_queries++;
	memcpy(f->last, q, (size_t)n);
	f->last_len = (size_t)n;
	f->last_port = ntohs(from.in.sin_port);
	if (f->mode == FAKE_SILENT)
		return;
	if (f->spoof_first && (rl = fake_reply(f, q, (size_t)n, false, true, r, sizeof(r))))
		sendto(spoof_fd, r, rl, 0, &from.sa, flen);
	if (f->wrong_id_first && (rl = fake_reply(f, q, (size_t)n, false, true, r, sizeof(r)))) {
		r[1] ^= 1;
		sendto(f->udp, r, rl, 0, &from.sa, flen);
	}
	if (f->wrong_question_first &&
	    (rl = fake_reply(f, q, (size_t)n, false, true, r, sizeof(r)))) {
		r[12 + 1] ^= 0x20; /* first letter of the qname, the other case */
		r[12 + 2] ^= 1;    /* and its second letter another one */
		sendto(f->udp, r, rl, 0, &from.sa, flen);
	}
	rl = fake_reply(f, q, (size_t)n, false, false, r, sizeof(r));
	if (rl)
		sendto(f->udp, r, rl, 0, &from.sa, flen);
}

static void tcp_conn_close(struct tcp_conn *c)
{
	loop_del_fd(loop, c->src);
	close(c->fd);
	free(c);
}

static void fake_tcp_read(void *ctx, uint32_t events)
{
	struct tcp_conn *c = ctx;
	uint8_t r[2 + 65535];
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	size_t want, rl;

	if (n <= 0) {
		tcp_conn_close(c);
		return;
	}
	c->len += (size_t)n;
	if (c->len < 2 || c->len < 2 + (want = ldns_read_uint16(c->buf)))
		return;
	c->f->tcp_queries++;
	rl = fake_reply(c->f, c->buf + 2, want, true, false, r + 2, sizeof(r) - 2);
	ldns_write_uint16(r, (uint16_t)rl);
	if (rl && send(c->fd, r, rl + 2, MSG_NOSIGNAL) != (ssize_t)(rl + 2))
		CHECK(!"fake: short TCP write");
	tcp_conn_close(c);
}

static void fake_accept(void *ctx, uint32_t events)
{
	struct fake *f = ctx;
	struct tcp_conn *c = calloc(1, sizeof(*c));

	c->f = f;
	c->fd = accept4(f->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c->fd < 0) {
		free(c);
		return;
	}
	c->src = loop_add_fd(loop, c->fd, EPOLLIN, fake_tcp_read, c);
}

static int bound_socket(const char *ip, int type)
{
	union sockaddr_inet sa = { .in = { .sin_family = AF_INET, .sin_port = htons(53) } };
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, ip, &sa.in.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, &sa.sa, sizeof(sa.in)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0))
		abort();
	return fd;
}

static void fake_start(struct fake *f, const char *ip, uint8_t octet, enum fake_mode mode)
{
	memset(f, 0, sizeof(*f));
	f->ip = ip;
	f->octet = octet;
	f->mode = mode;
	f->ttl = 300;
	f->udp = bound_socket(ip, SOCK_DGRAM);
	f->tcp = bound_socket(ip, SOCK_STREAM);
	f->usrc = loop_add_fd(loop, f->udp, EPOLLIN, fake_udp, f);
	f->tsrc = loop_add_fd(loop, f->tcp, EPOLLIN, fake_accept, f);
}

static void fake_stop(struct fake *f)
{
	loop_del_fd(loop, f->usrc);
	loop_del_fd(loop, f->tsrc);
	close(f->udp);
	close(f->tcp);
}

/* ---- the client side ---- */

static union sockaddr_inet server(const char *ip)
{
	union sockaddr_inet sa;
	char text[64];

	snprintf(text, sizeof(text), "%s:53", ip);
	if (sockaddr_parse(&sa, text) < 0)
		abort();
	return sa;
}

static struct dns_forwarder *forwarder(uint32_t try_ms, uint32_t total_ms, uint32_t inflight,
				       size_t cache_entries, const char *ip1, const char *ip2)
{
	struct dns_forwarder_config cfg = { .try_ms = try_ms,
					    .total_ms = total_ms,
					    .inflight_max = inflight,
					    .cache_entries = cache_entries };
	struct dns_forwarder *fwd = dns_forwarder_new(loop, &cfg);
	struct dns_upstreams up = { 0 };

	if (ip1)
		up.servers[up.n_servers++] = server(ip1);
	if (ip2)
		up.servers[up.n_servers++] = server(ip2);
	if (!fwd || dns_forwarder_set_upstreams(fwd, &up) < 0)
		abort();
	return fwd;
}

static size_t make_query(const char *name, ldns_rr_type type, bool edns, bool do_bit, uint16_t id,
			 uint8_t *out)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	size_t n = 0;

	if (ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_set_id(q, id);
	if (edns) {
		ldns_pkt_set_edns_udp_size(q, 1232);
		ldns_pkt_set_edns_do(q, do_bit);
	}
	if (ldns_pkt2wire(&wire, q, &n) != LDNS_STATUS_OK)
		abort();
	memcpy(out, wire, n);
	free(wire);
	ldns_pkt_free(q);
	return n;
}

static void on_done(void *ctx, const uint8_t *reply, size_t len)
{
	struct result *res = ctx;

	res->calls++;
	res->len = reply ? len : 0;
	if (reply)
		memcpy(res->reply, reply, len);
	loop_stop(loop);
}

static void on_guard(void *ctx)
{
	loop_stop(loop);
}

/* Runs the loop until res has its answer, at most GUARD_MS. */
static void wait_for(struct result *res)
{
	struct loop_timer *guard =
	    loop_timer_add(loop, loop_now() + GUARD_MS * 1000000ull, on_guard, NULL);

	while (!res->calls && loop_timer_deadline(guard) != UINT64_MAX)
		loop_run(loop);
	loop_timer_del(loop, guard);
}

/* Asks name over the client's transport and waits; the parsed response
 * (free it) or NULL. */
static ldns_pkt *ask(struct dns_forwarder *fwd, const char *name, bool edns, bool do_bit, bool tcp,
		     struct result *res)
{
	uint8_t q[512];
	size_t n = make_query(name, LDNS_RR_TYPE_A, edns, do_bit, 0x1234, q);
	ldns_pkt *pkt = NULL;

	memset(res, 0, sizeof(*res));
	if (!CHECK_EQ_INT(dns_forwarder_query(fwd, q, n, tcp, on_done, res), 0))
		return NULL;
	wait_for(res);
	CHECK_EQ_INT(res->calls, 1);
	if (res->len && ldns_wire2pkt(&pkt, res->reply, res->len) != LDNS_STATUS_OK)
		pkt = NULL;
	CHECK(pkt != NULL);
	if (pkt)
		CHECK_EQ_INT(ldns_pkt_id(pkt), 0x1234);
	return pkt;
}

static bool has_a(const ldns_pkt *pkt, const char *addr)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	uint8_t a[4];

	inet_pton(AF_INET, addr, a);
	for (size_t i = 0; pkt && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rdf *rd = ldns_rr_rdf(ldns_rr_list_rr(an, i), 0);
		if (rd && ldns_rdf_size(rd) == 4 && memcmp(ldns_rdf_data(rd), a, 4) == 0)
			return true;
	}
	return false;
}

static uint32_t first_ttl(const ldns_pkt *pkt)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	const ldns_rr_list *ns = ldns_pkt_authority(pkt);

	if (ldns_rr_list_rr_count(an))
		return ldns_rr_ttl(ldns_rr_list_rr(an, 0));
	return ldns_rr_list_rr_count(ns) ? ldns_rr_ttl(ldns_rr_list_rr(ns, 0)) : UINT32_MAX;
}

static struct dns_forward_stats stats_of(const struct dns_forwarder *fwd)
{
	struct dns_forward_stats s;

	dns_forwarder_get_stats(fwd, &s);
	return s;
}

/* ---- tests ---- */

/* The answer comes back with the client's ID; upstream saw other IDs and
 * (a fresh socket per query) source ports. */
static void test_relay(void)
{
	struct fake a;
	struct dns_forwarder *fwd;
	struct result res;
	uint16_t ports[8], ids_same = 0;
	size_t distinct = 0;

	fake_start(&a, "127.0.0.2", 2, FAKE_ANSWER);
	fwd = forwarder(0, 0, 0, 0, "127.0.0.2", NULL);
	for (int i = 0; i < 8; i++) {
		char name[64];
		ldns_pkt *pkt;

		snprintf(name, sizeof(name), "host%d.example.com.", i);
		pkt = ask(fwd, name, false, false, false, &res);
		CHECK(pkt && has_a(pkt, "10.2.0.1"));
		CHECK(pkt && ldns_pkt_qr(pkt) && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR);
		ids_same += LDNS_ID_WIRE(a.last) == 0x1234;
		ports[i] = a.last_port;
		ldns_pkt_free(pkt);
	}
	for (int i = 0; i < 8; i++) {
		bool seen = false;
		for (int j = 0; j < i; j++)
			seen |= ports[j] == ports[i];
		distinct += !seen;
	}
	CHECK(ids_same < 2);
	CHECK(distinct >= 4);
	CHECK_EQ_INT(a.udp_queries, 8);
	CHECK_EQ_INT(stats_of(fwd).forwarded, 8);
	CHECK_EQ_INT(stats_of(fwd).rcodes[LDNS_RCODE_NOERROR], 8);
	CHECK_EQ_INT(dns_forwarder_inflight(fwd), 0);
	dns_forwarder_free(fwd);
	fake_stop(&a);
}

/* A hit within the TTL is not asked upstream and its TTL is less its age;
 * after the TTL it is asked again. */
static void test_cache_ttl(void)
{
	struct fake a;
	struct dns_forwarder *fwd;
	struct result res;
	ldns_pkt *pkt;

	fake_start(&a, "127.0.0.2", 2, FAKE_ANSWER);
	fwd = forwarder(0, 0, 0, 0, "127.0.0.2", NULL);
	a.ttl = 3;
	ldns_pkt_free(ask(fwd, "cached.example.com.", false, false, false, &res));
	CHECK_EQ_INT(a.udp_queries, 1);
	usleep(1100 * 1000);
	pkt = ask(fwd, "CACHED.example.com.", false, false, false, &res);
	CHECK_EQ_INT(a.udp_queries, 1);
	CHECK(pkt && has_a(pkt, "10.2.0.1"));
	CHECK(pkt && first_ttl(pkt) <= 2);
	/* the client's own case in the question */
	CHECK(pkt &&
	      memcmp(ldns_rdf_data(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0))) + 1,
		     "CACHED", 6) == 0);
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(stats_of(fwd).cache.hits, 1);
	CHECK_EQ_INT(stats_of(fwd).cache.misses, 1);

	a.ttl = 1;
	ldns_pkt_free(ask(fwd, "short.example.com.", false, false, false, &res));
	usleep(1100 * 1000);
	ldns_pkt_free(ask(fwd, "short.example.com.", false, false, false, &res));
	CHECK_EQ_INT(a.udp_queries, 3);
	CHECK_EQ_INT(stats_of(fwd).cache.expired, 1);

	/* new upstreams flush the cache */
	a.ttl = 300;
	ldns_pkt_free(ask(fwd, "flush.example.com.", false, false, false, &res));
	struct dns_upstreams up = { .servers = { server("127.0.0.2") }, .n_servers = 1 };
	CHECK_EQ_INT(dns_forwarder_set_upstreams(fwd, &up), 0);
	ldns_pkt_free(ask(fwd, "flush.example.com.", false, false, false, &res));
	CHECK_EQ_INT(a.udp_queries, 5);
	dns_forwarder_free(fwd);
	fake_stop(&a);
}

/* NXDOMAIN is kept for min(SOA TTL, SOA MINIMUM); SERVFAIL never. */
static void test_negative(void)
{
	struct fake a;
	struct dns_forwarder *fwd;
	struct result res;
	ldns_pkt *pkt;

	fake_start(&a, "127.0.0.2", 2, FAKE_NXDOMAIN);
	a.soa_ttl = 3600;
	a.soa_min = 2;
	fwd = forwarder(0, 0, 0, 0, "127.0.0.2", NULL);
	pkt = ask(fwd, "nothing.example.com.", false, false, false, &res);
	CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(dns_cache_ttl(res.reply, res.len), 2);
	pkt = ask(fwd, "nothing.example.com.", false, false, false, &res);
	CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN);
	CHECK(pkt && ldns_pkt_nscount(pkt) == 1);
	CHECK_EQ_INT(a.udp_queries, 1);
	ldns_pkt_free(pkt);
	usleep(2100 * 1000);
	ldns_pkt_free(ask(fwd, "nothing.example.com.", false, false, false, &res));
	CHECK_EQ_INT(a.udp_queries, 2);

	/* SOA TTL below its minimum: the TTL wins */
	a.soa_ttl = 20;
	a.soa_min = 7200;
	ldns_pkt_free(ask(fwd, "other.example.com.", false, false, false, &res));
	CHECK_EQ_INT(dns_cache_ttl(res.reply, res.len), 20);

	a.mode = FAKE_SERVFAIL;
	pkt = ask(fwd, "broken.example.com.", false, false, false, &res);
	CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(pkt);
	ldns_pkt_free(ask(fwd, "broken.example.com.", false, false, false, &res));
	CHECK_EQ_INT(a.udp_queries, 5);
	CHECK_EQ_INT(stats_of(fwd).rcodes[LDNS_RCODE_SERVFAIL], 2);
	CHECK_EQ_INT(stats_of(fwd).rcodes[LDNS_RCODE_NXDOMAIN], 4);
	dns_forwarder_free(fwd);
	fake_stop(&a);
}

/* A wrong ID, a wrong question, a reply from another address: only the
 * right answer reaches the client. */
static void test_wrong_replies(void)
{
	struct fake a;
	struct dns_forwarder *fwd;
	struct result res;
	ldns_pkt *pkt;

	fake_start(&a, "127.0.0.2", 2, FAKE_ANSWER);
	a.wrong_id_first = a.wrong_question_first = a.spoof_first = true;
	fwd = forwarder(0, 0, 0, 0, "127.0.0.2", NULL);
	pkt = ask(fwd, "victim.example.com.", false, false, false, &res);
	CHECK(pkt && has_a(pkt, "10.2.0.1"));
	CHECK(pkt && !has_a(pkt, "6.6.6.6"));
	ldns_pkt_free(pkt);
	/* the spoofed one never got past the connected socket */
	CHECK_EQ_INT(stats_of(fwd).mismatched, 2);
	pkt = ask(fwd, "victim.example.com.", false, false, false, &res);
	CHECK(pkt && has_a(pkt, "10.2.0.1") && !has_a(pkt, "6.6.6.6"));
	ldns_pkt_free(pkt);
	dns_forwarder_free(fwd);
	fake_stop(&a);
}

/* A silent first server: the second answers after one try's timeout; a
 * refusing address (ICMP) and a SERVFAIL move on at once. */
static void test_next_server(void)
{
	struct fake silent, b, sf;
	struct dns_forwarder *fwd;
	struct result res;
	ldns_pkt *pkt;

	fake_start(&silent, "127.0.0.2", 2, FAKE_SILENT);
	fake_start(&b, "127.0.0.3", 3, FAKE_ANSWER);
	fake_start(&sf, "127.0.0.4", 4, FAKE_SERVFAIL);
	fwd = forwarder(1000, 4000, 0, 0, "127.0.0.2", "127.0.0.3");
	pkt = ask(fwd, "slow.example.com.", false, false, false, &res);
	CHECK(pkt && has_a(pkt, "10.3.0.1"));
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(silent.udp_queries, 1);
	CHECK_EQ_INT(stats_of(fwd).timeouts, 1);
	dns_forwarder_free(fwd);

	fwd = forwarder(1000, 4000, 0, 0, "127.0.0.9", "127.0.0.3");
	pkt = ask(fwd, "unreachable.example.com.", false, false, false, &res);
	CHECK(pkt && has_a(pkt, "10.3.0.1"));
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(stats_of(fwd).upstream_errors, 1);
	CHECK_EQ_INT(stats_of(fwd).timeouts, 0);
	dns_forwarder_free(fwd);

	fwd = forwarder(1000, 4000, 0, 0, "127.0.0.4", "127.0.0.3");
	pkt = ask(fwd, "servfail.example.com.", false, false, false, &res);
	CHECK(pkt && has_a(pkt, "10.3.0.1"));
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(sf.udp_queries, 1);
	CHECK_EQ_INT(stats_of(fwd).timeouts, 0);
	dns_forwarder_free(fwd);
	fake_stop(&silent);
	fake_stop(&b);
	fake_stop(&sf);
}

/* Nobody answers: SERVFAIL with the client's ID and question after the
 * total time, tries going round the list. */
static void test_total_timeout(void)
{
	struct fake s1, s2;
	struct dns_forwarder *fwd;
	struct result res;
	ldns_pkt *pkt;

	fake_start(&s1, "127.0.0.2", 2, FAKE_SILENT);
	fake_start(&s2, "127.0.0.3", 3, FAKE_SILENT);
	fwd = forwarder(200, 700, 0, 0, "127.0.0.2", "127.0.0.3");
	pkt = ask(fwd, "void.example.com.", true, true, false, &res);
	CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL);
	CHECK(pkt && ldns_pkt_qdcount(pkt) == 1 && ldns_pkt_edns(pkt) && ldns_pkt_edns_do(pkt));
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(stats_of(fwd).servfail_built, 1);
	CHECK(stats_of(fwd).timeouts >= 2);
	CHECK(s1.udp_queries >= 1 && s2.udp_queries >= 1);
	/* no list at all */
	struct dns_upstreams none = { 0 };
	CHECK_EQ_INT(dns_forwarder_set_upstreams(fwd, &none), 0);
	pkt = ask(fwd, "void.example.com.", false, false, false, &res);
	CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(pkt);
	dns_forwarder_free(fwd);
	fake_stop(&s1);
	fake_stop(&s2);
}

/* TC over UDP: the same question over TCP, the whole answer to a TCP
 * client, a truncated one to a UDP client (from the cache). */
static void test_tc_tcp(void)
{
	struct fake a;
	struct dns_forwarder *fwd;
	struct result res;
	ldns_pkt *pkt;

	fake_start(&a, "127.0.0.2", 2, FAKE_TC);
	a.n_answers = 200;
	fwd = forwarder(0, 0, 0, 0, "127.0.0.2", NULL);
	pkt = ask(fwd, "big.example.com.", true, false, true, &res);
	CHECK(pkt && ldns_pkt_ancount(pkt) == 200 && !ldns_pkt_tc(pkt));
	CHECK(pkt && has_a(pkt, "10.2.0.200"));
	CHECK(res.len > 3000);
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(a.udp_queries, 1);
	CHECK_EQ_INT(a.tcp_queries, 1);
	CHECK_EQ_INT(stats_of(fwd).tcp_fallbacks, 1);

	pkt = ask(fwd, "big.example.com.", true, false, false, &res);
	CHECK(pkt && ldns_pkt_tc(pkt) && ldns_pkt_ancount(pkt) == 0 && ldns_pkt_qdcount(pkt) == 1);
	CHECK(res.len <= 1232);
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(a.udp_queries, 1);
	CHECK_EQ_INT(stats_of(fwd).cache.hits, 1);
	dns_forwarder_free(fwd);
	fake_stop(&a);
}

/* The client's OPT goes upstream with its DO bit; a client without OPT
 * gets none back, even from an entry cached for one with it. */
static void test_edns(void)
{
	struct fake a;
	struct dns_forwarder *fwd;
	struct result res;
	ldns_pkt *pkt, *up = NULL;

	fake_start(&a, "127.0.0.2", 2, FAKE_ANSWER);
	fwd = forwarder(0, 0, 0, 0, "127.0.0.2", NULL);
	pkt = ask(fwd, "signed.example.com.", true, true, false, &res);
	CHECK(pkt && ldns_pkt_edns(pkt) && ldns_pkt_edns_do(pkt));
	ldns_pkt_free(pkt);
	CHECK(ldns_wire2pkt(&up, a.last, a.last_len) == LDNS_STATUS_OK);
	CHECK(up && ldns_pkt_edns(up) && ldns_pkt_edns_do(up) &&
	      ldns_pkt_edns_udp_size(up) == 1232);
	ldns_pkt_free(up);

	/* DO is part of the key: without it, upstream again */
	pkt = ask(fwd, "signed.example.com.", true, false, false, &res);
	CHECK(pkt && ldns_pkt_edns(pkt) && !ldns_pkt_edns_do(pkt));
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(a.udp_queries, 2);
	pkt = ask(fwd, "signed.example.com.", false, false, false, &res);
	CHECK(pkt && !ldns_pkt_edns(pkt));
	ldns_pkt_free(pkt);
	CHECK_EQ_INT(a.udp_queries, 2);

	/* CD is part of the key too: unchecked data stays with CD queries */
	uint8_t q[512];
	size_t n = make_query("signed.example.com.", LDNS_RR_TYPE_A, true, false, 0x1234, q);
	memset(&res, 0, sizeof(res));
	LDNS_CD_SET(q);
	CHECK_EQ_INT(dns_forwarder_query(fwd, q, n, false, on_done, &res), 0);
	wait_for(&res);
	CHECK_EQ_INT(res.calls, 1);
	CHECK(res.len > 3 && LDNS_CD_WIRE(res.reply));
	CHECK_EQ_INT(a.udp_queries, 3);
	CHECK(LDNS_CD_WIRE(a.last));
	dns_forwarder_free(fwd);
	fake_stop(&a);
}

/* A split domain's names (and the domain itself) go to its server. */
static void test_split(void)
{
	struct fake def, lan, inner;
	struct dns_forwarder *fwd;
	struct result res;
	struct dns_split splits[2] = { { .domain = "home.lan", .n_servers = 1 },
				       { .domain = "deep.home.lan", .n_servers = 1 } };
	struct dns_upstreams up = { .n_servers = 1, .splits = splits, .n_splits = 2 };
	const struct {
		const char *name;
		const char *addr;
	} cases[] = {
		{ "example.com.", "10.2.0.1" },     { "nas.home.lan.", "10.5.0.1" },
		{ "NAS.Home.LAN.", "10.5.0.1" },    { "home.lan.", "10.5.0.1" },
		{ "xhome.lan.", "10.2.0.1" },       { "lan.", "10.2.0.1" },
		{ "a.deep.home.lan.", "10.6.0.1" }, { "Printer.HOME.Lan.", "10.5.0.1" },
		{ "X.Deep.Home.Lan.", "10.6.0.1" },
	};

	fake_start(&def, "127.0.0.2", 2, FAKE_ANSWER);
	fake_start(&lan, "127.0.0.5", 5, FAKE_ANSWER);
	fake_start(&inner, "127.0.0.6", 6, FAKE_ANSWER);
	up.servers[0] = server("127.0.0.2");
	splits[0].servers[0] = server("127.0.0.5");
	splits[1].servers[0] = server("127.0.0.6");
	fwd = forwarder(0, 0, 0, 0, NULL, NULL);
	CHECK_EQ_INT(dns_forwarder_set_upstreams(fwd, &up), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *pkt = ask(fwd, cases[i].name, false, false, false, &res);
		if (!CHECK(pkt && has_a(pkt, cases[i].addr)))
			fprintf(stderr, "  %s\n", cases[i].name);
		ldns_pkt_free(pkt);
	}
	CHECK_EQ_INT(lan.udp_queries, 3); /* NAS.Home.LAN. is a hit */
	CHECK_EQ_INT(stats_of(fwd).split_forwarded, 5);
	CHECK_EQ_INT(stats_of(fwd).split_refused, 0);

	/* A split domain without servers (its router offline): SERVFAIL at
	 * once, never the default list; a deeper domain with servers still
	 * wins for its names. */
	splits[0].n_servers = 0;
	CHECK_EQ_INT(dns_forwarder_set_upstreams(fwd, &up), 0);
	{
		unsigned before = def.udp_queries;
		ldns_pkt *pkt = ask(fwd, "printer.home.lan.", false, false, false, &res);
		CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL);
		ldns_pkt_free(pkt);
		pkt = ask(fwd, "home.lan.", false, false, true, &res);
		CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL);
		ldns_pkt_free(pkt);
		pkt = ask(fwd, "b.deep.home.lan.", false, false, false, &res);
		CHECK(pkt && has_a(pkt, "10.6.0.1"));
		ldns_pkt_free(pkt);
		CHECK_EQ_INT(def.udp_queries, before);
		CHECK_EQ_INT(lan.udp_queries, 3);
		CHECK_EQ_INT(stats_of(fwd).split_refused, 2);
		CHECK_EQ_INT(stats_of(fwd).split_forwarded, 6);
	}

	/* Bound to an interface: its sockets leave only there (loopback
	 * here); an interface that does not exist reaches nothing. */
	splits[0].n_servers = 1;
	strcpy(splits[0].ifname, "lo");
	CHECK_EQ_INT(dns_forwarder_set_upstreams(fwd, &up), 0);
	{
		ldns_pkt *pkt = ask(fwd, "tv.home.lan.", false, false, false, &res);
		CHECK(pkt && has_a(pkt, "10.5.0.1"));
		ldns_pkt_free(pkt);
		strcpy(splits[0].ifname, "nosuch0");
		CHECK_EQ_INT(dns_forwarder_set_upstreams(fwd, &up), 0);
		pkt = ask(fwd, "radio.home.lan.", false, false, false, &res);
		CHECK(pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_SERVFAIL);
		ldns_pkt_free(pkt);
		CHECK_EQ_INT(lan.udp_queries, 4);
	}
	splits[0].ifname[0] = '\0';
	strcpy(splits[0].domain, "bad..name");
	CHECK_EQ_INT(dns_forwarder_set_upstreams(fwd, &up), -EINVAL);
	dns_forwarder_free(fwd);
	fake_stop(&def);
	fake_stop(&lan);
	fake_stop(&inner);
}

static void count_done(void *ctx, const uint8_t *reply, size_t len)
{
	(*(int *)ctx)++;
}

/* A full table: -EBUSY; cancel forgets queries without calling done. */
static void test_busy(void)
{
	struct fake s;
	struct dns_forwarder *fwd;
	uint8_t q[512];
	size_t n = 0;
	int calls[5] = { 0 };

	fake_start(&s, "127.0.0.2", 2, FAKE_SILENT);
	fwd = forwarder(0, 0, 4, 0, "127.0.0.2", NULL);
	for (int i = 0; i < 5; i++) {
		char name[64];

		snprintf(name, sizeof(name), "q%d.example.com.", i);
		n = make_query(name, LDNS_RR_TYPE_A, false, false, (uint16_t)i, q);
		CHECK_EQ_INT(dns_forwarder_query(fwd, q, n, false, count_done, &calls[i]),
			     i < 4 ? 0 : -EBUSY);
	}
	CHECK_EQ_INT(dns_forwarder_inflight(fwd), 4);
	CHECK_EQ_INT(stats_of(fwd).busy, 1);
	for (int i = 0; i < 4; i++)
		dns_forwarder_cancel(fwd, &calls[i]);
	CHECK_EQ_INT(dns_forwarder_inflight(fwd), 0);
	CHECK_EQ_INT(calls[0] + calls[1] + calls[2] + calls[3] + calls[4], 0);

	/* not a forwardable query */
	CHECK_EQ_INT(dns_forwarder_query(fwd, q, 5, false, count_done, &calls[0]), -EINVAL);
	q[2] |= 0x80; /* QR */
	CHECK_EQ_INT(dns_forwarder_query(fwd, q, n, false, count_done, &calls[0]), -EINVAL);
	dns_forwarder_free(fwd);
	fake_stop(&s);
}

/* 10,000 distinct names: entries and bytes stay under the caps, the
 * least recently used go first. */
static void test_cache_bounded(void)
{
	struct dns_cache *c = dns_cache_new(1000, 200000);
	struct dns_cache_stats st;
	struct dns_cache_key keep, k;
	struct fake tmp = { .ttl = 300, .n_answers = 1 };
	uint8_t q[512], r[1024];
	size_t len, rl;
	uint32_t age;

	for (int i = 0; i < 10000; i++) {
		char name[64];

		snprintf(name, sizeof(name), "n%d.example.com.", i);
		len = make_query(name, LDNS_RR_TYPE_A, false, false, 1, q);
		rl = fake_reply(&tmp, q, len, false, false, r, sizeof(r));
		if (dns_cache_key_of(q, len, &k) < 0 || dns_cache_put(c, &k, r, rl, 1) < 0)
			CHECK(!"put");
		if (i == 0)
			keep = k;
		if (i % 100 == 0) /* keep the first one recent */
			CHECK(dns_cache_get(c, &keep, 2, &rl, &age) != NULL);
		dns_cache_get_stats(c, &st);
		if (st.entries > 1000 || st.bytes > 200000)
			break;
	}
	dns_cache_get_stats(c, &st);
	CHECK(st.entries <= 1000);
	CHECK(st.bytes <= 200000);
	CHECK(st.entries >= 400);
	CHECK_EQ_INT(st.evictions, 10000 - st.entries);
	CHECK(dns_cache_get(c, &keep, 3, &rl, &age) != NULL);
	CHECK(dns_cache_get(c, &k, 3, &rl, &age) != NULL);
	len = make_query("n1.example.com.", LDNS_RR_TYPE_A, false, false, 1, q);
	CHECK_EQ_INT(dns_cache_key_of(q, len, &k), 0);
	CHECK(dns_cache_get(c, &k, 3, &rl, &age) == NULL);
	dns_cache_free(c);

	/* the default caps hold under 10,000 names too */
	c = dns_cache_new(0, 0);
	for (int i = 0; i < 10000; i++) {
		char name[64];

		snprintf(name, sizeof(name), "m%d.example.com.", i);
		len = make_query(name, LDNS_RR_TYPE_A, false, false, 1, q);
		rl = fake_reply(&tmp, q, len, false, false, r, sizeof(r));
		if (dns_cache_key_of(q, len, &k) < 0 || dns_cache_put(c, &k, r, rl, 1) < 0)
			CHECK(!"put");
	}
	dns_cache_get_stats(c, &st);
	CHECK_EQ_INT(st.entries, DNS_CACHE_ENTRIES_DEFAULT);
	CHECK(st.bytes <= DNS_CACHE_BYTES_DEFAULT);
	printf("10,000 names, default caps: %zu entries, %zu bytes\n", st.entries, st.bytes);
	dns_cache_free(c);
}

/* The same through the forwarder, with a small cap. */
static void test_forwarder_cache_cap(void)
{
	struct fake a;
	struct dns_forwarder *fwd;
	struct result res;

	fake_start(&a, "127.0.0.2", 2, FAKE_ANSWER);
	fwd = forwarder(0, 0, 0, 50, "127.0.0.2", NULL);
	for (int i = 0; i < 200; i++) {
		char name[64];

		snprintf(name, sizeof(name), "c%d.example.com.", i);
		ldns_pkt_free(ask(fwd, name, false, false, false, &res));
	}
	CHECK_EQ_INT(stats_of(fwd).cache.entries, 50);
	CHECK_EQ_INT(stats_of(fwd).cache.evictions, 150);
	dns_forwarder_free(fwd);
	fake_stop(&a);
}

/* What a SOA-less NODATA, a TC answer and a TTL past a day keep. */
static void test_cache_ttl_rules(void)
{
	struct fake f = { .ttl = 200000, .n_answers = 1 };
	uint8_t q[512], r[1024];
	size_t len = make_query("x.example.com.", LDNS_RR_TYPE_A, false, false, 7, q), rl;

	rl = fake_reply(&f, q, len, false, false, r, sizeof(r));
	CHECK_EQ_INT(dns_cache_ttl(r, rl), DNS_CACHE_TTL_MAX);
	f.ttl = 0;
	rl = fake_reply(&f, q, len, false, false, r, sizeof(r));
	CHECK_EQ_INT(dns_cache_ttl(r, rl), 0);
	f.mode = FAKE_TC;
	f.ttl = 60;
	rl = fake_reply(&f, q, len, false, false, r, sizeof(r));
	CHECK_EQ_INT(dns_cache_ttl(r, rl), 0);
	f.mode = FAKE_NXDOMAIN;
	f.soa_ttl = 50;
	f.soa_min = 40;
	rl = fake_reply(&f, q, len, false, false, r, sizeof(r));
	CHECK_EQ_INT(dns_cache_ttl(r, rl), 40);
	CHECK_EQ_INT(dns_cache_ttl(r, 5), 0);
	/* NODATA without a SOA: the TC answer with TC cleared */
	f.mode = FAKE_TC;
	rl = fake_reply(&f, q, len, false, false, r, sizeof(r));
	LDNS_TC_CLR(r);
	CHECK_EQ_INT(dns_cache_ttl(r, rl), 0);
}

static void test_resolv_conf(void)
{
	char path[] = "/tmp/test_dns_forward.XXXXXX";
	int fd = mkstemp(path);
	const char text[] = "# managed\n"
			    "search example.com\n"
			    "nameserver 127.0.0.53\n"
			    "nameserver 192.0.2.1\n"
			    "nameserver 100.100.100.100\n"
			    "  nameserver   fe80::1%lo\n"
			    "nameserver ::1\n"
			    "nameserver fd7a:6d67:7465::53\n"
			    "nameserver not-an-address\n"
			    "nameserver 2001:db8::53\n"
			    "options edns0\n";
	union sockaddr_inet ns[8];
	size_t n = 99;
	char out[64];

	CHECK(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1);
	close(fd);
	CHECK_EQ_INT(dns_upstream_resolv_conf(path, ns, 8, &n), 0);
	CHECK_EQ_INT(n, 3);
	sockaddr_format(&ns[0], out, sizeof(out));
	CHECK(strcmp(out, "192.0.2.1:53") == 0);
	CHECK(ns[1].sa.sa_family == AF_INET6 && ns[1].in6.sin6_scope_id == if_nametoindex("lo"));
	sockaddr_format(&ns[2], out, sizeof(out));
	CHECK(strcmp(out, "[2001:db8::53]:53") == 0);
	CHECK_EQ_INT(dns_upstream_resolv_conf(path, ns, 1, &n), 0);
	CHECK_EQ_INT(n, 1);
	unlink(path);
	CHECK_EQ_INT(dns_upstream_resolv_conf(path, ns, 8, &n), -ENOENT);
	CHECK_EQ_INT(n, 0);
}

int main(void)
{
	int skip = test_enter_private_netns();

	if (skip)
		return skip;
	if (test_link_up("lo") < 0) {
		printf("cannot bring up lo: %s\n", strerror(errno));
		return 1;
	}
	loop = loop_new();
	spoof_fd = bound_socket("127.0.0.66", SOCK_DGRAM);
	if (!loop)
		return 1;
	RUN(test_relay);
	RUN(test_cache_ttl);
	RUN(test_negative);
	RUN(test_wrong_replies);
	RUN(test_next_server);
	RUN(test_total_timeout);
	RUN(test_tc_tcp);
	RUN(test_edns);
	RUN(test_split);
	RUN(test_busy);
	RUN(test_cache_bounded);
	RUN(test_forwarder_cache_cap);
	RUN(test_cache_ttl_rules);
	RUN(test_resolv_conf);
	close(spoof_fd);
	loop_free(loop);
	return test_summary();
}
