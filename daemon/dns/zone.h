/*
 * The mesh's name table: "<name>.<domain>" -> A/AAAA for every node, stock
 * device and static record, and mesh address -> name for PTR. Pure data,
 * built in one go from plain inputs (dns/meshzone.h: from the node's mesh
 * view) and read-only afterwards: a new netmap builds a new zone.
 *
 * Names are single DNS labels (RFC 1035 LDH: letters, digits and '-', 1 to
 * 63, no '-' first or last), kept in lower case and looked up without regard
 * to case. A node or device (a member) is named by dns_label_from_name() of
 * its name ("my_laptop" -> "my-laptop", "a.b" -> "a-b"); one whose name
 * gives no label ("_") is left out, counted as invalid and listed as
 * skipped. A static record whose name is not a label is left out and
 * counted as invalid.
 *
 * Duplicates (same label): a member always wins over a static record, so a
 * record cannot take a member's name; between members the lower id wins
 * (a node's registry id; members without one, devices, come after every
 * node), then the name in byte order, then input order; the losers are
 * listed as skipped, with the winner. Every node of a mesh so picks the
 * same holder. Static records of one name merge into one name with all
 * their addresses (an address repeated is kept once).
 *
 * Memory is bounded: at most DNS_ZONE_NAMES_MAX names (inputs past it are
 * dropped, in input order, so members come before records),
 * DNS_NAME_ADDRS_MAX addresses per name and DNS_ZONE_ADDRS_MAX in all:
 * about 150 bytes per name and 60 per address, some 1.1 MB at the caps,
 * and 192 bytes per input for the list of skipped members.
 * Lookups are binary searches in sorted arrays (O(log n)).
 */
#ifndef MESHGATE_DNS_ZONE_H
#define MESHGATE_DNS_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

enum {
	DNS_LABEL_MAX = 63,
	/* A label, a dot and the domain fit in a name of 253 characters. */
	DNS_DOMAIN_MAX = 253 - DNS_LABEL_MAX - 1,
	DNS_ZONE_NAMES_MAX = 4096,
	DNS_NAME_ADDRS_MAX = 32,
	DNS_ZONE_ADDRS_MAX = 8192,
	/* TTL of every answer and of the synthesized SOA (also its minimum,
	 * so negative answers are cached as long). */
	DNS_ZONE_TTL = 60,
};

#define DNS_DEFAULT_DOMAIN "mesh.internal"
/* The resolver's addresses on every node; the allocator never hands them
 * out (mesh/alloc.c). */
#define DNS_RESOLVER_V4 "100.100.100.100"
#define DNS_RESOLVER_V6 "fd7a:6d67:7465::53"
/* The default IPv6 mesh network, which holds DNS_RESOLVER_V6. */
#define DNS_RESOLVER_NET6 "fd7a:6d67:7465::/48"

/* A static record: a name (a DNS label) and one IPv4 or IPv6 address. */
struct dns_record {
	char name[DNS_LABEL_MAX + 1];
	struct prefix address; /* host address; len is ignored */
};

/* One input name. member: a node or device (wins duplicates). id: a
 * node's registry id, 0 for none (see the top for duplicates). */
struct dns_zone_name {
	const char *name;
	const struct prefix *addresses; /* host addresses; len is ignored */
	size_t n_addresses;
	bool member;
	uint32_t id;
};

/* The zone's own facts. mesh: the mesh networks, whose reverse space is
 * the zone's (dns_zone_reverse_find()). */
struct dns_zone_spec {
	const char *domain; /* NULL: DNS_DEFAULT_DOMAIN */
	const struct prefix *mesh;
	size_t n_mesh;   /* at most 2 are kept */
	uint32_t serial; /* the SOA serial, e.g. the netmap's version */
};

/* What a build took and left out. */
struct dns_zone_stats {
	size_t names, addresses;
	size_t invalid;   /* names that are not a DNS label */
	size_t duplicate; /* names taken by a member first */
	size_t over_cap;  /* names and addresses past the caps */
};

struct dns_zone_entry {
	char name[DNS_LABEL_MAX + 1];   /* lower case */
	char source[DNS_LABEL_MAX + 1]; /* the member's name it is from */
	bool member;
	uint32_t first, n; /* its addresses in the zone's table */
};

/* A member left without a DNS name. holder empty: its name gives no label;
 * else the member holding the label. */
struct dns_zone_skip {
	char name[DNS_LABEL_MAX + 1];
	char label[DNS_LABEL_MAX + 1];
	char holder[DNS_LABEL_MAX + 1];
};

struct dns_zone;

/* Whether text[0..len) is one DNS label (LDH, 1 to 63, no '-' at an end). */
bool dns_label_valid(const char *text, size_t len);

