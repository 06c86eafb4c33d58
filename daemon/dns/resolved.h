/*
 * systemd-resolved pointed at the mesh resolver through its D-Bus API
 * (org.freedesktop.resolve1, org.freedesktop.resolve1.Manager on
 * /org/freedesktop/resolve1; sd-bus), per link, on the node's TUN:
 *
 *   SetLinkDNS(i ifindex, a(iay))       100.100.100.100 [, fd7a:6d67:7465::53]
 *   SetLinkDomains(i ifindex, a(sb))    (domain, routing only):
 *                                       (mesh domain, false) so short names
 *                                       get it; (split domain, true) each;
 *                                       (".", true) with an exit node: every
 *                                       query to the mesh resolver
 *   SetLinkDefaultRoute(i ifindex, b)   true with an exit node, else false
 *   RevertLink(i ifindex)               on stop
 *
 * resolved forgets a link's settings when the link goes away, so a TUN
 * removed (node stop, `meshgated --cleanup`) leaves nothing behind there.
 */
#ifndef MESHGATE_DNS_RESOLVED_H
#define MESHGATE_DNS_RESOLVED_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/zone.h"
#include "netaddr.h"

enum { RESOLVED_DOMAINS_MAX = 34 }; /* the mesh's, ".", 32 split domains */

struct resolved_domain {
	char name[DNS_DOMAIN_MAX + 1];
	bool routing_only;
};

/* One link's settings. */
struct resolved_link {
	struct prefix dns[2]; /* host addresses */
	size_t n_dns;
	struct resolved_domain domains[RESOLVED_DOMAINS_MAX];
	size_t n_domains;
	bool default_route;
};

/* What the node wants of resolved (also osresolver.h's). */
struct resolved_want {
	const char *domain; /* the mesh's; NULL: DNS_DEFAULT_DOMAIN */
	bool v6;            /* the node has an IPv6 mesh address */
	bool exit_node;     /* the node sends its internet traffic through an exit node */
	const char *const *split_domains; /* LAN domains the mesh offers (subnet_router.dns) */
	size_t n_split_domains;
};

/* The settings of want; split domains past the cap, or equal to the
 * mesh's, are left out. Pure. */
void resolved_link_make(const struct resolved_want *want, struct resolved_link *out);

/* A connection to the system bus, with libsystemd's sd-bus loaded for it. */
struct resolved_bus;

/* The system bus with org.freedesktop.resolve1 on it, owned by a process
 * of this network namespace (a daemon in a container or a test namespace
 * that shares the host's bus must not set the host's links): a new
 * connection (resolved_disconnect() it), or NULL when there is none or
 * libsystemd cannot be loaded. */
struct resolved_bus *resolved_connect(void);

/* Flushes and closes b; NULL-safe. */
void resolved_disconnect(struct resolved_bus *b);

/* Applies link to ifindex; 0 or -errno with errbuf set (the D-Bus error). */
int resolved_apply(const struct resolved_bus *b, int ifindex, const struct resolved_link *link,
		   char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* RevertLink(ifindex): resolved drops what was set on it. */
int resolved_revert(const struct resolved_bus *b, int ifindex, char *errbuf, size_t errlen);

#endif
