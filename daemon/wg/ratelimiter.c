/*
 * Handshake rate limiter: fixed-size hash table of token buckets, one per
 * source (IPv4 address or IPv6 /64), chained through entry indices so that
 * nothing is allocated after init. A link (chain head, entry->next,
 * free_head) holds an entry's index + 1 and 0 ends a chain, so the zeroed
 * table calloc() returns is already empty: init writes none of it, and a
 * page of it becomes resident only when a source is stored there.
 *
 * Token bucket (as Linux): a new source starts with TOKEN_MAX - PACKET_COST
 * (its first packet is charged), tokens grow by elapsed nanoseconds up to
 * TOKEN_MAX, and a packet passes if it can pay PACKET_COST.
 */
#include "wg/ratelimiter.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RATELIMITER_NONE 0

struct ratelimiter_entry {
	uint64_t key;     /* IPv4 address or the first 8 bytes of an IPv6 address */
	uint64_t last_ns; /* time of the last packet */
	uint64_t tokens;  /* 0 .. RATELIMITER_TOKEN_MAX */
	uint32_t next;    /* link to the next entry on the chain or free list */
	uint8_t family;
};

_Static_assert(crypto_shorthash_KEYBYTES == RATELIMITER_SECRET_LEN, "SipHash key size");
_Static_assert(crypto_shorthash_BYTES == 8, "SipHash output size");

int ratelimiter_init(struct ratelimiter *rl, size_t max_entries,
		     const uint8_t secret[RATELIMITER_SECRET_LEN])
{
	memset(rl, 0, sizeof(*rl));
	if (max_entries == 0 || max_entries > (1U << 31))
		return -EINVAL;

	size_t nbuckets = 1;
	while (nbuckets < max_entries)
		nbuckets <<= 1;
	rl->entries = calloc(max_entries, sizeof(*rl->entries));
	rl->buckets = calloc(nbuckets, sizeof(*rl->buckets));
	if (!rl->entries || !rl->buckets) {
		ratelimiter_deinit(rl);
		return -ENOMEM;
	}
	rl->bucket_mask = (uint32_t)(nbuckets - 1);
	rl->max_entries = (uint32_t)max_entries;
	memcpy(rl->secret, secret, RATELIMITER_SECRET_LEN);
	return 0;
}

void ratelimiter_deinit(struct ratelimiter *rl)
{
	free(rl->entries);
	free(rl->buckets);
	sodium_memzero(rl, sizeof(*rl));
}

/* The key a source is limited by; false for an unsupported family. */
static bool source_key(int family, const uint8_t *addr, uint64_t *key)
{
	*key = 0;
	if (family == AF_INET)
		memcpy(key, addr, 4);
	else if (family == AF_INET6)
		memcpy(key, addr, 8); /* the /64 */
	else
		return false;
	return true;
}

static uint32_t bucket_of(const struct ratelimiter *rl, uint8_t family, uint64_t key)
{
	uint8_t in[9], out[crypto_shorthash_BYTES];
	uint64_t h;
	in[0] = family;
	memcpy(in + 1, &key, 8);
	crypto_shorthash(out, in, sizeof(in), rl->secret);
	memcpy(&h, out, sizeof(h));
	return (uint32_t)h & rl->bucket_mask;
}

static struct ratelimiter_entry *entry_at(const struct ratelimiter *rl, uint32_t link)
{
	return &rl->entries[link - 1];
}

static bool entry_idle(const struct ratelimiter_entry *e, uint64_t now_ns)
{
	return now_ns >= e->last_ns && now_ns - e->last_ns >= RATELIMITER_IDLE_NS;
}

/* Unlinks the entry at *link and returns it to the free list. */
static void entry_release(struct ratelimiter *rl, uint32_t *link)
{
	uint32_t released = *link;
	*link = entry_at(rl, released)->next;
	entry_at(rl, released)->next = rl->free_head;
	rl->free_head = released;
	rl->count--;
}

/* Charges one packet to e; the clock running backwards earns nothing. */
static bool entry_charge(struct ratelimiter_entry *e, uint64_t now_ns)
{
	uint64_t elapsed = now_ns > e->last_ns ? now_ns - e->last_ns : 0;
	uint64_t tokens = elapsed >= RATELIMITER_TOKEN_MAX - e->tokens ? RATELIMITER_TOKEN_MAX
								       : e->tokens + elapsed;
	bool ok = tokens >= RATELIMITER_PACKET_COST;
	e->tokens = ok ? tokens - RATELIMITER_PACKET_COST : tokens;
	if (now_ns > e->last_ns)
		e->last_ns = now_ns;
	return ok;
}

/* Takes a free slot for a new source (a released one, else one never
 * used), sweeping a full table at most once a second. Returns false if the
 * table stays full. */
static bool entry_add(struct ratelimiter *rl, uint32_t bucket, uint8_t family, uint64_t key,
		      uint64_t now_ns)
{
	if (rl->count == rl->max_entries &&
	    (!rl->gc_ran || now_ns - rl->last_gc_ns >= RATELIMITER_IDLE_NS))
		ratelimiter_gc(rl, now_ns);
	uint32_t link = rl->free_head;
	if (link != RATELIMITER_NONE)
		rl->free_head = entry_at(rl, link)->next;
	else if (rl->fresh < rl->max_entries)
		link = ++rl->fresh;
	else
		return false;

	struct ratelimiter_entry *e = entry_at(rl, link);
	e->key = key;
	e->family = family;
	e->last_ns = now_ns;
	e->tokens = RATELIMITER_TOKEN_MAX - RATELIMITER_PACKET_COST;
	e->next = rl->buckets[bucket];
	rl->buckets[bucket] = link;
	rl->count++;
	return true;
}

bool ratelimiter_allow(struct ratelimiter *rl, int family, const uint8_t *addr, uint64_t now_ns)
{
	uint64_t key;
	if (!source_key(family, addr, &key))
		return false;

	uint32_t bucket = bucket_of(rl, (uint8_t)family, key);
	uint32_t *link = &rl->buckets[bucket];
	while (*link != RATELIMITER_NONE) {
		struct ratelimiter_entry *e = entry_at(rl, *link);
		if (entry_idle(e, now_ns)) {
			/* Forgetting it is exact: its bucket would be full again. */
			entry_release(rl, link);
			continue;
		}
		if (e->key == key && e->family == family)
			return entry_charge(e, now_ns);
		link = &e->next;
	}
	return entry_add(rl, bucket, (uint8_t)family, key, now_ns);
}

/* The sweep ends once no entry is left: run every timer tick, it costs
 * nothing while the device is not under load. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns)
{
	for (uint32_t b = 0; rl->count && rl->buckets && b <= rl->bucket_mask; b++) {
		uint32_t *link = &rl->buckets[b];
		while (*link != RATELIMITER_NONE) {
			if (entry_idle(entry_at(rl, *link), now_ns))
				entry_release(rl, link);
			else
				link = &entry_at(rl, *link)->next;
		}
	}
	rl->last_gc_ns = now_ns;
	rl->gc_ran = true;
}

size_t ratelimiter_count(const struct ratelimiter *rl)
{
	return rl->count;
}
