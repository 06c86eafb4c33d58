/*
 * The forwarder's answer cache; see cache.h. A chained hash table (FNV-1a
 * of the key, a power of two of buckets, at least the entry cap) and a
 * doubly linked LRU list, most recent first. Responses are read with ldns
 * only to decide their TTL.
 */
#include "dns/cache.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

enum { NS_PER_S = 1000000000 };

struct entry {
	struct dns_cache_key key;
	uint32_t hash;
	uint32_t ttl;
	uint64_t stored_ns;
	struct entry *chain;       /* next in the bucket */
	struct entry *prev, *next; /* LRU: prev is more recent */
	size_t len;
	uint8_t *reply;
};

struct dns_cache {
	struct entry **buckets;
	size_t n_buckets; /* a power of two */
	struct entry *head, *tail;
	size_t max_entries, max_bytes;
	struct dns_cache_stats stats;
};

static uint32_t key_hash(const struct dns_cache_key *k)
{
	uint32_t h = 2166136261u;
	uint8_t tail[5] = { (uint8_t)(k->qtype >> 8), (uint8_t)k->qtype, (uint8_t)(k->qclass >> 8),
			    (uint8_t)k->qclass, (uint8_t)(k->do_bit | k->cd_bit << 1) };

	for (size_t i = 0; i < k->name_len; i++)
		h = (h ^ k->name[i]) * 16777619u;
	for (size_t i = 0; i < sizeof(tail); i++)
		h = (h ^ tail[i]) * 16777619u;
	return h;
}

static bool key_equal(const struct dns_cache_key *a, const struct dns_cache_key *b)
{
	return a->name_len == b->name_len && a->qtype == b->qtype && a->qclass == b->qclass &&
	       a->do_bit == b->do_bit && a->cd_bit == b->cd_bit &&
	       memcmp(a->name, b->name, a->name_len) == 0;
}

static size_t entry_bytes(const struct entry *e)
{
	return e->len + DNS_CACHE_ENTRY_OVERHEAD;
}

struct dns_cache *dns_cache_new(size_t max_entries, size_t max_bytes)
{
	struct dns_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->max_entries = max_entries ? max_entries : DNS_CACHE_ENTRIES_DEFAULT;
	c->max_bytes = max_bytes ? max_bytes : DNS_CACHE_BYTES_DEFAULT;
	c->n_buckets = 16;
	while (c->n_buckets < c->max_entries)
		c->n_buckets *= 2;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	return c;
}

/* ---- the list and the table ---- */

static void lru_unlink(struct dns_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct dns_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_remove(struct dns_cache *c, struct entry *e)
{
	struct entry **p = &c->buckets[e->hash & (c->n_buckets - 1)];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	lru_unlink(c, e);
	c->stats.entries--;
	c->stats.bytes -= entry_bytes(e);
	free(e->reply);
	free(e);
}

static struct entry *entry_find(const struct dns_cache *c, const struct dns_cache_key *key,
				uint32_t hash)
{
	struct entry *e = c->buckets[hash & (c->n_buckets - 1)];

	while (e && !(e->hash == hash && key_equal(&e->key, key)))
		e = e->chain;
	return e;
}

static bool entry_expired(const struct entry *e, uint64_t now_ns)
{
	return now_ns - e->stored_ns >= (uint64_t)e->ttl * NS_PER_S;
}

void dns_cache_flush(struct dns_cache *c)
{
	while (c && c->head)
		entry_remove(c, c->head);
}

void dns_cache_free(struct dns_cache *c)
{
	if (!c)
		return;
	dns_cache_flush(c);
	free(c->buckets);
	free(c);
}

/* ---- keys and TTLs ---- */

int dns_cache_key_of(const uint8_t *query, size_t len, struct dns_cache_key *key)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *name = NULL;
	const ldns_rr *q;
	int ret = -EINVAL;

	if (ldns_wire2pkt(&pkt, query, len) != LDNS_STATUS_OK || ldns_pkt_qdcount(pkt) != 1)
		goto out;
	q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	name = ldns_rdf_clone(ldns_rr_owner(q));
	if (!name || ldns_rdf_size(name) > DNS_CACHE_NAME_MAX)
		goto out;
	ldns_dname2canonical(name);
	memset(key, 0, sizeof(*key));
	memcpy(key->name, ldns_rdf_data(name), ldns_rdf_size(name));
	key->name_len = (uint8_t)ldns_rdf_size(name);
	key->qtype = ldns_rr_get_type(q);
	key->qclass = ldns_rr_get_class(q);
	key->do_bit = ldns_pkt_edns_do(pkt);
	key->cd_bit = ldns_pkt_cd(pkt);
	ret = 0;
out:
	ldns_rdf_deep_free(name);
	ldns_pkt_free(pkt);
	return ret;
}

