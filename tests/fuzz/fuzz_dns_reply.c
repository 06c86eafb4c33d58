/*
 * Fuzz harness for the forwarder's upstream-reply path (dns/upstream.h,
 * dns/cache.h): the input after the first byte is a datagram arriving for
 * an outstanding query ("Example.COM" A, sent upstream with ID 0xbeef on
 * behalf of a client whose ID is 0x4d47). The first byte: bit 0 writes the
 * sent ID over the datagram's first two bytes (so matches are reachable),
 * bit 1 the client came over TCP, bit 2 its query had an OPT with DO, bits
 * 3-7 the age in seconds of a cached copy.
 *
 * Invariants beyond memory safety: a datagram dns_upstream_match() takes
 * has the sent ID, QR, parses and holds the question sent (checked here
 * with ldns on its own); only such a datagram makes a client response, and
 * that response parses, carries the client's ID and its question byte for
 * byte, an OPT only when the client sent one, and fits the client's UDP
 * size unless over TCP; a cached copy comes back whole and is never kept
 * longer than a day.
 *
 * Built with -DFUZZ_DNS_WRITE_SEEDS and a main of its own, it writes the
 * seed corpus into a directory:
 *   cc -Wno-unused-parameter -D_GNU_SOURCE -DFUZZ_DNS_WRITE_SEEDS -Idaemon -Itests \
 *     tests/fuzz/fuzz_dns_reply.c tests/dns_testlib.c daemon/dns/upstream.c \
 *     daemon/dns/cache.c daemon/dns/zone.c daemon/netaddr.c -lldns
 *   ./a.out tests/fuzz/seeds/fuzz_dns_reply
 */
/* stdbool.h before ldns: without it ldns/common.h makes bool a signed char. */
#include <stdbool.h>
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer.h"
#include "dns/cache.h"
#include "dns/upstream.h"
#include "dns_testlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { CLIENT_ID = 0x4d47, SENT_ID = 0xbeef, MAX_REPLY = 65535 };

static size_t query_wire(uint16_t id, bool edns, uint8_t *out)
{
	struct dns_test_query q = { .name = "Example.COM.",
				    .type = LDNS_RR_TYPE_A,
				    .id = id,
				    .rd = true,
				    .edns_size = edns ? 1232 : 0,
				    .do_bit = edns };

	return dns_test_query_into(&q, out, 512);
}

static void check_match(const uint8_t *reply, size_t len)
{
	ldns_pkt *pkt = NULL;
	const ldns_rr *q;

	if (len < LDNS_HEADER_SIZE || LDNS_ID_WIRE(reply) != SENT_ID || !LDNS_QR_WIRE(reply))
		abort();
	if (ldns_wire2pkt(&pkt, reply, len) != LDNS_STATUS_OK || ldns_pkt_qdcount(pkt) != 1)
		abort();
	q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (ldns_rr_get_type(q) != LDNS_RR_TYPE_A || ldns_rr_get_class(q) != LDNS_RR_CLASS_IN ||
	    ldns_rdf_size(ldns_rr_owner(q)) != 13 ||
	    strncasecmp((const char *)ldns_rdf_data(ldns_rr_owner(q)), "\007example\003com", 12))
		abort();
	ldns_pkt_free(pkt);
}

static void check_client(const uint8_t *client, size_t clen, bool edns, bool tcp,
			 const uint8_t *out, size_t len)
{
	ldns_pkt *pkt = NULL;

	if (ldns_wire2pkt(&pkt, out, len) != LDNS_STATUS_OK)
		abort();
	if (ldns_pkt_id(pkt) != CLIENT_ID || !ldns_pkt_qr(pkt) || ldns_pkt_qdcount(pkt) != 1 ||
	    ldns_pkt_edns(pkt) != edns || (!tcp && len > DNS_ANSWER_EDNS_SIZE) ||
	    (!tcp && !edns && len > DNS_ANSWER_UDP_MIN))
		abort();
	/* the question as the client wrote it: header, then name, type, class */
	if (memcmp(out + LDNS_HEADER_SIZE, client + LDNS_HEADER_SIZE, 13 + 4) != 0)
		abort();
	ldns_pkt_free(pkt);
}

