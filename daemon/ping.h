/*
 * ICMP echo probes for `meshgate ping`: one echo request to a mesh address
 * (IPv4 or IPv6) through the kernel's routes, which lead into the tunnel,
 * and the round-trip time of its reply. Raw sockets: needs root (or
 * CAP_NET_RAW), as the CLI's other daemon commands do.
 */
#ifndef MESHGATE_PING_H
#define MESHGATE_PING_H

#include <stdint.h>

#include "netaddr.h"

struct pinger {
	int fd;
	int family;
	union sockaddr_inet dst;
	uint16_t id;
};

/* Opens a raw ICMP socket for the family of dst (only the address part of
 * dst is used). 0 or -errno (-EPERM without CAP_NET_RAW). */
int pinger_open(struct pinger *p, const struct prefix *dst) __attribute__((warn_unused_result));
void pinger_close(struct pinger *p);

/* Sends echo request seq and waits up to timeout_ms for its reply. Returns
 * 0 with *rtt_us set, -ETIMEDOUT, or another -errno. */
int pinger_probe(struct pinger *p, uint16_t seq, int timeout_ms, uint64_t *rtt_us);

#endif
