/*
 * Local answers of the mesh resolver: one query datagram in, a verdict out
 * (answered here, to be forwarded, or dropped). Wire format through ldns
 * only. Pure: no sockets, no clock; the server (UDP and TCP on port 53)
 * and the forwarder are the caller's.
 *
 * What is answered here, with AA set unless said:
 *   <label>.<domain>   A/AAAA of the name (ANY: both); NODATA (NOERROR, no
 *                      answer) for other types and for a family it has no
 *                      address of; NXDOMAIN for a name not in the zone and
 *                      for anything more than one label under the domain.
 *   <domain>           SOA; NS "<domain>."; A/AAAA the resolver's own
 *                      addresses (DNS_RESOLVER_V4/V6, the NS's glue); ANY:
 *                      all four; NODATA for other types.
 *   the mesh's reverse  every name under the reverse zones of the mesh
 *   space               networks (dns_zone_reverse_find(): 64.100 to
 *                       127.100.in-addr.arpa for 100.64.0.0/10, the
 *                       ip6.arpa zone of fd7a:6d67:7465::/48 and of the
 *                       mesh's IPv6 network): an address's name gets PTR
 *                       "<name>.<domain>." (NODATA for other types), an
 *                       address without one NXDOMAIN; an apex SOA and NS
 *                       "<domain>."; a partial address NODATA when a
 *                       name lies below it, else NXDOMAIN (RFC 8020), as
 *                       for labels that are no address. Nothing there is
 *                       forwarded: the mesh's layout stays in the mesh.
 * Negative answers (NXDOMAIN, NODATA) carry in authority a synthesized SOA
 * of the domain or of the reverse zone (its apex): MNAME
 * "<domain>.", RNAME "hostmaster.<domain>.", serial the zone's, refresh
 * 3600, retry 600, expire 86400, minimum DNS_ZONE_TTL; every TTL is
 * DNS_ZONE_TTL (60 s). The owner name of an answer is the question's, as
 * the client wrote it (0x20 case kept).
 *
 * Every response: the query's ID, opcode, RD and CD, RA set (the resolver
 * forwards), the question echoed when there was exactly one.
 *   - shorter than a header, or QR set: DNS_ANSWER_DROP (silence);
 *   - a header but no parse: FORMERR (NOTIMP when the opcode is not QUERY),
 *     no question, no OPT;
 *   - opcode not QUERY: NOTIMP;
 *   - QDCOUNT not 1: FORMERR;
 *   - EDNS version above 0: BADVERS (extended RCODE 16) with an OPT;
 *   - QCLASS not IN (CH, HS, ANY, ...): REFUSED, never forwarded;
 *   - AXFR or IXFR of a name answered here: REFUSED (no AA);
 *   - otherwise a name outside the domain and the mesh's reverse zones:
 *     DNS_ANSWER_FORWARD; the caller forwards the query unchanged.
 * EDNS0: a query with an OPT gets an OPT (UDP size DNS_ANSWER_EDNS_SIZE,
 * version 0, the query's DO bit). Over UDP a response longer than the
 * client's size (512 without EDNS, its OPT size but at least 512 with it,
 * never more than DNS_ANSWER_EDNS_SIZE) is sent with TC set and only the
 * question (and OPT), so the client retries over TCP; over TCP the whole
 * response is written up to cap. The 2-byte length prefix of DNS over TCP
 * is the server's, not written here.
 *
 * Memory: ldns allocates the parsed query and the response while answering
 * and frees them before returning; nothing else is allocated, and the
 * response bytes go to the caller's buffer.
 */
#ifndef MESHGATE_DNS_ANSWER_H
#define MESHGATE_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/zone.h"

enum {
	DNS_ANSWER_UDP_MIN = 512,    /* a client without EDNS */
	DNS_ANSWER_EDNS_SIZE = 1232, /* ours, and the most we send over UDP */
	DNS_ANSWER_TCP_MAX = 65535,
	DNS_RCODE_BADVERS = 16,
};

enum dns_transport { DNS_UDP, DNS_TCP };

enum dns_answer_verdict {
	DNS_ANSWER_DROP,    /* send nothing */
	DNS_ANSWER_REPLY,   /* send the response in out */
	DNS_ANSWER_FORWARD, /* not ours: forward the query */
};

/* A response's facts, for the caller's counters. */
struct dns_reply {
	size_t len;     /* bytes in out */
	unsigned rcode; /* with the EDNS extended bits (16: BADVERS) */
	bool truncated;
	bool authoritative;
};

/*
 * Decides what to do with query[0..len) received over transport, answering
 * from zone. On DNS_ANSWER_REPLY the response is in out[0..reply->len); cap
 * should be at least DNS_ANSWER_EDNS_SIZE for UDP and DNS_ANSWER_TCP_MAX for
 * TCP (a smaller cap truncates as UDP does; one too small even for the
 * question drops). reply may be NULL.
 */
enum dns_answer_verdict dns_answer_local(const struct dns_zone *zone, const uint8_t *query,
					 size_t len, enum dns_transport transport, uint8_t *out,
					 size_t cap, struct dns_reply *reply);

#endif
