/*
 * Allocation rules of the coordinator's registry, as pure functions: the
 * lowest free host address of a mesh prefix, and a unique node name.
 */
#ifndef MESHGATE_MESH_ALLOC_H
#define MESHGATE_MESH_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"

enum { ALLOC_NAME_MAX = 63 };

/*
 * The lowest free host address of net, as a host prefix (/32 or /128).
 * Hosts are numbered from 1 (the coordinator takes the first): the network
 * address never counts, and neither does the IPv4 broadcast address, so a
 * /30 holds two hosts and a /31 or /32 none. used lists the addresses taken
 * (their prefix lengths are ignored; addresses outside net are); the
 * resolver's addresses (DNS_RESOLVER_V4/V6, dns/zone.h) are never handed
 * out. Sorts a copy of the host numbers of used, so the cost is
 * O(n log n) in n_used whatever the size of net. Returns 0, -ENOSPC when net is full, -ENOMEM or
 * -EINVAL (net not AF_INET/AF_INET6).
 */
int alloc_host_address(const struct prefix *net, const struct prefix *used, size_t n_used,
		       struct prefix *out) __attribute__((warn_unused_result));

/* Whether name is made of digits and dots alone, so that it reads as a node
 * id ("3") or an IPv4 address: no node gets such a name, as names, ids and
 * addresses share the node arguments of the CLI and the config. */
bool alloc_name_numeric(const char *name);

/* Whether name may be a node's or a device's as it stands: 1 to 63
 * letters, digits, '-', '_' or '.', and not alloc_name_numeric(). */
bool alloc_name_valid(const char *name);

/*
 * A node name from wanted, following the config's rules for names (1 to 63
 * letters, digits, '-', '_' or '.', not digits and dots alone): any other
 * character becomes '-', an empty or NULL name becomes "node", a numeric
 * one gets the prefix "node-" ("3" is "node-3"), a longer one is cut. Then the first of
 * "name", "name-2", "name-3", ... for which taken() is false; the base is
 * shortened so that the suffix fits in 63 characters. taken() must be false
 * for some name, which holds for any finite set.
 */
void alloc_unique_name(const char *wanted, bool (*taken)(void *ctx, const char *name), void *ctx,
		       char out[ALLOC_NAME_MAX + 1]);

#endif
