/*
 * One exchange with an upstream resolver, as bytes: whether a response
 * answers the query that was sent, the response the client gets, the
 * SERVFAIL the forwarder gives when no upstream answers, and the upstreams
 * of a resolv.conf. Pure (no sockets, no clock); wire format through ldns
 * only. The sockets and timers are dns/forward.c's.
 *
 * A response matches the query sent when it is at least a header, has QR
 * set, the ID sent, opcode QUERY, parses, and holds exactly the question
 * sent (name without regard to case, type, class). Anything else is
 * ignored by the forwarder, which keeps waiting for the right one.
 *
 * The client's response is the upstream's re-encoded with: the client's
 * ID and question (its case kept), the upstream's flags and rcode, every
 * TTL less age (not below 0), and an OPT only when the query had one (OPT
 * is hop by hop, RFC 6891 s. 6.1.1: ours, UDP size DNS_ANSWER_EDNS_SIZE,
 * version 0, the upstream's DO bit and extended rcode, no options). Over
 * UDP a response longer than the client's size (512, or its OPT size
 * between 512 and DNS_ANSWER_EDNS_SIZE) goes with TC and the question
 * only, as dns_answer_local() does, so the client retries over TCP; over
 * TCP it is whole.
 */
#ifndef MESHGATE_DNS_UPSTREAM_H
#define MESHGATE_DNS_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

enum dns_upstream_match {
	DNS_UPSTREAM_MISMATCH,  /* not an answer to what was sent: ignore */
	DNS_UPSTREAM_MATCH,     /* the answer */
	DNS_UPSTREAM_TRUNCATED, /* the answer, with TC set */
};

enum { DNS_UPSTREAM_PORT = 53, DNS_UPSTREAM_MAX = 8 };

enum dns_upstream_match dns_upstream_match(const uint8_t *sent, size_t sent_len,
					   const uint8_t *reply, size_t len);

/* The 4-bit header rcode of reply (at least a header long). */
unsigned dns_upstream_rcode(const uint8_t *reply, size_t len);

/*
 * Writes the client's response to query[0..qlen) (as the client sent it)
 * from the upstream's matching reply[0..len), aged by age seconds, into
 * out[0..cap) (see the top of this file); *out_len its length. Returns 0,
 * -EINVAL when either does not parse, -ENOSPC, or -ENOMEM.
 */
int dns_upstream_client_reply(const uint8_t *query, size_t qlen, bool tcp, const uint8_t *reply,
			      size_t len, uint32_t age, uint8_t *out, size_t cap, size_t *out_len)
    __attribute__((warn_unused_result));

/*
 * Writes a SERVFAIL for query[0..qlen) into out[0..cap): its ID, opcode,
 * RD and CD, RA set, its question, an OPT when it had one (DO kept).
 * Returns 0, -EINVAL when the query does not parse, -ENOSPC or -ENOMEM.
 */
int dns_upstream_servfail(const uint8_t *query, size_t qlen, uint8_t *out, size_t cap,
			  size_t *out_len) __attribute__((warn_unused_result));

/*
 * The resolvers of a resolv.conf: each "nameserver ADDRESS" line (an IPv6
 * address may carry %scope), port 53, in file order, at most cap. Left
 * out: loopback addresses (127.0.0.0/8, ::1: a local stub such as
 * systemd-resolved's 127.0.0.53, whose own upstreams are in
 * /run/systemd/resolve/resolv.conf), the unspecified address, and the mesh
 * resolver's own (DNS_RESOLVER_V4/V6), which would forward to itself.
 * Read it before the node manages the file (dns.manage_resolv_conf), so
 * the upstreams are what the host used before. Returns 0 with *n set (0
 * when none), or -errno when the file cannot be read.
 */
int dns_upstream_resolv_conf(const char *path, union sockaddr_inet *out, size_t cap, size_t *n)
    __attribute__((warn_unused_result));

#endif
