/*
 * The mesh resolver's forwarder: a query that dns_answer_local() leaves
 * (DNS_ANSWER_FORWARD) is answered from the cache (dns/cache.h) or sent to
 * an upstream, asynchronously on the daemon's loop (no threads, no
 * blocking calls).
 *
 * Upstreams: a query whose name is a split domain or under one goes to that
 * domain's servers (the longest such domain wins), never to the default
 * list: a split domain without servers gets SERVFAIL at once; everything
 * else to the default list. Which list is which (the exit node's resolver, dns.upstream,
 * the resolv.conf of the start: dns_upstream_resolv_conf()) is the caller's
 * choice. Replacing the lists flushes the cache; queries in flight keep the
 * servers they were given.
 *
 * Each try: a fresh UDP socket connected to one server (so the kernel
 * takes datagrams only from it, and picks a random source port from the
 * ephemeral range), a new random 16-bit ID (never the client's), the
 * client's query otherwise unchanged (its OPT, DO bit included, goes
 * upstream). A reply counts only when dns_upstream_match() says it
 * answers what was sent; others are ignored and counted. A try lasts
 * try_ms; then the next server of the list (round robin, the first again
 * after the last) until total_ms from the query, then the client gets a
 * SERVFAIL built here. A SERVFAIL or REFUSED moves to the next server
 * while some server of the list has not been asked; the last one asked is
 * relayed. A socket error (ICMP unreachable) moves on at once. A reply
 * with TC set is asked again over TCP of the same server (non-blocking
 * connect, 2-byte length prefix, one response of at most 65,535 bytes)
 * within a fresh try_ms.
 *
 * The client gets dns_upstream_client_reply(): its ID and question back;
 * over UDP a response longer than its size is truncated here (TC, question
 * only), over TCP it is whole; the server adds the TCP length prefix. A
 * cached response is served with its TTLs less its age.
 */
#ifndef MESHGATE_DNS_FORWARD_H
#define MESHGATE_DNS_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "dns/cache.h"
#include "dns/upstream.h"
#include "dns/zone.h"

struct loop;

enum {
	DNS_FORWARD_TRY_MS = 2000,
	DNS_FORWARD_TOTAL_MS = 5000,
	DNS_FORWARD_INFLIGHT_DEFAULT = 256,
	DNS_FORWARD_SPLITS_MAX = 64,
};

/* 0 in a field takes its default. */
struct dns_forwarder_config {
	uint32_t try_ms, total_ms;
	uint32_t inflight_max; /* queries waiting for an upstream at once */
	size_t cache_entries, cache_bytes;
};

/* A domain (lower case, no final dot) and the servers of its queries.
 * ifname: the servers are reached only out of this interface (sockets
 * bound with SO_BINDTODEVICE: a route of the host's own to the same
 * addresses, a LAN that happens to use the same prefix, is not taken);
 * "": by the routing table. */
struct dns_split {
	char domain[DNS_DOMAIN_MAX + 1];
	union sockaddr_inet servers[DNS_UPSTREAM_MAX];
	size_t n_servers;
	char ifname[IFNAMSIZ];
};

struct dns_upstreams {
	union sockaddr_inet servers[DNS_UPSTREAM_MAX]; /* the default list */
	size_t n_servers;
	const struct dns_split *splits;
	size_t n_splits; /* at most DNS_FORWARD_SPLITS_MAX */
};

/* For /metrics; the cache's are copied in by dns_forwarder_get_stats(). */
struct dns_forward_stats {
	uint64_t queries;         /* taken by dns_forwarder_query() */
	uint64_t forwarded;       /* tries sent upstream over UDP */
	uint64_t tcp_fallbacks;   /* TC answers asked again over TCP */
	uint64_t timeouts;        /* tries without an answer in time */
	uint64_t upstream_errors; /* socket errors, SERVFAIL/REFUSED moved on */
	uint64_t mismatched;      /* replies ignored (ID, question, garbage) */
	uint64_t servfail_built;  /* no upstream answered in total_ms */
	uint64_t busy;            /* -EBUSY returns */
	uint64_t split_forwarded; /* queries of a split domain sent to its servers */
	uint64_t split_refused;   /* queries of a split domain without servers: SERVFAIL */
	uint64_t rcodes[16];      /* responses given, by header rcode */
	struct dns_cache_stats cache;
};

/*
 * The response for the query: reply[0..len) to send to the client as is
 * (over TCP with the length prefix in front). reply is NULL (len 0) only
 * when not even a SERVFAIL could be built (no memory): the caller drops.
 * The bytes are valid only during the call.
 */
typedef void (*dns_forward_done_fn)(void *ctx, const uint8_t *reply, size_t len);

struct dns_forwarder;

/* A new forwarder on loop with no upstreams (every query gets a SERVFAIL
 * until dns_forwarder_set_upstreams()); NULL: no memory. */
struct dns_forwarder *dns_forwarder_new(struct loop *loop,
					const struct dns_forwarder_config *config);
/* Closes every query in flight without calling done. NULL-safe. */
void dns_forwarder_free(struct dns_forwarder *fwd);

/* Replaces the upstream lists and flushes the cache. 0, -EINVAL (a bad
 * split domain, too many), or -ENOMEM (the old lists stay). */
int dns_forwarder_set_upstreams(struct dns_forwarder *fwd, const struct dns_upstreams *up)
    __attribute__((warn_unused_result));

/*
 * Answers query[0..len) as received from a client (over TCP when tcp):
 * done(ctx, ...) is called exactly once, before this returns on a cache hit
 * or when the query's list has no server, else later from the loop.
 * Returns 0; -EINVAL when the query is not one QUERY with one question
 * (dns_answer_local() forwards no other); -EBUSY when inflight_max queries
 * are waiting already (the server answers that client SERVFAIL itself);
 * -ENOMEM. done is not called when it returns an error.
 */
int dns_forwarder_query(struct dns_forwarder *fwd, const uint8_t *query, size_t len, bool tcp,
			dns_forward_done_fn done, void *ctx) __attribute__((warn_unused_result));

/* Forgets every query in flight for ctx: done is not called for them. */
void dns_forwarder_cancel(struct dns_forwarder *fwd, void *ctx);

/* The queries waiting for an upstream. */
size_t dns_forwarder_inflight(const struct dns_forwarder *fwd);

void dns_forwarder_get_stats(const struct dns_forwarder *fwd, struct dns_forward_stats *stats);

#endif
