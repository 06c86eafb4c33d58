/*
 * What a node tells the coordinator about itself, in a join request and in
 * "hello"/"update" messages on the control channel:
 *
 *   {"type": "hello", "hostname": "laptop", "routes": ["192.168.1.0/24"],
 *    "exit_node": false, "endpoints": ["192.168.1.20:41641"],
 *    "dns": {"domain": "home.lan", "server": "192.168.1.1:53"}}
 *
 * "dns" is the split DNS offer of a subnet router (mesh/splitdns.h),
 * absent when it offers none.
 * Every member is optional ("type" is the channel's, ignored here). The exit
 * offer becomes the routes 0.0.0.0/0 and ::/0, as the registry keeps it.
 */
#ifndef MESHGATE_MESH_HELLO_H
#define MESHGATE_MESH_HELLO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mesh/splitdns.h"
#include "netaddr.h"

enum { HELLO_MAX_ROUTES = 256, HELLO_MAX_ENDPOINTS = 16 };

struct mesh_hello {
	char hostname[CONFIG_NAME_MAX + 1];
	/* Networks, the exit offer's two defaults included when offered. */
	struct prefix routes[HELLO_MAX_ROUTES + 2];
	size_t n_routes;
	bool exit_node;
	struct endpoint endpoints[HELLO_MAX_ENDPOINTS]; /* numeric */
	size_t n_endpoints;
	struct split_dns dns; /* domain "": none offered */
};

/* Reads a hello (untrusted input). -EINVAL for a member of the wrong type,
 * a route that is not a network, a "dns" that split_dns_from_json() refuses, an endpoint that is
 * not numeric, or more than the limits; out is zeroed first. Endpoints no peer could use
 * (mesh_endpoint_usable() without mesh prefixes) are left out. */
int mesh_hello_parse(const json_t *obj, struct mesh_hello *out) __attribute__((warn_unused_result));

/*
 * This node's hello from its config: host name, subnet_router.routes,
 * exit_node.enabled, subnet_router.dns (when a domain is set), and endpoints: each address of the
 * host's interfaces that are up (but skip_ifname) that mesh_endpoint_usable() accepts, with port.
 * A new reference, or NULL.
 */
json_t *mesh_hello_create(const struct mg_config *cfg, const char *type, const char *skip_ifname,
			  uint16_t port);

/*
 * Whether ep may stand for a node on the wire, for its peers to send
 * handshakes to: numeric, a nonzero port, and an address of another host:
 * not unspecified or "this network" (0.0.0.0/8, ::), loopback, multicast,
 * the IPv4 broadcast address, or link-local (169.254.0.0/16, which also
 * holds cloud metadata services, and fe80::/10, which means nothing without
 * the reporting host's interface scope), nor inside one of the mesh prefixes
 * (their addresses are reached through the mesh itself). An IPv4-mapped
 * IPv6 address is judged as its IPv4 address. mesh may be NULL (n_mesh 0).
 */
bool mesh_endpoint_usable(const struct endpoint *ep, const struct prefix *mesh, size_t n_mesh);

/* The host's usable addresses with port, as above; returns how many (<= max). */
size_t mesh_local_endpoints(const char *skip_ifname, uint16_t port, struct endpoint *out,
			    size_t max);

/* JSON helpers shared by the roles. */
json_t *mesh_prefixes_json(const struct prefix *v, size_t n);
json_t *mesh_endpoints_json(const struct endpoint *v, size_t n);

#endif