static uint32_t min_ttl(const ldns_rr_list *list)
{
	uint32_t ttl = UINT32_MAX;

	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		uint32_t t = ldns_rr_ttl(ldns_rr_list_rr(list, i));

		ttl = t < ttl ? t : ttl;
	}
	return ttl;
}

/* RFC 2308 s. 5: a negative answer lives min(SOA TTL, SOA MINIMUM). */
static uint32_t negative_ttl(const ldns_pkt *pkt)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		const ldns_rdf *minimum = ldns_rr_rdf(rr, 6);
		uint32_t ttl = ldns_rr_ttl(rr), min;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || !minimum ||
		    ldns_rdf_size(minimum) != 4)
			continue;
		min = ldns_rdf2native_int32(minimum);
		return min < ttl ? min : ttl;
	}
	return 0;
}

uint32_t dns_cache_ttl(const uint8_t *reply, size_t len)
{
	ldns_pkt *pkt = NULL;
	uint32_t ttl = 0;

	if (ldns_wire2pkt(&pkt, reply, len) != LDNS_STATUS_OK || ldns_pkt_tc(pkt) ||
	    !ldns_pkt_qr(pkt) || ldns_pkt_edns_extended_rcode(pkt))
		goto out;
	if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(pkt))
		ttl = min_ttl(ldns_pkt_answer(pkt));
	else if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR ||
		 ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN)
		ttl = negative_ttl(pkt);
	if (ttl > DNS_CACHE_TTL_MAX)
		ttl = DNS_CACHE_TTL_MAX;
out:
	ldns_pkt_free(pkt);
	return ttl;
}

/* ---- store and look up ---- */

/* Evicts from the LRU end until one more entry of bytes fits. */
static void make_room(struct dns_cache *c, size_t bytes, uint64_t now_ns)
{
	while (c->tail &&
	       (c->stats.entries + 1 > c->max_entries || c->stats.bytes + bytes > c->max_bytes)) {
		if (entry_expired(c->tail, now_ns))
			c->stats.expired++;
		else
			c->stats.evictions++;
		entry_remove(c, c->tail);
	}
}

int dns_cache_put(struct dns_cache *c, const struct dns_cache_key *key, const uint8_t *reply,
		  size_t len, uint64_t now_ns)
{
	uint32_t hash = key_hash(key), ttl = dns_cache_ttl(reply, len);
	struct entry *e, *old;

	if (!ttl)
		return -ENOENT;
	if (len + DNS_CACHE_ENTRY_OVERHEAD > c->max_bytes / 8)
		return -E2BIG;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->reply = malloc(len))) {
		free(e);
		return -ENOMEM;
	}
	old = entry_find(c, key, hash);
	if (old)
		entry_remove(c, old);
	e->key = *key;
	e->hash = hash;
	e->ttl = ttl;
	e->stored_ns = now_ns;
	e->len = len;
	memcpy(e->reply, reply, len);
	make_room(c, entry_bytes(e), now_ns);
	e->chain = c->buckets[hash & (c->n_buckets - 1)];
	c->buckets[hash & (c->n_buckets - 1)] = e;
	lru_push_front(c, e);
	c->stats.entries++;
	c->stats.bytes += entry_bytes(e);
	return 0;
}

const uint8_t *dns_cache_get(struct dns_cache *c, const struct dns_cache_key *key, uint64_t now_ns,
			     size_t *len, uint32_t *age)
{
	struct entry *e = entry_find(c, key, key_hash(key));

	if (e && entry_expired(e, now_ns)) {
		c->stats.expired++;
		entry_remove(c, e);
		e = NULL;
	}
	if (!e) {
		c->stats.misses++;
		return NULL;
	}
	c->stats.hits++;
	lru_unlink(c, e);
	lru_push_front(c, e);
	*len = e->len;
	*age = (uint32_t)((now_ns - e->stored_ns) / NS_PER_S);
	return e->reply;
}

void dns_cache_get_stats(const struct dns_cache *c, struct dns_cache_stats *stats)
{
	*stats = c->stats;
}
