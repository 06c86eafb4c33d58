/*
 * The forwarder's answer cache: whole upstream responses kept for their
 * TTL, keyed by the question (qname in lower case, qtype, qclass) and the
 * query's DO and CD bits (CD apart, so data a validating upstream did not
 * check never answers a client that wants it checked). Pure: no sockets; the clock is the caller's
 * (ns of CLOCK_MONOTONIC).
 *
 * What is kept (dns_cache_ttl()), never longer than DNS_CACHE_TTL_MAX:
 *   NOERROR with answers     the smallest TTL of the answer section;
 *   NXDOMAIN, or NOERROR     the SOA of the authority section: the smaller
 *   without answers (NODATA) of its TTL and its MINIMUM (RFC 2308 s. 5);
 *                            without a SOA, nothing;
 * never SERVFAIL or any other rcode, a truncated (TC) response, or a TTL
 * of 0. Served responses carry their TTLs less the seconds since they were
 * stored (dns/upstream.h does that).
 *
 * Memory is bounded by both caps of dns_cache_new(): entries and bytes
 * (a response's length plus DNS_CACHE_ENTRY_OVERHEAD each); a response
 * longer than an eighth of the byte cap is not kept. The least recently
 * used entry is evicted first; an expired entry goes when it is next
 * looked up or reaches the end of the LRU list.
 */
#ifndef MESHGATE_DNS_CACHE_H
#define MESHGATE_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	DNS_CACHE_TTL_MAX = 86400,
	DNS_CACHE_ENTRIES_DEFAULT = 4096,
	DNS_CACHE_BYTES_DEFAULT = 4 << 20,
	DNS_CACHE_NAME_MAX = 255, /* a name in wire form */
	DNS_CACHE_ENTRY_OVERHEAD = 320,
};

struct dns_cache_key {
	uint8_t name[DNS_CACHE_NAME_MAX]; /* wire form, lower case */
	uint8_t name_len;
	uint16_t qtype, qclass;
	bool do_bit, cd_bit;
};

struct dns_cache_stats {
	uint64_t hits, misses;
	uint64_t evictions; /* live entries pushed out by the caps */
	uint64_t expired;   /* entries dropped because their TTL ran out */
	size_t entries, bytes;
};

struct dns_cache;

/* A new empty cache; 0 for a cap takes its default. NULL: no memory. */
struct dns_cache *dns_cache_new(size_t max_entries, size_t max_bytes);
/* NULL-safe. */
void dns_cache_free(struct dns_cache *cache);
/* Drops every entry (counted neither as evicted nor as expired). */
void dns_cache_flush(struct dns_cache *cache);

/* The key of query[0..len): 0, or -EINVAL when it does not parse or has
 * not exactly one question. */
int dns_cache_key_of(const uint8_t *query, size_t len, struct dns_cache_key *key)
    __attribute__((warn_unused_result));

/* How long reply[0..len) may be kept (seconds, at most DNS_CACHE_TTL_MAX);
 * 0 when it may not (see the top of this file). */
uint32_t dns_cache_ttl(const uint8_t *reply, size_t len);

/*
 * Keeps a copy of reply[0..len) under key from now_ns, replacing an entry
 * of the same key. Returns 0, -ENOENT when the reply is not to be cached
 * (dns_cache_ttl() is 0), -E2BIG when it is too long for the byte cap, or
 * -ENOMEM.
 */
int dns_cache_put(struct dns_cache *cache, const struct dns_cache_key *key, const uint8_t *reply,
		  size_t len, uint64_t now_ns);

/*
 * The live response under key at now_ns (a hit, counted), or NULL (a miss,
 * counted; an expired entry is dropped). *len is its length and *age the
 * whole seconds since it was stored. The bytes stay valid until the next
 * call that changes the cache.
 */
const uint8_t *dns_cache_get(struct dns_cache *cache, const struct dns_cache_key *key,
			     uint64_t now_ns, size_t *len, uint32_t *age);

void dns_cache_get_stats(const struct dns_cache *cache, struct dns_cache_stats *stats);

#endif
