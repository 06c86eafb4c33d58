/* One exchange with an upstream resolver, as bytes; see upstream.h. */
#include "dns/upstream.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer.h"
#include "dns/zone.h"

/* ---- matching ---- */

static bool same_question(const ldns_pkt *a, const ldns_pkt *b)
{
	const ldns_rr *qa, *qb;

	if (ldns_pkt_qdcount(a) != 1 || ldns_pkt_qdcount(b) != 1)
		return false;
	qa = ldns_rr_list_rr(ldns_pkt_question(a), 0);
	qb = ldns_rr_list_rr(ldns_pkt_question(b), 0);
	return ldns_rr_get_type(qa) == ldns_rr_get_type(qb) &&
	       ldns_rr_get_class(qa) == ldns_rr_get_class(qb) &&
	       ldns_dname_compare(ldns_rr_owner(qa), ldns_rr_owner(qb)) == 0;
}

enum dns_upstream_match dns_upstream_match(const uint8_t *sent, size_t sent_len,
					   const uint8_t *reply, size_t len)
{
	enum dns_upstream_match m = DNS_UPSTREAM_MISMATCH;
	ldns_pkt *s = NULL, *r = NULL;

	if (len < LDNS_HEADER_SIZE || sent_len < LDNS_HEADER_SIZE ||
	    LDNS_ID_WIRE(reply) != LDNS_ID_WIRE(sent) || !LDNS_QR_WIRE(reply) ||
	    LDNS_OPCODE_WIRE(reply) != LDNS_PACKET_QUERY)
		return m;
	if (ldns_wire2pkt(&s, sent, sent_len) != LDNS_STATUS_OK ||
	    ldns_wire2pkt(&r, reply, len) != LDNS_STATUS_OK)
		goto out;
	if (same_question(s, r))
		m = ldns_pkt_tc(r) ? DNS_UPSTREAM_TRUNCATED : DNS_UPSTREAM_MATCH;
out:
	ldns_pkt_free(s);
	ldns_pkt_free(r);
	return m;
}

unsigned dns_upstream_rcode(const uint8_t *reply, size_t len)
{
	return len >= LDNS_HEADER_SIZE ? LDNS_RCODE_WIRE(reply) : LDNS_RCODE_SERVFAIL;
}

/* ---- the client's response ---- */

/* The largest UDP response the client takes (answer.c's rule). */
static size_t client_udp_size(const ldns_pkt *query)
{
	size_t size = ldns_pkt_edns(query) ? ldns_pkt_edns_udp_size(query) : DNS_ANSWER_UDP_MIN;

	if (size < DNS_ANSWER_UDP_MIN)
		size = DNS_ANSWER_UDP_MIN;
	return size > DNS_ANSWER_EDNS_SIZE ? DNS_ANSWER_EDNS_SIZE : size;
}

/* Copies every record of from into to, TTLs less age; false: no memory. */
static bool copy_section(ldns_rr_list *to, const ldns_rr_list *from, uint32_t age)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(from); i++) {
		ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(from, i));

		if (!rr)
			return false;
		ldns_rr_set_ttl(rr, ldns_rr_ttl(rr) > age ? ldns_rr_ttl(rr) - age : 0);
		if (!ldns_rr_list_push_rr(to, rr)) {
			ldns_rr_free(rr);
			return false;
		}
	}
	return true;
}

/* A response to query: its ID, opcode, RD, CD and question, QR and RA
 * set; its OPT when it had one. NULL: no memory. */
static ldns_pkt *response_new(const ldns_pkt *query, bool do_bit)
{
	ldns_pkt *r = ldns_pkt_new();
	ldns_rr *q = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(query), 0));

	if (!r || !q || !ldns_rr_list_push_rr(ldns_pkt_question(r), q)) {
		ldns_rr_free(q);
		ldns_pkt_free(r);
		return NULL;
	}
	ldns_pkt_set_qdcount(r, 1);
	ldns_pkt_set_id(r, ldns_pkt_id(query));
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(query));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(query));
	ldns_pkt_set_cd(r, ldns_pkt_cd(query));
	ldns_pkt_set_ra(r, true);
	if (ldns_pkt_edns(query)) {
		ldns_pkt_set_edns_udp_size(r, DNS_ANSWER_EDNS_SIZE);
		ldns_pkt_set_edns_version(r, 0);
		ldns_pkt_set_edns_do(r, do_bit);
	}
	return r;
}

/* The upstream's answer in a response to query (see upstream.h). */
static ldns_pkt *relay_new(const ldns_pkt *query, const ldns_pkt *up, uint32_t age)
{
	ldns_pkt *r = response_new(query, ldns_pkt_edns_do(up));

	if (!r)
		return NULL;
	ldns_pkt_set_aa(r, ldns_pkt_aa(up));
	ldns_pkt_set_ad(r, ldns_pkt_ad(up));
	ldns_pkt_set_ra(r, ldns_pkt_ra(up));
	ldns_pkt_set_rcode(r, ldns_pkt_get_rcode(up));
	if (ldns_pkt_edns(query))
		ldns_pkt_set_edns_extended_rcode(r, ldns_pkt_edns_extended_rcode(up));
	if (!copy_section(ldns_pkt_answer(r), ldns_pkt_answer(up), age) ||
	    !copy_section(ldns_pkt_authority(r), ldns_pkt_authority(up), age) ||
	    !copy_section(ldns_pkt_additional(r), ldns_pkt_additional(up), age)) {
		ldns_pkt_free(r);
		return NULL;
	}
	ldns_pkt_set_ancount(r, ldns_rr_list_rr_count(ldns_pkt_answer(r)));
	ldns_pkt_set_nscount(r, ldns_rr_list_rr_count(ldns_pkt_authority(r)));
	ldns_pkt_set_arcount(r, ldns_rr_list_rr_count(ldns_pkt_additional(r)));
	return r;
}

