/*
 * A subnet router's split DNS offer (subnet_router.dns): queries for a
 * domain of its LAN go to a server on that LAN. On the wire, in the hello
 * and in a netmap peer's "split_dns":
 *
 *   {"domain": "home.lan", "server": "192.168.77.1:53"}
 *
 * domain: dns_domain_valid(), taken in lower case without a final dot;
 * server: numeric "IP", "IP:PORT" or "[IPv6]:PORT" (port 53 when none; not
 * 0). The offer is usable only while its router is the primary router for
 * an approved route holding the server's address: approving the route is
 * approving the offer (netmap_build.h, apply.h).
 */
#ifndef MESHGATE_MESH_SPLITDNS_H
#define MESHGATE_MESH_SPLITDNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "dns/zone.h"
#include "netaddr.h"

struct split_dns {
	char domain[DNS_DOMAIN_MAX + 1]; /* "": no offer */
	union sockaddr_inet server;
};

/* The wire form of s (new reference), or NULL. */
json_t *split_dns_json(const struct split_dns *s);

/* Reads the wire form (untrusted): 0 or -EINVAL; out is zeroed first. */
int split_dns_from_json(const json_t *obj, struct split_dns *out)
    __attribute__((warn_unused_result));

/* "IP" (port 53) or "IP:PORT" / "[IPv6]:PORT", port not 0. */
bool split_dns_server_parse(const char *text, union sockaddr_inet *out);

/* Whether the server's address lies inside p. */
bool split_dns_server_in(const struct split_dns *s, const struct prefix *p);

/* Whether one of the n routes holds the server's address; an exit
 * offer's default routes approve nothing here. */
bool split_dns_server_routed(const struct split_dns *s, const struct prefix *routes, size_t n);

#endif
