/*
 * Fuzz harness for the mesh resolver's query path (dns_answer_local): the
 * first input byte picks the transport (bit 0: TCP) and the output cap
 * (bit 1: a small one of 300 bytes), the rest is the query datagram,
 * answered from the fixture zone (dns_testlib.h: members home and laptop,
 * a static record, a name with 32 addresses, the mesh networks of the
 * default config).
 *
 * Invariants beyond memory safety: shorter than a header or with QR set
 * is dropped; a reply fits the cap (and 1232 bytes over UDP), parses with
 * ldns, is a response with the query's ID, and has at most one question;
 * a forwarded query parses, holds exactly one IN question and is an
 * ordinary QUERY.
 *
 * Built with -DFUZZ_DNS_WRITE_SEEDS and a main of its own, it writes the
 * seed corpus (queries for each kind of answer, EDNS, errors) into a
 * directory:
 *   cc -Wno-unused-parameter -D_GNU_SOURCE -DFUZZ_DNS_WRITE_SEEDS -Idaemon -Itests \
 *     tests/fuzz/fuzz_dns_query.c tests/dns_testlib.c daemon/dns/zone.c \
 *     daemon/dns/answer.c daemon/netaddr.c -lldns
 *   ./a.out tests/fuzz/seeds/fuzz_dns_query
 */
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer.h"
#include "dns_testlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_zone *zone;

static void setup(void)
{
	if (!zone)
		zone = dns_test_zone(1);
}

static void check_reply(const uint8_t *q, const uint8_t *out, const struct dns_reply *r, size_t cap,
			bool tcp)
{
	ldns_pkt *pkt = NULL;

	if (r->len < LDNS_HEADER_SIZE || r->len > cap || (!tcp && r->len > DNS_ANSWER_EDNS_SIZE))
		abort();
	if (ldns_wire2pkt(&pkt, out, r->len) != LDNS_STATUS_OK)
		abort();
	if (!ldns_pkt_qr(pkt) || ldns_pkt_id(pkt) != LDNS_ID_WIRE(q) || ldns_pkt_qdcount(pkt) > 1)
		abort();
	if (ldns_pkt_tc(pkt) != r->truncated)
		abort();
	ldns_pkt_free(pkt);
}

static void check_forward(const uint8_t *q, size_t len)
{
	ldns_pkt *pkt = NULL;

	if (ldns_wire2pkt(&pkt, q, len) != LDNS_STATUS_OK)
		abort();
	if (ldns_pkt_qdcount(pkt) != 1 || ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY ||
	    ldns_rr_get_class(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)) != LDNS_RR_CLASS_IN)
		abort();
	ldns_pkt_free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_ANSWER_TCP_MAX];
	struct dns_reply r;
	enum dns_answer_verdict v;
	const uint8_t *q = data + 1;
	size_t len, cap;
	bool tcp;

	if (size < 1)
		return 0;
	setup();
	tcp = data[0] & 1;
	cap = data[0] & 2 ? 300 : sizeof(out);
	len = size - 1;
	v = dns_answer_local(zone, q, len, tcp ? DNS_TCP : DNS_UDP, out, cap, &r);
	if ((len < LDNS_HEADER_SIZE || LDNS_QR_WIRE(q)) && v != DNS_ANSWER_DROP)
		abort();
	if (v == DNS_ANSWER_REPLY)
		check_reply(q, out, &r, cap, tcp);
	else if (v == DNS_ANSWER_FORWARD)
		check_forward(q, len);
	else if (v != DNS_ANSWER_DROP)
		abort();
	return 0;
}

#ifdef FUZZ_DNS_WRITE_SEEDS
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

static void seed(const char *dir, const char *file, uint8_t flags, const char *name,
		 ldns_rr_type type, ldns_rr_class klass, int edns, ldns_pkt_opcode opcode)
{
	struct dns_test_query q = { .name = name,
				    .type = type,
				    .klass = klass,
				    .opcode = opcode,
				    .id = 0x4d47,
				    .rd = true,
				    .edns_size = edns,
				    .do_bit = edns != 0 };
	size_t len;
	uint8_t *wire = dns_test_query_wire(&q, &len);

	write_seed(dir, file, flags, wire, len);
	free(wire);
}

int main(int argc, char **argv)
{
	const char *d = argc > 1 ? argv[1] : ".";
	const ldns_rr_class in = LDNS_RR_CLASS_IN;
	static const uint8_t header_only[12] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01 };

	seed(d, "a", 0, "home.mesh.internal", LDNS_RR_TYPE_A, in, 0, LDNS_PACKET_QUERY);
	seed(d, "aaaa-tcp", 1, "laptop.mesh.internal", LDNS_RR_TYPE_AAAA, in, 0, LDNS_PACKET_QUERY);
	seed(d, "any-edns", 0, "Home.Mesh.Internal", LDNS_RR_TYPE_ANY, in, 4096, LDNS_PACKET_QUERY);
	seed(d, "nxdomain", 0, "nobody.mesh.internal", LDNS_RR_TYPE_A, in, 0, LDNS_PACKET_QUERY);
	seed(d, "nodata", 0, "switch.mesh.internal", LDNS_RR_TYPE_MX, in, 0, LDNS_PACKET_QUERY);
	seed(d, "apex-soa", 0, "mesh.internal", LDNS_RR_TYPE_SOA, in, 1232, LDNS_PACKET_QUERY);
	seed(d, "big-udp", 0, "big.mesh.internal", LDNS_RR_TYPE_AAAA, in, 0, LDNS_PACKET_QUERY);
	seed(d, "big-edns-600", 0, "big.mesh.internal", LDNS_RR_TYPE_AAAA, in, 600,
	     LDNS_PACKET_QUERY);
	seed(d, "big-tcp-small-cap", 3, "big.mesh.internal", LDNS_RR_TYPE_AAAA, in, 0,
	     LDNS_PACKET_QUERY);
	seed(d, "ptr4", 0, "2.0.64.100.in-addr.arpa", LDNS_RR_TYPE_PTR, in, 0, LDNS_PACKET_QUERY);
	seed(d, "ptr6", 0,
	     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa",
	     LDNS_RR_TYPE_PTR, in, 0, LDNS_PACKET_QUERY);
	seed(d, "forward", 0, "example.com", LDNS_RR_TYPE_A, in, 1232, LDNS_PACKET_QUERY);
	seed(d, "chaos", 0, "version.bind", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0,
	     LDNS_PACKET_QUERY);
	seed(d, "notify", 0, "mesh.internal", LDNS_RR_TYPE_SOA, in, 0, LDNS_PACKET_NOTIFY);
	write_seed(d, "header-only", 0, header_only, sizeof(header_only));
	return 0;
}
#endif
