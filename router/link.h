/*
 * Links and addresses through rtnetlink (libnl-route-3): bring the TUN up
 * with its MTU and give it the node's mesh addresses.
 */
#ifndef MESHGATE_ROUTER_LINK_H
#define MESHGATE_ROUTER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

struct nl_sock;

/* A connected NETLINK_ROUTE socket; NULL on failure (errno set). */
struct nl_sock *rtnl_open(void);
void rtnl_close(struct nl_sock *sk);

/* Sets the MTU and brings the link up. 0 or -errno. */
int link_up(struct nl_sock *sk, unsigned ifindex, uint32_t mtu);

/* Makes the link's addresses exactly `addrs` (prefix length included):
 * adds the missing ones and removes the others. IPv6 addresses skip
 * duplicate address detection (a TUN has no neighbours). The last
 * n_service of them are service addresses, delivered to but never picked
 * as a source: IPv4 with scope host, IPv6 deprecated (preferred lifetime
 * 0); a socket bound to one still sends from it. 0 or -errno. */
int link_set_addresses(struct nl_sock *sk, unsigned ifindex, const struct prefix *addrs,
		       size_t count, size_t n_service);

/* Index of the link called name, or 0 if there is none. */
unsigned link_index(struct nl_sock *sk, const char *name);

/* Deletes the link called name; 0 also when there is none. */
int link_delete(struct nl_sock *sk, const char *name);

#endif
