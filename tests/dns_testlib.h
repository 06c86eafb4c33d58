/*
 * The mesh resolver's test fixtures, shared by its unit tests, its fuzz
 * harnesses and dns_loopback: the fixed zone they answer from, and queries
 * built with ldns.
 */
#ifndef MESHGATE_TESTS_DNS_TESTLIB_H
#define MESHGATE_TESTS_DNS_TESTLIB_H

/* stdbool.h before ldns: without it ldns/common.h makes bool a signed char. */
#include <stdbool.h>
#include <ldns/ldns.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/zone.h"

/* A query; zero fields are the defaults. */
struct dns_test_query {
	const char *name;
	ldns_rr_type type;
	ldns_rr_class klass;    /* 0: IN */
	ldns_pkt_opcode opcode; /* 0: QUERY */
	uint16_t id;
	bool rd, cd;
	int edns_size; /* 0: no OPT */
	bool do_bit;
	uint8_t edns_version;
};

/* The query's wire form (free() it), its length in *len; aborts when ldns
 * cannot build it. */
uint8_t *dns_test_query_wire(const struct dns_test_query *q, size_t *len);

/* As dns_test_query_wire() into out; aborts past cap. Returns the length. */
size_t dns_test_query_into(const struct dns_test_query *q, uint8_t *out, size_t cap);

/* prefix_parse() that aborts on bad text. */
struct prefix dns_test_prefix(const char *text);

/*
 * The fixture zone: members home (100.64.0.1, fd7a:6d67:7465::1) and
 * laptop (100.64.0.2, fd7a:6d67:7465::2), the records switch
 * (192.168.77.2) and big (32 IPv6 addresses, 2001:db8::1 to ::20), the
 * default domain, the mesh networks 100.64.0.0/10 and fd7a:6d67:7465::/48.
 * Release with dns_zone_free(); aborts when it cannot be built.
 */
struct dns_zone *dns_test_zone(uint32_t serial);

#endif
