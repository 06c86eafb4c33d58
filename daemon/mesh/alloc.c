/*
 * Host addresses and node names for new nodes; see alloc.h.
 *
 * A host number is the part of an address after the network prefix. For the
 * mesh prefixes (IPv4 up to 22 host bits, IPv6 /48 and the like) only the
 * low 64 bits matter: a host number that does not fit in 64 bits lies beyond
 * any address that would ever be handed out, so it cannot block one.
 */
#include "mesh/alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/zone.h"

/* The highest host number of net that may be allocated (0: none). */
static uint64_t max_host(const struct prefix *net)
{
	unsigned bits = (unsigned)addr_len(net->family) * 8 - net->len;

	if (net->family == AF_INET)
		return bits < 2 ? 0 : (UINT64_C(1) << bits) - 2; /* no broadcast */
	return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* The host number of addr within net, saturated at UINT64_MAX. */
static uint64_t host_number(const struct prefix *net, const uint8_t *addr)
{
	size_t len = addr_len(net->family);
	unsigned host_bits = (unsigned)len * 8 - net->len;
	uint64_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned bit = (unsigned)(len - 1 - i) * 8; /* of this byte's lowest bit */
		uint8_t byte = addr[i];

		if (bit >= host_bits)
			continue;
		if (bit + 8 > host_bits)
			byte &= (uint8_t)((1u << (host_bits - bit)) - 1);
		if (bit >= 64) {
			if (byte)
				return UINT64_MAX;
			continue;
		}
		n |= (uint64_t)byte << bit;
	}
	return n;
}

static void set_host_number(struct prefix *out, const struct prefix *net, uint64_t n)
{
	size_t len = addr_len(net->family);

	*out = *net;
	prefix_mask(out);
	for (size_t i = 0; i < 8 && i < len; i++)
		out->addr[len - 1 - i] |= (uint8_t)(n >> (8 * i));
	out->len = (uint8_t)(len * 8);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Adds the host numbers of the resolver's addresses that lie in net. */
static size_t add_reserved(const struct prefix *net, uint64_t *hosts, size_t n)
{
	static const char *const reserved[] = { DNS_RESOLVER_V4, DNS_RESOLVER_V6 };
	struct prefix r;

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (prefix_parse(&r, reserved[i]) == 0 &&
		    prefix_contains_addr(net, r.family, r.addr))
			hosts[n++] = host_number(net, r.addr);
	return n;
}

int alloc_host_address(const struct prefix *net, const struct prefix *used, size_t n_used,
		       struct prefix *out)
{
	uint64_t max = 0, next = 1, *hosts;
	size_t n = 0;

	if (net->family != AF_INET && net->family != AF_INET6)
		return -EINVAL;
	max = max_host(net);
	hosts = malloc((n_used + 2) * sizeof(*hosts));
	if (!hosts)
		return -ENOMEM;
	for (size_t i = 0; i < n_used; i++)
		if (prefix_contains_addr(net, used[i].family, used[i].addr))
			hosts[n++] = host_number(net, used[i].addr);
	n = add_reserved(net, hosts, n);
	qsort(hosts, n, sizeof(*hosts), cmp_u64);
	/* The first gap in the sorted host numbers, counting from 1. */
	for (size_t i = 0; i < n && hosts[i] <= next; i++)
		if (hosts[i] == next)
			next++;
	free(hosts);
	if (next > max || next == 0)
		return -ENOSPC;
	set_host_number(out, net, next);
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

bool alloc_name_numeric(const char *name)
{
	return name[strspn(name, "0123456789.")] == '\0';
}

bool alloc_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > ALLOC_NAME_MAX || alloc_name_numeric(name))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i]))
			return false;
	return true;
}

static void sanitise_name(const char *wanted, char out[ALLOC_NAME_MAX + 1])
{
	char text[ALLOC_NAME_MAX + 1];
	size_t n = 0;

	for (; wanted && wanted[n] && n < ALLOC_NAME_MAX; n++)
		text[n] = name_char(wanted[n]) ? wanted[n] : '-';
	text[n] = '\0';
	if (n == 0)
		strcpy(out, "node");
	else if (alloc_name_numeric(text))
		snprintf(out, ALLOC_NAME_MAX + 1, "node-%.*s", ALLOC_NAME_MAX - 5, text);
	else
		strcpy(out, text);
}

void alloc_unique_name(const char *wanted, bool (*taken)(void *ctx, const char *name), void *ctx,
		       char out[ALLOC_NAME_MAX + 1])
{
	char base[ALLOC_NAME_MAX + 1], suffix[24];

	sanitise_name(wanted, base);
	strcpy(out, base);
	for (unsigned long k = 2; taken(ctx, out); k++) {
		int slen = snprintf(suffix, sizeof(suffix), "-%lu", k);
		int keep = (int)strlen(base);

		if (keep > ALLOC_NAME_MAX - slen)
			keep = ALLOC_NAME_MAX - slen;
		snprintf(out, ALLOC_NAME_MAX + 1, "%.*s%s", keep, base, suffix);
	}
}
