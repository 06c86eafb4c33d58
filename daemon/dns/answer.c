/*
 * Local answers of the mesh resolver; see answer.h. A query is parsed by
 * ldns into the facts below, the answer is planned as RR lists, then
 * encoded by ldns into the caller's buffer: whole when it fits the
 * transport's limit, else with TC and the question alone.
 */
#include "dns/answer.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	SOA_REFRESH = 3600,
	SOA_RETRY = 600,
	SOA_EXPIRE = 86400,
	NAME_TEXT_MAX = 256,
};

/* What the response copies from the query. */
struct query_facts {
	uint16_t id;
	unsigned opcode;
	bool rd, cd;
	const ldns_pkt *pkt;     /* NULL: the query did not parse */
	const ldns_rr *question; /* NULL unless exactly one */
	bool edns, do_bit;
	uint16_t udp_size;
};

/* The planned response. */
struct plan {
	unsigned rcode;
	bool aa;
	ldns_rr_list *answer, *authority;
};

/* ---- records ---- */

/* A new record owned by owner (taken over), class IN, TTL DNS_ZONE_TTL. */
static ldns_rr *rr_new(ldns_rdf *owner, ldns_rr_type type)
{
	ldns_rr *rr = owner ? ldns_rr_new() : NULL;

	if (!rr) {
		ldns_rdf_deep_free(owner);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_ZONE_TTL);
	return rr;
}

/* Adds rdf (taken over) to rr; frees rr and returns NULL on failure. */
static ldns_rr *rr_push(ldns_rr *rr, ldns_rdf *rdf)
{
	if (rr && rdf && ldns_rr_push_rdf(rr, rdf))
		return rr;
	ldns_rdf_deep_free(rdf);
	ldns_rr_free(rr);
	return NULL;
}

/* Appends rr (taken over) to list; false when rr is NULL or no memory. */
static bool list_add(ldns_rr_list *list, ldns_rr *rr)
{
	if (rr && ldns_rr_list_push_rr(list, rr))
		return true;
	ldns_rr_free(rr);
	return false;
}

static ldns_rdf *dname(const char *prefix, const char *name)
{
	char text[NAME_TEXT_MAX];

	if ((size_t)snprintf(text, sizeof(text), "%s%s.", prefix, name) >= sizeof(text))
		return NULL;
	return ldns_dname_new_frm_str(text);
}

static ldns_rr *rr_address(const ldns_rdf *owner, const struct prefix *a)
{
	bool v4 = a->family == AF_INET;
	ldns_rr *rr = rr_new(ldns_rdf_clone(owner), v4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);

	return rr_push(rr, ldns_rdf_new_frm_data(v4 ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
						 v4 ? 4 : 16, a->addr));
}

/* The synthesized SOA of apex (a zone name without the final dot). */
static ldns_rr *rr_soa(const struct dns_zone *zone, const char *apex)
{
	const char *domain = dns_zone_domain(zone);
	ldns_rr *rr = rr_new(dname("", apex), LDNS_RR_TYPE_SOA);

	rr = rr_push(rr, dname("", domain));
	rr = rr_push(rr, dname("hostmaster.", domain));
	rr = rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, dns_zone_serial(zone)));
	rr = rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, SOA_REFRESH));
	rr = rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, SOA_RETRY));
	rr = rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, SOA_EXPIRE));
	return rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, DNS_ZONE_TTL));
}

/* ---- planning ---- */

static bool wants(ldns_rr_type qtype, ldns_rr_type type)
{
	return qtype == type || qtype == LDNS_RR_TYPE_ANY;
}

/* The addresses of the wanted family (both for ANY); false: no memory. */
static bool add_addresses(struct plan *pl, const ldns_rdf *owner, ldns_rr_type qtype,
			  const struct prefix *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ldns_rr_type type = addrs[i].family == AF_INET ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;

		if (wants(qtype, type) && !list_add(pl->answer, rr_address(owner, &addrs[i])))
			return false;
	}
	return true;
}

/* Negative answers carry the SOA of apex; an empty answer is NODATA. */
static bool add_negative(struct plan *pl, const struct dns_zone *zone, const char *apex)
{
	if (ldns_rr_list_rr_count(pl->answer))
		return true;
	return list_add(pl->authority, rr_soa(zone, apex));
}