/* Empties the answer, authority and additional sections and sets TC. */
static void truncate_pkt(ldns_pkt *r)
{
	ldns_rr_list_deep_free(ldns_pkt_answer(r));
	ldns_rr_list_deep_free(ldns_pkt_authority(r));
	ldns_rr_list_deep_free(ldns_pkt_additional(r));
	ldns_pkt_set_answer(r, ldns_rr_list_new());
	ldns_pkt_set_authority(r, ldns_rr_list_new());
	ldns_pkt_set_additional(r, ldns_rr_list_new());
	ldns_pkt_set_ancount(r, 0);
	ldns_pkt_set_nscount(r, 0);
	ldns_pkt_set_arcount(r, 0);
	ldns_pkt_set_tc(r, true);
}

/* Encodes r into out[0..cap); -ENOSPC past limit or cap. */
static int encode(const ldns_pkt *r, size_t limit, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t *wire = NULL;
	size_t len = 0;
	int ret = 0;

	if (ldns_pkt2wire(&wire, r, &len) != LDNS_STATUS_OK)
		return -ENOMEM;
	if (len > cap || len > limit)
		ret = -ENOSPC;
	else
		memcpy(out, wire, len);
	*out_len = len;
	free(wire);
	return ret;
}

int dns_upstream_client_reply(const uint8_t *query, size_t qlen, bool tcp, const uint8_t *reply,
			      size_t len, uint32_t age, uint8_t *out, size_t cap, size_t *out_len)
{
	ldns_pkt *q = NULL, *up = NULL, *r = NULL;
	size_t limit;
	int ret = -EINVAL;

	if (ldns_wire2pkt(&q, query, qlen) != LDNS_STATUS_OK || ldns_pkt_qdcount(q) != 1 ||
	    ldns_wire2pkt(&up, reply, len) != LDNS_STATUS_OK)
		goto out;
	ret = -ENOMEM;
	r = relay_new(q, up, age);
	if (!r)
		goto out;
	limit = tcp ? DNS_ANSWER_TCP_MAX : client_udp_size(q);
	ret = encode(r, limit, out, cap, out_len);
	if (ret == -ENOSPC && !tcp && *out_len > limit) {
		truncate_pkt(r);
		ret = encode(r, limit, out, cap, out_len);
	}
out:
	ldns_pkt_free(q);
	ldns_pkt_free(up);
	ldns_pkt_free(r);
	return ret;
}

int dns_upstream_servfail(const uint8_t *query, size_t qlen, uint8_t *out, size_t cap,
			  size_t *out_len)
{
	ldns_pkt *q = NULL, *r = NULL;
	int ret = -EINVAL;

	if (ldns_wire2pkt(&q, query, qlen) != LDNS_STATUS_OK || ldns_pkt_qdcount(q) != 1)
		goto out;
	ret = -ENOMEM;
	r = response_new(q, ldns_pkt_edns_do(q));
	if (!r)
		goto out;
	ldns_pkt_set_rcode(r, LDNS_RCODE_SERVFAIL);
	ret = encode(r, DNS_ANSWER_TCP_MAX, out, cap, out_len);
out:
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	return ret;
}

/* ---- resolv.conf ---- */

static bool is_own_or_local(const union sockaddr_inet *sa)
{
	union sockaddr_inet own4, own6;
	static const uint8_t any6[16];

	if (sockaddr_parse(&own4, DNS_RESOLVER_V4 ":53") < 0 ||
	    sockaddr_parse(&own6, "[" DNS_RESOLVER_V6 "]:53") < 0)
		return true;
	if (sa->sa.sa_family == AF_INET) {
		const uint8_t *a = (const uint8_t *)&sa->in.sin_addr;
		return a[0] == 127 || sa->in.sin_addr.s_addr == 0 ||
		       sa->in.sin_addr.s_addr == own4.in.sin_addr.s_addr;
	}
	return IN6_IS_ADDR_LOOPBACK(&sa->in6.sin6_addr) ||
	       memcmp(&sa->in6.sin6_addr, any6, 16) == 0 ||
	       memcmp(&sa->in6.sin6_addr, &own6.in6.sin6_addr, 16) == 0;
}

/* The address of a "nameserver" line's value, port 53; false if none. */
static bool nameserver_parse(const char *text, union sockaddr_inet *out)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai = NULL;
	bool ok;

	if (getaddrinfo(text, "53", &hints, &ai) != 0)
		return false;
	ok = ai->ai_addrlen <= sizeof(*out) &&
	     (ai->ai_family == AF_INET || ai->ai_family == AF_INET6);
	if (ok) {
		memset(out, 0, sizeof(*out));
		memcpy(out, ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(ai);
	return ok;
}

int dns_upstream_resolv_conf(const char *path, union sockaddr_inet *out, size_t cap, size_t *n)
{
	FILE *f = fopen(path, "re");
	char line[512], key[16], value[128];

	*n = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		union sockaddr_inet sa;

		if (sscanf(line, " %15s %127s", key, value) != 2 || strcmp(key, "nameserver") != 0)
			continue;
		if (*n < cap && nameserver_parse(value, &sa) && !is_own_or_local(&sa))
			out[(*n)++] = sa;
	}
	fclose(f);
	return 0;
}
