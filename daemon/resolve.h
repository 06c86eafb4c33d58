/*
 * Name resolution off the event loop. getaddrinfo() blocks for seconds when
 * a DNS server is slow or unreachable, so one worker thread runs the
 * lookups and hands the results back through an eventfd the loop watches;
 * the callbacks run on the loop's thread like every other callback, so the
 * daemon's state still needs no locks.
 *
 * Who uses it: periodic re-resolution of endpoint and coordinator names
 * (a DDNS address change), the STUN servers' names.
 *
 * A lookup is keyed by (host, port, family, fn, ctx): asking again while the
 * same lookup is queued or running adds nothing. The queue holds
 * RESOLVER_QUEUE lookups; beyond that resolver_lookup() says -EBUSY and the
 * caller asks again on its next tick.
 */
#ifndef MESHGATE_RESOLVE_H
#define MESHGATE_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

#define RESOLVER_QUEUE     32
#define RESOLVER_MAX_ADDRS 8

struct loop;
struct resolver;

struct resolver_result {
	/* 0; -ENOENT (no such name or no address of that family), -EAGAIN
	 * (temporary failure: no DNS server answered), -EIO (anything else). */
	int err;
	size_t n;
	/* IPv4 first, then IPv6, each in getaddrinfo()'s order, without
	 * duplicates; the port is the one asked for. */
	union sockaddr_inet addrs[RESOLVER_MAX_ADDRS];
};

/* host is the name asked for; res is valid only during the call. */
typedef void (*resolver_fn)(void *ctx, const char *host, uint16_t port,
			    const struct resolver_result *res);

/* Starts the worker thread; NULL on failure (errno set). */
struct resolver *resolver_new(struct loop *loop);
/*
 * Stops taking lookups and returns at once: a lookup the worker is in the
 * middle of finishes on its own (getaddrinfo() cannot be interrupted) and
 * its result is dropped; no callback runs after this. Not to be called
 * from one of the resolver's own callbacks.
 */
void resolver_free(struct resolver *r);

/* Queues a lookup (family AF_UNSPEC, AF_INET or AF_INET6); 0, -EINVAL for
 * an empty or over-long host, -EBUSY when the queue is full. */
int resolver_lookup(struct resolver *r, const char *host, uint16_t port, int family, resolver_fn fn,
		    void *ctx);
/* Drops every queued or finished lookup for ctx, and the result of one in
 * progress: fn is not called for ctx again until it asks anew. */
void resolver_cancel(struct resolver *r, void *ctx);

/* Lookups queued or running (for status and tests). */
size_t resolver_pending(const struct resolver *r);

#endif
