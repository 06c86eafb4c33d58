/*
 * The mesh resolver's server: UDP and TCP sockets on the event loop that
 * hand each query to dns_answer_local() (dns/answer.h) and send what it
 * says, or pass it to a forwarder through struct dns_server_ops.
 *
 * Sockets: one UDP and one listening TCP socket per address given to
 * dns_server_listen(), non-blocking, bound with IP_FREEBIND so an address
 * the node is still adding (or an IPv6 one in DAD) does not fail the bind,
 * and SO_REUSEADDR so a host resolver on the wildcard address (which
 * set it too) does not either.
 * Who may reach them is the firewall's business (the plan's input guard
 * of the node's own addresses); the server only limits the rate.
 *
 * UDP: one datagram, one query; the reply leaves from the socket it came
 * to, truncated by dns_answer_local()'s rules (TC, at most 1232 bytes).
 * TCP (RFC 7766): 2-byte length framing; at most DNS_SERVER_TCP_MAX
 * connections (past it a new one is closed at once, counted); a query
 * longer than DNS_SERVER_TCP_QUERY_MAX closes the connection; one query at
 * a time per connection (the next is read once the reply is written); a
 * connection idle for DNS_SERVER_TCP_IDLE_MS is closed. Per connection
 * about 4 KiB in and the reply out (at most 64 KiB).
 *
 * Rate limit: a token bucket per source address (not port) in a table of
 * DNS_SERVER_RL_SLOTS entries (an open-addressed hash; a full probe run
 * takes the stalest bucket); every query, UDP or TCP, takes one token;
 * without one it is dropped (TCP: the connection is closed) and counted.
 * Default DNS_SERVER_RATE queries a second with bursts of
 * DNS_SERVER_BURST.
 *
 * Forwarding: a DNS_ANSWER_FORWARD verdict goes to ops->forward with the
 * query unchanged; its done callback is called once with the reply bytes,
 * later or from inside forward() (a cache hit; the server sends that
 * reply once forward() has returned). Without ops the query gets REFUSED at once; when forward
 * fails (-EBUSY) or DNS_SERVER_PENDING_MAX queries are already out,
 * SERVFAIL. A pending
 * forward whose client went away (TCP closed, server freed) is cancelled
 * through ops->cancel.
 */
#ifndef MESHGATE_DNS_DNSSERVER_H
#define MESHGATE_DNS_DNSSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/zone.h"
#include "loop.h"
#include "netaddr.h"

enum {
	DNS_SERVER_PORT = 53,
	DNS_SERVER_LISTEN_MAX = 8,
	DNS_SERVER_TCP_MAX = 64,
	DNS_SERVER_TCP_QUERY_MAX = 4096,
	DNS_SERVER_TCP_IDLE_MS = 10000,
	DNS_SERVER_RL_SLOTS = 1024,
	DNS_SERVER_RATE = 50,   /* tokens a second */
	DNS_SERVER_BURST = 200, /* bucket size */
	DNS_SERVER_PENDING_MAX = 512,
};

/* Called once per forwarded query with the reply (len 0: none came; the
 * server then sends SERVFAIL). */
typedef void (*dns_forward_done_fn)(void *ctx, const uint8_t *reply, size_t len);

/* The forwarder's seam; the node fills it (a NULL table: no forwarder). */
struct dns_server_ops {
	/* 0 when done() will be called later, -errno (-EBUSY) when not. */
	int (*forward)(void *fwd, const uint8_t *query, size_t len, bool tcp,
		       dns_forward_done_fn done, void *ctx);
	/* done() of ctx will not be called. */
	void (*cancel)(void *fwd, void *ctx);
	void *fwd;
};

/* Counters for /metrics and status. rcode: 0..5 as themselves, 6 any
 * other (BADVERS among them). */
struct dns_server_stats {
	uint64_t queries_udp, queries_tcp;
	uint64_t rcode[7];
	uint64_t local, forwarded;
	uint64_t dropped_ratelimit, dropped_malformed;
	uint64_t truncated;
	uint64_t tcp_refused; /* connections past DNS_SERVER_TCP_MAX */
};

struct dns_server;

/* A server without sockets or zone (every query gets REFUSED... until a
 * zone comes, then answers as dns_answer_local() does). ops may be NULL. */
int dns_server_new(struct loop *loop, const struct dns_server_ops *ops, struct dns_server **out)
    __attribute__((warn_unused_result));

/* Serves DNS over TCP on fd, a connected non-blocking stream socket (an
 * accepted one, or a socketpair's end in tests), from peer (its rate
 * limit's key); takes fd (closed on failure). -EBUSY past
 * DNS_SERVER_TCP_MAX connections, -ENOMEM. */
int dns_server_tcp_adopt(struct dns_server *srv, int fd, const union sockaddr_inet *peer);

/* Closes every socket and connection, cancels pending forwards; NULL-safe. */
void dns_server_free(struct dns_server *srv);

/* Takes zone (NULL: none, every query REFUSED); the old one is freed. */
void dns_server_set_zone(struct dns_server *srv, struct dns_zone *zone);
const struct dns_zone *dns_server_zone(const struct dns_server *srv);

/*
 * Makes the listening sockets those of addrs (address and port each, at
 * most DNS_SERVER_LISTEN_MAX): sockets of addresses that stay are kept,
 * the others closed (their TCP connections too), new ones opened. On a
 * failure the sockets that did open stay, errbuf names the address and
 * -errno is returned.
 */
int dns_server_listen(struct dns_server *srv, const union sockaddr_inet *addrs, size_t n,
		      char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* The addresses listened on (at most max into out); returns how many. */
size_t dns_server_listening(const struct dns_server *srv, union sockaddr_inet *out, size_t max);

/* Token bucket of each source: rate a second, burst at most. */
void dns_server_set_rate(struct dns_server *srv, uint32_t rate, uint32_t burst);

const struct dns_server_stats *dns_server_stats(const struct dns_server *srv);

/* Open TCP connections, for tests. */
size_t dns_server_tcp_count(const struct dns_server *srv);

#endif
