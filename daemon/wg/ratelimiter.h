/*
 * Per-source rate limit for handshake initiations received under load
 * (as Linux ratelimiter.c): a token bucket per source of RATELIMITER_PACKETS_
 * PER_SECOND with a burst of RATELIMITER_PACKETS_BURST. IPv4 sources are keyed
 * by the full address, IPv6 by the /64 (one host usually owns a whole /64).
 *
 * The table is allocated once at init and never grows: when it is full, new
 * sources are refused until idle entries (1 s without a packet) are collected,
 * as Linux does. Call ratelimiter_gc() about once a second; as a backstop,
 * ratelimiter_allow() sweeps a full table itself, at most once a second, and
 * drops idle entries it meets on its hash chain.
 *
 * Buckets are chosen by SipHash-2-4 (crypto_shorthash) keyed with a secret
 * given at init, so a remote sender cannot aim its sources at one chain.
 * Not thread-safe: the owner serialises calls. Time is injected (monotonic ns).
 */
#ifndef MESHGATE_WG_RATELIMITER_H
#define MESHGATE_WG_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timeutil.h"

enum ratelimiter_values {
	RATELIMITER_PACKETS_PER_SECOND = 20,
	RATELIMITER_PACKETS_BURST = 5,
	RATELIMITER_SECRET_LEN = 16 /* crypto_shorthash_KEYBYTES */
};

/* Tokens are nanoseconds of credit: one packet costs 1/PACKETS_PER_SECOND s. */
#define RATELIMITER_PACKET_COST (NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND)
#define RATELIMITER_TOKEN_MAX   (RATELIMITER_PACKET_COST * RATELIMITER_PACKETS_BURST)
/* An entry this long without a packet is idle and may be collected; by then
 * its bucket would be full again, so forgetting it changes no decision. */
#define RATELIMITER_IDLE_NS NSEC_PER_SEC

struct ratelimiter_entry;

struct ratelimiter {
	struct ratelimiter_entry *entries; /* max_entries slots */
	uint32_t *buckets;                 /* chain heads: entry index + 1, 0 none */
	uint32_t bucket_mask;              /* buckets - 1, a power of two minus one */
	uint32_t max_entries;
	uint32_t count;     /* entries in use */
	uint32_t free_head; /* released slots, chained through entry->next */
	uint32_t fresh;     /* entries[fresh..] were never used */
	uint64_t last_gc_ns;
	bool gc_ran;
	uint8_t secret[RATELIMITER_SECRET_LEN];
};

/* Allocates a table of max_entries sources (1 .. 2^31), zeroed and not
 * written: its pages become resident as sources fill it. The secret keys
 * the bucket hash; draw it from a CSPRNG. Returns 0, -EINVAL or -ENOMEM. */
int ratelimiter_init(struct ratelimiter *rl, size_t max_entries,
		     const uint8_t secret[RATELIMITER_SECRET_LEN])
    __attribute__((warn_unused_result));

/* Frees the table and wipes the secret. Safe on a zeroed struct. */
void ratelimiter_deinit(struct ratelimiter *rl);

/* True if a packet from this source may be processed now (and charges it).
 * family AF_INET (addr 4 bytes) or AF_INET6 (16 bytes); other families are
 * refused. No allocation. */
bool ratelimiter_allow(struct ratelimiter *rl, int family, const uint8_t *addr, uint64_t now_ns);

/* Drops every entry idle for RATELIMITER_IDLE_NS or more. O(table size). */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns);

/* Sources currently tracked. */
size_t ratelimiter_count(const struct ratelimiter *rl);

#endif
