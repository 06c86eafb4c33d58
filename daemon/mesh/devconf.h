/*
 * What a stock WireGuard device (a phone) needs to reach the mesh through
 * its hub: the CONFIG of the device_add command, from which the CLI writes
 * a wg-quick file. A pure function of the hub's view, used by both roles
 * (the coordinator when it is the hub, a member for its own devices):
 *
 *   {"hub": "home", "hub_public_key": "<base64>",
 *    "endpoint": "203.0.113.2:41641" | null, "endpoint_private": false,
 *    "allowed_ips": ["100.64.0.0/10", "fd7a:6d67:7465::/48", "192.168.77.0/24"],
 *    "exit_node": false, "mtu": 1280,
 *    "dns": ["100.100.100.100", "fd7a:6d67:7465::53"], "dns_search": ["mesh.internal"]}
 *
 * allowed_ips: the mesh prefixes, every approved subnet route of the view
 * (peers' routes and the hub's own approved ones), never a default route
 * (the CLI appends 0.0.0.0/0 and ::/0 itself when exit_node); IPv4 before
 * IPv6, by address, then length; each once.
 *
 * dns: the mesh resolver's addresses (the IPv6 one when the mesh has an
 * IPv6 prefix), which the hub answers at, and dns_search the mesh's domain,
 * when the hub serves DNS; both empty when it does not. A CLI that does not
 * know dns_search ignores it.
 *
 * endpoint, the first that applies: the configured one (the coordinator's
 * coordinator.endpoints[0], text as written: a DNS name stays one); the
 * observed one (the hub's address as the coordinator sees its packets) or
 * else the hub's first local address with the listen port, either of them
 * only when not in a private range (devconf_private()); then the observed,
 * else the first local, in a private range with endpoint_private = true (a
 * device outside that LAN needs an endpoint given by hand and a port
 * forward); null when there is none. Addresses no peer could use
 * (mesh_endpoint_usable() with the mesh prefixes) never count.
 */
#ifndef MESHGATE_MESH_DEVCONF_H
#define MESHGATE_MESH_DEVCONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/netmap.h"
#include "netaddr.h"

enum { DEVCONF_MTU = 1280 };

/* The endpoint candidates, in order of preference. */
struct devconf_endpoints {
	const char *configured;          /* "host:port" text, or NULL */
	const struct endpoint *observed; /* numeric, or NULL: none */
	const struct endpoint *local;    /* the host's addresses; their ports are ignored */
	size_t n_local;
	uint16_t listen_port; /* the hub's WireGuard port, for local addresses */
};

/*
 * CONFIG for a device of the hub hub_name (public key hub_key) from the
 * hub's netmap nm and its mesh prefixes mesh[0..n_mesh) (host bits are
 * ignored: the node's addresses with the prefix lengths do); dns_domain
 * the mesh's DNS domain, NULL when the hub serves no DNS. A new reference,
 * or NULL when out of memory.
 */
json_t *devconf_json(const struct netmap *nm, const struct prefix *mesh, size_t n_mesh,
		     const uint8_t hub_key[32], const char *hub_name, bool exit_node,
		     const struct devconf_endpoints *ep, const char *dns_domain);

/* Whether a numeric endpoint's address is one a device on the internet
 * cannot reach: RFC 1918, shared address space (100.64.0.0/10), loopback,
 * link-local, IPv6 unique local (fc00::/7), link-local and loopback; an
 * IPv4-mapped address as its IPv4 address. */
bool devconf_private(const struct endpoint *ep);

#endif
