/*
 * The wg-quick(8) configuration of a stock WireGuard device (a phone, a
 * laptop with the official app) attached to a mesh node, its hub:
 *
 *   # meshgate device phone, hub home
 *   [Interface]
 *   PrivateKey = <base64>     ("# PrivateKey = ..." when made on the device)
 *   Address = 100.64.0.7/32, fd7a:6d67:7465::7/128
 *   MTU = 1280
 *   DNS = 100.100.100.100, mesh.internal
 *                             (only with resolvers: their addresses, then
 *                             the search domains, as wg-quick reads them)
 *
 *   [Peer]
 *   PublicKey = <the hub's>
 *   Endpoint = host:port      (only with an endpoint)
 *   AllowedIPs = <mesh prefixes, routes>[, 0.0.0.0/0, ::/0 with exit]
 *   PersistentKeepalive = 25
 *
 * Pure: a struct in, text out. Every field is checked for its form (keys are
 * 32 bytes of base64, addresses and prefixes parse, the endpoint is
 * HOST:PORT), so nothing the daemon answers can add a line of its own.
 */
#ifndef MESHGATE_WGQUICK_H
#define MESHGATE_WGQUICK_H

#include <stdbool.h>
#include <stddef.h>

enum {
	WGQUICK_KEEPALIVE = 25, /* seconds: keeps the device's NAT mapping open */
	WGQUICK_MAX_LIST = 1024,
};

struct wgquick_config {
	const char *device;         /* the device's name, for the first comment */
	const char *hub;            /* the hub's name, likewise */
	const char *dns_name;       /* the device's name in the mesh's DNS, likewise; NULL: none */
	const char *private_key;    /* base64; NULL: the key was made on the device */
	const char *const *address; /* the device's host prefixes (v4/32, v6/128) */
	size_t n_address;
	unsigned mtu;
	const char *const *dns; /* resolver addresses; none: no DNS line */
	size_t n_dns;
	const char *const *dns_search; /* search domains, after the addresses */
	size_t n_dns_search;
	const char *hub_public_key;     /* base64 */
	const char *endpoint;           /* HOST:PORT or [V6]:PORT; NULL: no Endpoint line */
	const char *const *allowed_ips; /* mesh prefixes and routes, no defaults */
	size_t n_allowed_ips;
	bool exit_node; /* route everything through the hub: adds 0.0.0.0/0, ::/0 */
};

/*
 * Writes the configuration as one NUL-terminated string into *text, which the
 * caller releases with wgquick_free() (it may hold the private key). Lists are
 * written in their order with duplicates left out. Returns 0, -EINVAL when a
 * field is missing or not of its form (names: 1 to 63 printable ASCII
 * characters; search domains: DNS names; mtu 0 leaves the MTU line out,
 * else 576 to 65535), or -ENOMEM. Prefixes, addresses, keys, search domains
 * (lower case, no final dot) and the endpoint are written in their
 * canonical form.
 */
int wgquick_format(const struct wgquick_config *c, char **text) __attribute__((warn_unused_result));

/* Wipes and frees a text from wgquick_format(); NULL-safe. */
void wgquick_free(char *text);

#endif
