/* The mesh resolver's test fixtures; see dns_testlib.h. */
#include "dns_testlib.h"

#include <stdlib.h>
#include <string.h>

uint8_t *dns_test_query_wire(const struct dns_test_query *q, size_t *len)
{
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL;
	ldns_status st = ldns_pkt_query_new_frm_str(
	    &pkt, q->name, q->type, q->klass ? q->klass : LDNS_RR_CLASS_IN, q->rd ? LDNS_RD : 0);

	if (st != LDNS_STATUS_OK)
		abort();
	ldns_pkt_set_id(pkt, q->id);
	ldns_pkt_set_opcode(pkt, q->opcode);
	ldns_pkt_set_cd(pkt, q->cd);
	if (q->edns_size) {
		ldns_pkt_set_edns_udp_size(pkt, (uint16_t)q->edns_size);
		ldns_pkt_set_edns_do(pkt, q->do_bit);
		ldns_pkt_set_edns_version(pkt, q->edns_version);
	}
	if (ldns_pkt2wire(&wire, pkt, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(pkt);
	return wire;
}

size_t dns_test_query_into(const struct dns_test_query *q, uint8_t *out, size_t cap)
{
	size_t len;
	uint8_t *wire = dns_test_query_wire(q, &len);

	if (len > cap)
		abort();
	memcpy(out, wire, len);
	free(wire);
	return len;
}

struct prefix dns_test_prefix(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

struct dns_zone *dns_test_zone(uint32_t serial)
{
	static struct prefix home[2], laptop[2], sw[1], big[DNS_NAME_ADDRS_MAX], mesh[2];
	static struct dns_zone_name names[3 + DNS_NAME_ADDRS_MAX];
	struct dns_zone_spec spec = { .mesh = mesh, .n_mesh = 2, .serial = serial };
	struct dns_zone *z;
	size_t n = 0;

	home[0] = dns_test_prefix("100.64.0.1");
	home[1] = dns_test_prefix("fd7a:6d67:7465::1");
	laptop[0] = dns_test_prefix("100.64.0.2");
	laptop[1] = dns_test_prefix("fd7a:6d67:7465::2");
	sw[0] = dns_test_prefix("192.168.77.2");
	mesh[0] = dns_test_prefix("100.64.0.0/10");
	mesh[1] = dns_test_prefix("fd7a:6d67:7465::/48");
	names[n++] = (struct dns_zone_name){ "home", home, 2, true, 0 };
	names[n++] = (struct dns_zone_name){ "laptop", laptop, 2, true, 0 };
	names[n++] = (struct dns_zone_name){ "switch", sw, 1, false, 0 };
	for (size_t i = 0; i < DNS_NAME_ADDRS_MAX; i++) {
		big[i] = dns_test_prefix("2001:db8::");
		big[i].addr[15] = (uint8_t)(i + 1);
		names[n++] = (struct dns_zone_name){ "big", &big[i], 1, false, 0 };
	}
	if (dns_zone_build(&spec, names, n, &z, NULL) < 0)
		abort();
	return z;
}