static void check_cache(const uint8_t *client, size_t clen, const uint8_t *reply, size_t len)
{
	struct dns_cache *cache = dns_cache_new(4, 1 << 20);
	struct dns_cache_key key;
	const uint8_t *hit;
	size_t hit_len;
	uint32_t age, ttl = dns_cache_ttl(reply, len);

	if (!cache || dns_cache_key_of(client, clen, &key) < 0 || ttl > DNS_CACHE_TTL_MAX)
		abort();
	if (dns_cache_put(cache, &key, reply, len, 1) == 0) {
		hit = dns_cache_get(cache, &key, 1, &hit_len, &age);
		if (!ttl || !hit || hit_len != len || memcmp(hit, reply, len) != 0 || age != 0)
			abort();
	}
	dns_cache_free(cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t reply[MAX_REPLY], out[MAX_REPLY];
	uint8_t client[512], sent[512];
	size_t clen, slen, len, out_len;
	bool tcp, edns;
	uint32_t age;
	enum dns_upstream_match m;

	if (size < 1 || size - 1 > MAX_REPLY)
		return 0;
	tcp = data[0] & 2;
	edns = data[0] & 4;
	age = data[0] >> 3;
	clen = query_wire(CLIENT_ID, edns, client);
	slen = query_wire(SENT_ID, edns, sent);
	len = size - 1;
	memcpy(reply, data + 1, len);
	if ((data[0] & 1) && len >= 2)
		ldns_write_uint16(reply, SENT_ID);

	m = dns_upstream_match(sent, slen, reply, len);
	if (m == DNS_UPSTREAM_MISMATCH)
		return 0;
	check_match(reply, len);
	if (m == DNS_UPSTREAM_TRUNCATED && !LDNS_TC_WIRE(reply))
		abort();
	if (dns_upstream_client_reply(client, clen, tcp, reply, len, age, out, sizeof(out),
				      &out_len) == 0)
		check_client(client, clen, edns, tcp, out, out_len);
	check_cache(client, clen, reply, len);
	return 0;
}

#ifdef FUZZ_DNS_WRITE_SEEDS
enum seed_kind { S_ANSWER, S_NXDOMAIN, S_SERVFAIL, S_TC, S_BIG, S_OTHER_NAME };

static void write_seed(const char *dir, const char *name, uint8_t flags, const uint8_t *wire,
		       size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(&flags, 1, 1, f) != 1 || fwrite(wire, 1, len, f) != len)
		abort();
	fclose(f);
}

static void add(ldns_pkt *r, ldns_pkt_section s, const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_push_rr(r, s, rr);
}

static void seed(const char *dir, const char *file, uint8_t flags, enum seed_kind kind, uint16_t id,
		 bool edns)
{
	const char *qname = kind == S_OTHER_NAME ? "example.org." : "example.com.";
	ldns_pkt *r = NULL;
	uint8_t *wire = NULL;
	size_t len;

	if (ldns_pkt_query_new_frm_str(&r, qname, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD) !=
	    LDNS_STATUS_OK)
		abort();
	ldns_pkt_set_id(r, id);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_ra(r, true);
	if (edns) {
		ldns_pkt_set_edns_udp_size(r, 1232);
		ldns_pkt_set_edns_do(r, true);
	}
	if (kind == S_ANSWER || kind == S_OTHER_NAME)
		add(r, LDNS_SECTION_ANSWER, "example.com. 300 IN A 192.0.2.1");
	if (kind == S_NXDOMAIN) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
		add(r, LDNS_SECTION_AUTHORITY, "com. 900 IN SOA a.nic.com. h.com. 1 2 3 4 60");
	}
	if (kind == S_SERVFAIL)
		ldns_pkt_set_rcode(r, LDNS_RCODE_SERVFAIL);
	if (kind == S_TC)
		ldns_pkt_set_tc(r, true);
	for (int i = 0; kind == S_BIG && i < 120; i++) {
		char text[128];
		snprintf(text, sizeof(text), "example.com. 60 IN A 198.51.100.%d", i);
		add(r, LDNS_SECTION_ANSWER, text);
	}
	if (ldns_pkt2wire(&wire, r, &len) != LDNS_STATUS_OK)
		abort();
	write_seed(dir, file, flags, wire, len);
	free(wire);
	ldns_pkt_free(r);
}

int main(int argc, char **argv)
{
	const char *d = argc > 1 ? argv[1] : ".";
	static const uint8_t header_only[12] = { 0xbe, 0xef, 0x81, 0x80 };

	seed(d, "answer", 0, S_ANSWER, SENT_ID, false);
	seed(d, "answer-aged-tcp", 0x2a, S_ANSWER, SENT_ID, false);
	seed(d, "answer-edns", 4, S_ANSWER, SENT_ID, true);
	seed(d, "wrong-id", 0, S_ANSWER, 0x1234, false);
	seed(d, "wrong-id-patched", 1, S_ANSWER, 0x1234, false);
	seed(d, "other-name", 0, S_OTHER_NAME, SENT_ID, false);
	seed(d, "nxdomain", 4, S_NXDOMAIN, SENT_ID, true);
	seed(d, "servfail", 0, S_SERVFAIL, SENT_ID, false);
	seed(d, "tc", 0, S_TC, SENT_ID, false);
	seed(d, "big-udp", 0, S_BIG, SENT_ID, false);
	seed(d, "big-tcp", 2, S_BIG, SENT_ID, false);
	seed(d, "big-edns", 4, S_BIG, SENT_ID, true);
	write_seed(d, "header-only", 0, header_only, sizeof(header_only));
	write_seed(d, "garbage", 1, (const uint8_t *)"\x00\x00\x81\x80\xff\xff", 6);
	return 0;
}
#endif
