/*
 * Fuzzes the allowed-IPs trie against the naive linear table: the input is a
 * program of inserts, removals, per-peer removals, lookups and walks over
 * addresses near a few fixed bases (so prefixes nest and split). Any
 * disagreement or broken trie invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips_ref.h"
#include "wg/allowedips.h"

static char peer_objs[4];

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint8_t next_byte(struct cursor *c)
{
	if (!c->left)
		return 0;
	c->left--;
	return *c->p++;
}

/* Family, address and cidr for one operation. Ops with raw set take the
 * address bytes from the input; the others flip up to two bits of a base. */
struct op_args {
	int family;
	uint8_t ip[16];
	uint8_t cidr;
	void *peer;
};

static void read_args(struct cursor *c, bool raw, struct op_args *a)
{
	static const uint8_t bases[4][16] = {
		{ 10, 0, 0, 0 },
		{ 192, 168, 1, 0 },
		{ 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 0x20, 0x01, 0x0d, 0xb8 },
	};
	uint8_t sel = next_byte(c);
	a->family = sel & 2 ? AF_INET6 : AF_INET;
	unsigned bits = ref_bits(a->family);
	memcpy(a->ip, bases[sel & 3], 16);
	if (a->family == AF_INET)
		memset(a->ip + 4, 0, 12);
	if (raw) {
		for (unsigned i = 0; i < bits / 8; i++)
			a->ip[i] = next_byte(c);
	} else {
		for (unsigned k = 0; k < ((sel >> 2) & 3); k++) {
			unsigned bit = next_byte(c) % bits;
			a->ip[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		}
	}
	a->cidr = (uint8_t)(next_byte(c) % (bits + 1));
	a->peer = &peer_objs[(sel >> 4) & 3];
}

static void check_lookup(const struct allowedips *t, const struct ref_table *ref, int family,
			 const uint8_t *ip)
{
	if (allowedips_lookup(t, family, ip) != ref_lookup(ref, family, ip))
		abort();
}

struct walk_cmp {
	const struct ref_prefix *want;
	size_t n, at;
};

static int walk_step(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	struct walk_cmp *w = ctx;
	if (w->at >= w->n)
		abort();
	const struct ref_prefix *p = &w->want[w->at++];
	if (p->family != family || p->cidr != cidr || memcmp(p->ip, ip, ref_bits(family) / 8))
		abort();
	return 0;
}

static void check_walk(const struct allowedips *t, const struct ref_table *ref, void *peer)
{
	struct ref_prefix *want = malloc((ref->n + 1) * sizeof(*want));
	struct walk_cmp w = { want, 0, 0 };
	if (!want)
		abort();
	for (size_t i = 0; i < ref->n; i++)
		if (ref->v[i].peer == peer)
			want[w.n++] = ref->v[i];
	qsort(want, w.n, sizeof(*want), ref_cmp);
	if (allowedips_walk_by_peer(t, peer, walk_step, &w) != 0 || w.at != w.n)
		abort();
	free(want);
}

static void run_op(struct cursor *c, struct allowedips *t, struct ref_table *ref)
{
	struct op_args a;
	uint8_t op = next_byte(c) % 8;
	read_args(c, op == 7, &a);
	switch (op) {
	case 0:
	case 1:
	case 2:
	case 7:
		ref_insert(ref, a.family, a.ip, a.cidr, a.peer);
		if (allowedips_insert(t, a.family, a.ip, a.cidr, a.peer) != 0)
			abort();
		break;
	case 3:
		if ((allowedips_remove(t, a.family, a.ip, a.cidr, a.peer) == 0) !=
		    (ref_remove(ref, a.family, a.ip, a.cidr, a.peer) == 0))
			abort();
		break;
	case 4:
		ref_remove_by_peer(ref, a.peer);
		allowedips_remove_by_peer(t, a.peer);
		break;
	case 6:
		check_walk(t, ref, a.peer);
		break;
	default:
		break;
	}
	if (!allowedips_check(t) || allowedips_count(t) != ref->n)
		abort();
	check_lookup(t, ref, a.family, a.ip);
	/* The last address of the prefix written in the op. */
	for (unsigned b = a.cidr; b < ref_bits(a.family); b++)
		a.ip[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	check_lookup(t, ref, a.family, a.ip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct allowedips t;
	struct ref_table ref = { 0 };
	allowedips_init(&t);
	while (c.left)
		run_op(&c, &t, &ref);
	for (unsigned i = 0; i < 4; i++)
		check_walk(&t, &ref, &peer_objs[i]);
	allowedips_free(&t);
	ref_free(&ref);
	return 0;
}