/* The SOA and NS of a zone's apex (a name without the final dot). */
static bool add_soa_ns(struct plan *pl, const struct dns_zone *zone, const ldns_rdf *qname,
		       ldns_rr_type qtype, const char *apex)
{
	bool ok = true;

	if (wants(qtype, LDNS_RR_TYPE_SOA))
		ok = list_add(pl->answer, rr_soa(zone, apex));
	if (ok && wants(qtype, LDNS_RR_TYPE_NS))
		ok = list_add(pl->answer, rr_push(rr_new(ldns_rdf_clone(qname), LDNS_RR_TYPE_NS),
						  dname("", dns_zone_domain(zone))));
	return ok;
}

static bool plan_apex(struct plan *pl, const struct dns_zone *zone, const ldns_rdf *qname,
		      ldns_rr_type qtype)
{
	const char *domain = dns_zone_domain(zone);
	struct prefix resolver[2];
	bool ok = prefix_parse(&resolver[0], DNS_RESOLVER_V4) == 0 &&
		  prefix_parse(&resolver[1], DNS_RESOLVER_V6) == 0;

	ok = ok && add_soa_ns(pl, zone, qname, qtype, domain) &&
	     add_addresses(pl, qname, qtype, resolver, 2);
	return ok && add_negative(pl, zone, domain);
}

/* A name under the domain; extra: its labels below the domain. */
static bool plan_name(struct plan *pl, const struct dns_zone *zone, const ldns_rdf *qname,
		      ldns_rr_type qtype, unsigned extra)
{
	const struct dns_zone_entry *e = NULL;
	ldns_rdf *label = extra == 1 ? ldns_dname_label(qname, 0) : NULL;
	const struct prefix *addrs;
	size_t n;

	if (label && ldns_rdf_size(label) > 1)
		e = dns_zone_lookup(zone, (const char *)ldns_rdf_data(label) + 1,
				    ldns_rdf_data(label)[0]);
	ldns_rdf_deep_free(label);
	if (!e) {
		pl->rcode = LDNS_RCODE_NXDOMAIN;
		return add_negative(pl, zone, dns_zone_domain(zone));
	}
	addrs = dns_zone_addresses(zone, e, &n);
	return add_addresses(pl, qname, qtype, addrs, n) &&
	       add_negative(pl, zone, dns_zone_domain(zone));
}

/* A name in the mesh's reverse space (see dns_zone_reverse_find()). */
static bool plan_reverse(struct plan *pl, const struct dns_zone *zone, const ldns_rdf *qname,
			 ldns_rr_type qtype, const struct dns_reverse *rev)
{
	const struct dns_zone_entry *e = NULL;
	char target[NAME_TEXT_MAX];

	if (rev->kind == DNS_REVERSE_ADDRESS)
		e = dns_zone_lookup_addr(zone, rev->family, rev->addr);
	if (rev->kind == DNS_REVERSE_EMPTY || (rev->kind == DNS_REVERSE_ADDRESS && !e))
		pl->rcode = LDNS_RCODE_NXDOMAIN;
	else if (rev->kind == DNS_REVERSE_APEX && !add_soa_ns(pl, zone, qname, qtype, rev->apex))
		return false;
	else if (e && wants(qtype, LDNS_RR_TYPE_PTR)) {
		snprintf(target, sizeof(target), "%s.", e->name);
		if (!list_add(pl->answer, rr_push(rr_new(ldns_rdf_clone(qname), LDNS_RR_TYPE_PTR),
						  dname(target, dns_zone_domain(zone)))))
			return false;
	}
	return add_negative(pl, zone, rev->apex);
}

/* Where qname lies in the mesh's reverse space. */
static enum dns_reverse_kind reverse_find(const struct dns_zone *zone, const ldns_rdf *qname,
					  struct dns_reverse *rev)
{
	struct dns_label labels[LDNS_MAX_DOMAINLEN / 2 + 1];
	const uint8_t *d = ldns_rdf_data(qname);
	size_t size = ldns_rdf_size(qname), i = 0, n = 0;

	while (i < size && d[i] && n < sizeof(labels) / sizeof(labels[0]) && i + 1 + d[i] <= size) {
		labels[n++] = (struct dns_label){ (const char *)d + i + 1, d[i] };
		i += 1 + (size_t)d[i];
	}
	if (i >= size || d[i]) {
		memset(rev, 0, sizeof(*rev));
		return rev->kind = DNS_REVERSE_OUTSIDE;
	}
	return dns_zone_reverse_find(zone, labels, n, rev);
}

