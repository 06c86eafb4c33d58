/*
 * Facts about the host that the route plan depends on, read over rtnetlink:
 * the interface of the default route (the WAN), the prefixes directly
 * connected on the host's links (its LANs) and its own addresses, leaving
 * out the mesh's TUN device and loopback.
 */
#ifndef MESHGATE_ROUTER_HOSTINFO_H
#define MESHGATE_ROUTER_HOSTINFO_H

#include <net/if.h>
#include <stddef.h>

#include "netaddr.h"

struct nl_sock;

struct hostinfo {
	char wan_ifname[IFNAMSIZ]; /* IPv4 default route's interface, else IPv6's; "" if none */
	struct prefix *connected;  /* networks of the addresses on other links */
	size_t n_connected;
	struct prefix *local_addrs; /* those addresses as host prefixes */
	size_t n_local_addrs;
};

/* Reads the facts, ignoring the link whose index is skip_ifindex (the TUN).
 * 0 or -errno. Release with hostinfo_free() in every case. */
int hostinfo_read(struct nl_sock *sk, unsigned skip_ifindex, struct hostinfo *out)
    __attribute__((warn_unused_result));
void hostinfo_free(struct hostinfo *info);

#endif
