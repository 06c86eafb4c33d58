/*
 * A deliberately naive allowed-IPs table for differential tests: an unsorted
 * array of prefixes, longest match by scanning all of them. Shared by the
 * unit test and the fuzz harness; obviously correct rather than fast.
 */
#ifndef MESHGATE_TESTS_ALLOWEDIPS_REF_H
#define MESHGATE_TESTS_ALLOWEDIPS_REF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct ref_prefix {
	int family;
	uint8_t ip[16]; /* masked to cidr */
	uint8_t cidr;
	void *peer;
};

struct ref_table {
	struct ref_prefix *v;
	size_t n, cap;
};

static inline unsigned ref_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static inline void ref_mask(uint8_t *out, const uint8_t *ip, unsigned len, unsigned cidr)
{
	for (unsigned i = 0; i < len; i++) {
		unsigned have = cidr > 8 * i ? cidr - 8 * i : 0;
		uint8_t m = have >= 8 ? 0xff : (uint8_t)(0xff00 >> have);
		out[i] = ip[i] & m;
	}
	for (unsigned i = len; i < 16; i++)
		out[i] = 0;
}

static inline bool ref_covers(const struct ref_prefix *p, int family, const uint8_t *ip)
{
	uint8_t m[16];
	if (p->family != family)
		return false;
	ref_mask(m, ip, ref_bits(family) / 8, p->cidr);
	return memcmp(m, p->ip, 16) == 0;
}

static inline struct ref_prefix *ref_find(struct ref_table *t, int family, const uint8_t *ip,
					  uint8_t cidr)
{
	uint8_t m[16];
	ref_mask(m, ip, ref_bits(family) / 8, cidr);
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].family == family && t->v[i].cidr == cidr && !memcmp(t->v[i].ip, m, 16))
			return &t->v[i];
	return NULL;
}

static inline void ref_insert(struct ref_table *t, int family, const uint8_t *ip, uint8_t cidr,
			      void *peer)
{
	struct ref_prefix *p = ref_find(t, family, ip, cidr);
	if (p) {
		p->peer = peer;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		if (!t->v)
			abort();
	}
	p = &t->v[t->n++];
	p->family = family;
	ref_mask(p->ip, ip, ref_bits(family) / 8, cidr);
	p->cidr = cidr;
	p->peer = peer;
}

static inline int ref_remove(struct ref_table *t, int family, const uint8_t *ip, uint8_t cidr,
			     void *peer)
{
	struct ref_prefix *p = ref_find(t, family, ip, cidr);
	if (!p || p->peer != peer)
		return -1;
	*p = t->v[--t->n];
	return 0;
}

static inline void ref_remove_by_peer(struct ref_table *t, void *peer)
{
	for (size_t i = 0; i < t->n;)
		if (t->v[i].peer == peer)
			t->v[i] = t->v[--t->n];
		else
			i++;
}

static inline void *ref_lookup(const struct ref_table *t, int family, const uint8_t *ip)
{
	const struct ref_prefix *best = NULL;
	for (size_t i = 0; i < t->n; i++)
		if (ref_covers(&t->v[i], family, ip) && (!best || t->v[i].cidr > best->cidr))
			best = &t->v[i];
	return best ? best->peer : NULL;
}

/* Orders prefixes as allowedips_walk_by_peer promises: family (IPv4 first),
 * address, cidr. */
static inline int ref_cmp(const void *a, const void *b)
{
	const struct ref_prefix *x = a, *y = b;
	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	int c = memcmp(x->ip, y->ip, 16);
	if (c)
		return c;
	return (int)x->cidr - (int)y->cidr;
}

static inline void ref_free(struct ref_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

#endif