/* Zone transfers: there is no zone to transfer. */
static bool transfer(ldns_rr_type qtype)
{
	return qtype == LDNS_RR_TYPE_AXFR || qtype == LDNS_RR_TYPE_IXFR;
}

/* Plans the answer to a well-formed IN query; DNS_ANSWER_FORWARD when the
 * name is not ours, DNS_ANSWER_DROP when out of memory. */
static enum dns_answer_verdict plan_query(struct plan *pl, const struct dns_zone *zone,
					  const ldns_rr *question)
{
	const ldns_rdf *qname = ldns_rr_owner(question);
	ldns_rr_type qtype = ldns_rr_get_type(question);
	ldns_rdf *apex = ldns_dname_new_frm_str(dns_zone_domain(zone));
	enum dns_answer_verdict v = DNS_ANSWER_REPLY;
	struct dns_reverse rev;
	bool ok;

	if (!apex)
		return DNS_ANSWER_DROP;
	pl->aa = true;
	reverse_find(zone, qname, &rev);
	if (transfer(qtype) &&
	    (ldns_dname_compare(qname, apex) == 0 || ldns_dname_is_subdomain(qname, apex) ||
	     rev.kind != DNS_REVERSE_OUTSIDE)) {
		pl->aa = false;
		pl->rcode = LDNS_RCODE_REFUSED;
		ok = true;
	} else if (ldns_dname_compare(qname, apex) == 0)
		ok = plan_apex(pl, zone, qname, qtype);
	else if (ldns_dname_is_subdomain(qname, apex))
		ok = plan_name(pl, zone, qname, qtype,
			       ldns_dname_label_count(qname) - ldns_dname_label_count(apex));
	else if (rev.kind != DNS_REVERSE_OUTSIDE)
		ok = plan_reverse(pl, zone, qname, qtype, &rev);
	else
		ok = true, v = DNS_ANSWER_FORWARD;
	ldns_rdf_deep_free(apex);
	return ok ? v : DNS_ANSWER_DROP;
}

/* ---- the query ---- */

/* The header's facts, then the parsed packet's when it parses. */
static ldns_pkt *read_query(const uint8_t *q, size_t len, struct query_facts *f)
{
	ldns_pkt *pkt = NULL;

	memset(f, 0, sizeof(*f));
	f->id = LDNS_ID_WIRE(q);
	f->opcode = LDNS_OPCODE_WIRE(q);
	f->rd = LDNS_RD_WIRE(q);
	f->cd = LDNS_CD_WIRE(q);
	if (ldns_wire2pkt(&pkt, q, len) != LDNS_STATUS_OK) {
		ldns_pkt_free(pkt);
		return NULL;
	}
	f->pkt = pkt;
	if (ldns_pkt_qdcount(pkt) == 1 && ldns_rr_list_rr_count(ldns_pkt_question(pkt)) == 1)
		f->question = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	f->edns = ldns_pkt_edns(pkt);
	f->do_bit = ldns_pkt_edns_do(pkt);
	f->udp_size = ldns_pkt_edns_udp_size(pkt);
	return pkt;
}

/* Decides the rcode before any name is looked at; 0: go on. */
static unsigned check_query(const struct query_facts *f)
{
	if (!f->pkt)
		return f->opcode == LDNS_PACKET_QUERY ? LDNS_RCODE_FORMERR : LDNS_RCODE_NOTIMPL;
	if (f->opcode != LDNS_PACKET_QUERY)
		return LDNS_RCODE_NOTIMPL;
	if (!f->question)
		return LDNS_RCODE_FORMERR;
	if (f->edns && ldns_pkt_edns_version(f->pkt) != 0)
		return DNS_RCODE_BADVERS;
	if (ldns_rr_get_class(f->question) != LDNS_RR_CLASS_IN)
		return LDNS_RCODE_REFUSED;
	return 0;
}

/* ---- the response ---- */

/* Copies rr into section of pkt. */
static bool push_one(ldns_pkt *pkt, ldns_pkt_section section, const ldns_rr *rr)
{
	ldns_rr *copy = ldns_rr_clone(rr);

	if (copy && ldns_pkt_push_rr(pkt, section, copy))
		return true;
	ldns_rr_free(copy);
	return false;
}

static bool push_all(ldns_pkt *pkt, ldns_pkt_section section, const ldns_rr_list *list)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++)
		if (!push_one(pkt, section, ldns_rr_list_rr(list, i)))
			return false;
	return true;
}