/* The DNS label of a member's name: lower case, each run of characters
 * outside [a-z0-9-] one '-', no '-' at either end, at most DNS_LABEL_MAX
 * characters. Returns its length, 0 when nothing is left. */
size_t dns_label_from_name(const char *name, char out[DNS_LABEL_MAX + 1]);

/* Whether domain is one or more labels joined by dots, at most
 * DNS_DOMAIN_MAX characters; one final dot is allowed. */
bool dns_domain_valid(const char *domain);

/*
 * Builds a zone from spec and names (see the top of this file for
 * duplicates and caps). Returns 0 and a new zone in *out (release with
 * dns_zone_free()), -EINVAL for an invalid domain, or -ENOMEM. stats may be
 * NULL.
 */
int dns_zone_build(const struct dns_zone_spec *spec, const struct dns_zone_name *names, size_t n,
		   struct dns_zone **out, struct dns_zone_stats *stats)
    __attribute__((warn_unused_result));

/* NULL-safe. */
void dns_zone_free(struct dns_zone *zone);

/* The domain, lower case, without a final dot. */
const char *dns_zone_domain(const struct dns_zone *zone);
uint32_t dns_zone_serial(const struct dns_zone *zone);
size_t dns_zone_count(const struct dns_zone *zone);

/* The entry for label[0..len) (any case), or NULL. */
const struct dns_zone_entry *dns_zone_lookup(const struct dns_zone *zone, const char *label,
					     size_t len);

/* The members left without a name (*n of them), in input order. */
const struct dns_zone_skip *dns_zone_skipped(const struct dns_zone *zone, size_t *n);

/* Why a member was skipped, as a phrase for status and logs. */
void dns_zone_skip_reason(const struct dns_zone_skip *skip, char *out, size_t len);

/* The label a member of that name holds in the zone, or NULL. */
const char *dns_zone_member_label(const struct dns_zone *zone, const char *name);

/* The entry's addresses (*n of them), IPv4 and IPv6 mixed. */
const struct prefix *dns_zone_addresses(const struct dns_zone *zone,
					const struct dns_zone_entry *entry, size_t *n);

/* The name an address belongs to (a member's before a record's), or NULL. */
const struct dns_zone_entry *dns_zone_lookup_addr(const struct dns_zone *zone, int family,
						  const uint8_t *addr);

/* Whether the address is in one of the zone's mesh networks. */
bool dns_zone_is_mesh(const struct dns_zone *zone, int family, const uint8_t *addr);

/*
 * The address a reverse name stands for: "d.c.b.a.in-addr.arpa" (four
 * decimal labels 0-255 without leading zeros) or the 32 hex nibbles of
 * ip6.arpa, any case, with or without a final dot. false for anything else
 * (a partial reverse name among them).
 */
bool dns_reverse_parse(const char *name, int *family, uint8_t addr[16]);

/* A label of a name: text[0..len), no dots between labels. */
struct dns_label {
	const char *text;
	size_t len;
};

/*
 * The mesh's reverse space: a reverse zone for each mesh network and for
 * fd7a:6d67:7465::/48 (DNS_RESOLVER_V6's), its apexes cut at the octet
 * (IPv4) or nibble (IPv6) boundary at or below the network's length, so a
 * zone holds mesh addresses only: 100.64.0.0/10 has the 64 apexes
 * "64.100.in-addr.arpa" to "127.100.in-addr.arpa" (RFC 6598's, RFC 7793's
 * locally served zones); fd7a:6d67:7465::/48 has "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa".
 * Where a name lies in it (RFC 8020: a name is empty when nothing lies
 * below it):
 */
enum dns_reverse_kind {
	DNS_REVERSE_OUTSIDE, /* under no mesh reverse zone: forwarded */
	DNS_REVERSE_APEX,    /* a zone's apex */
	DNS_REVERSE_INNER,   /* part of an address with a name below */
	DNS_REVERSE_EMPTY,   /* part of an address without, or not an address */
	DNS_REVERSE_ADDRESS, /* a whole address (with a name or not) */
};

enum { DNS_REVERSE_APEX_MAX = 80 }; /* 32 nibbles and "ip6.arpa" */

struct dns_reverse {
	enum dns_reverse_kind kind;
	int family;
	uint8_t addr[16];                /* DNS_REVERSE_ADDRESS: the address */
	char apex[DNS_REVERSE_APEX_MAX]; /* not OUTSIDE: the zone's, lower case, no final dot */
};

/*
 * Where the name of labels[0..n) (leftmost first, no root label; any case)
 * lies in the zone's reverse space, with its apex. Octets are decimal
 * without leading zeros, nibbles one hex digit; past the apex, a label
 * that is neither, or one too many, makes the name EMPTY.
 */
enum dns_reverse_kind dns_zone_reverse_find(const struct dns_zone *zone,
					    const struct dns_label *labels, size_t n,
					    struct dns_reverse *out);

#endif