static void set_header(ldns_pkt *r, const struct query_facts *f, const struct plan *pl, bool tc)
{
	ldns_pkt_set_id(r, f->id);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, (ldns_pkt_opcode)f->opcode);
	ldns_pkt_set_aa(r, pl->aa);
	ldns_pkt_set_tc(r, tc);
	ldns_pkt_set_rd(r, f->rd);
	ldns_pkt_set_cd(r, f->cd);
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_rcode(r, (uint8_t)(pl->rcode & 0xf));
	if (f->edns) {
		ldns_pkt_set_edns_udp_size(r, DNS_ANSWER_EDNS_SIZE);
		ldns_pkt_set_edns_version(r, 0);
		ldns_pkt_set_edns_do(r, f->do_bit);
		ldns_pkt_set_edns_extended_rcode(r, (uint8_t)(pl->rcode >> 4));
	}
}

/* The response's wire form (free() it) in *wire; tc: the question alone. */
static bool encode(const struct query_facts *f, const struct plan *pl, bool tc, uint8_t **wire,
		   size_t *len)
{
	ldns_pkt *r = ldns_pkt_new();
	bool ok = r != NULL;

	*wire = NULL;
	if (ok) {
		set_header(r, f, pl, tc);
		if (f->question)
			ok = push_one(r, LDNS_SECTION_QUESTION, f->question);
	}
	if (ok && !tc)
		ok = push_all(r, LDNS_SECTION_ANSWER, pl->answer) &&
		     push_all(r, LDNS_SECTION_AUTHORITY, pl->authority);
	if (ok)
		ok = ldns_pkt2wire(wire, r, len) == LDNS_STATUS_OK;
	ldns_pkt_free(r);
	return ok;
}

static size_t size_limit(const struct query_facts *f, enum dns_transport transport, size_t cap)
{
	size_t limit = DNS_ANSWER_TCP_MAX;

	if (transport == DNS_UDP) {
		limit = f->edns ? f->udp_size : DNS_ANSWER_UDP_MIN;
		if (limit < DNS_ANSWER_UDP_MIN)
			limit = DNS_ANSWER_UDP_MIN;
		if (limit > DNS_ANSWER_EDNS_SIZE)
			limit = DNS_ANSWER_EDNS_SIZE;
	}
	return limit < cap ? limit : cap;
}

static enum dns_answer_verdict respond(const struct query_facts *f, const struct plan *pl,
				       size_t limit, uint8_t *out, struct dns_reply *reply)
{
	uint8_t *wire = NULL;
	size_t len = 0;
	bool tc = false;

	if (encode(f, pl, false, &wire, &len) && len > limit) {
		free(wire);
		tc = true;
		if (!encode(f, pl, true, &wire, &len))
			len = 0;
	}
	if (!wire || len == 0 || len > limit) {
		free(wire);
		return DNS_ANSWER_DROP;
	}
	memcpy(out, wire, len);
	free(wire);
	*reply = (struct dns_reply){
		.len = len, .rcode = pl->rcode, .truncated = tc, .authoritative = pl->aa
	};
	return DNS_ANSWER_REPLY;
}

enum dns_answer_verdict dns_answer_local(const struct dns_zone *zone, const uint8_t *query,
					 size_t len, enum dns_transport transport, uint8_t *out,
					 size_t cap, struct dns_reply *reply)
{
	struct plan pl = { .answer = ldns_rr_list_new(), .authority = ldns_rr_list_new() };
	enum dns_answer_verdict v = DNS_ANSWER_DROP;
	struct dns_reply unused;
	struct query_facts f;
	ldns_pkt *pkt = NULL;

	if (!reply)
		reply = &unused;
	memset(reply, 0, sizeof(*reply));
	if (!query || len < LDNS_HEADER_SIZE || LDNS_QR_WIRE(query) || !pl.answer || !pl.authority)
		goto out;
	pkt = read_query(query, len, &f);
	pl.rcode = check_query(&f);
	v = pl.rcode ? DNS_ANSWER_REPLY : plan_query(&pl, zone, f.question);
	if (v == DNS_ANSWER_REPLY)
		v = respond(&f, &pl, size_limit(&f, transport, cap), out, reply);
out:
	ldns_rr_list_deep_free(pl.answer);
	ldns_rr_list_deep_free(pl.authority);
	ldns_pkt_free(pkt);
	return v;
}
