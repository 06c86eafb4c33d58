/* Host facts over rtnetlink; see hostinfo.h. */
#include "hostinfo.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdlib.h>
#include <string.h>

static int prefix_append(struct prefix **v, size_t *n, const struct prefix *p)
{
	struct prefix *grown;

	for (size_t i = 0; i < *n; i++)
		if (prefix_equal(&(*v)[i], p))
			return 0;
	grown = realloc(*v, (*n + 1) * sizeof(**v));
	if (!grown)
		return -ENOMEM;
	*v = grown;
	(*v)[(*n)++] = *p;
	return 0;
}

static bool prefix_from_nl(const struct nl_addr *a, uint8_t len, struct prefix *p)
{
	int family = nl_addr_get_family(a);

	if ((family != AF_INET && family != AF_INET6) || nl_addr_get_len(a) != addr_len(family))
		return false;
	*p = (struct prefix){ .family = family, .len = len };
	memcpy(p->addr, nl_addr_get_binary_addr(a), addr_len(family));
	return true;
}

static int read_addresses(struct nl_sock *sk, unsigned skip_ifindex, struct hostinfo *out)
{
	struct nl_cache *cache = NULL;
	int ret = rtnl_addr_alloc_cache(sk, &cache);

	if (ret < 0)
		return -EIO;
	for (struct nl_object *o = nl_cache_get_first(cache); o && ret == 0;
	     o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		struct prefix host, net;

		if ((unsigned)rtnl_addr_get_ifindex(a) == skip_ifindex ||
		    rtnl_addr_get_scope(a) >= RT_SCOPE_LINK || !local ||
		    !prefix_from_nl(local, (uint8_t)rtnl_addr_get_prefixlen(a), &net))
			continue;
		host = net;
		host.len = net.family == AF_INET ? 32 : 128;
		prefix_mask(&net);
		ret = prefix_append(&out->local_addrs, &out->n_local_addrs, &host);
		if (ret == 0 && net.len < host.len)
			ret = prefix_append(&out->connected, &out->n_connected, &net);
	}
	nl_cache_free(cache);
	return ret;
}

/* The interface of the main table's default route of one family. */
static bool default_route_ifname(struct nl_cache *routes, struct nl_cache *links, int family,
				 unsigned skip_ifindex, char name[IFNAMSIZ])
{
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh;
		int ifindex;

		if (rtnl_route_get_family(r) != family ||
		    rtnl_route_get_table(r) != RT_TABLE_MAIN ||
		    rtnl_route_get_type(r) != RTN_UNICAST ||
		    nl_addr_get_prefixlen(rtnl_route_get_dst(r)) != 0 ||
		    rtnl_route_get_nnexthops(r) < 1)
			continue;
		nh = rtnl_route_nexthop_n(r, 0);
		ifindex = rtnl_route_nh_get_ifindex(nh);
		if (ifindex <= 0 || (unsigned)ifindex == skip_ifindex)
			continue;
		return rtnl_link_i2name(links, ifindex, name, IFNAMSIZ) != NULL;
	}
	return false;
}

static int read_wan(struct nl_sock *sk, unsigned skip_ifindex, struct hostinfo *out)
{
	struct nl_cache *routes = NULL, *links = NULL;
	int ret = -EIO;

	if (rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes) < 0 ||
	    rtnl_link_alloc_cache(sk, AF_UNSPEC, &links) < 0)
		goto out;
	if (!default_route_ifname(routes, links, AF_INET, skip_ifindex, out->wan_ifname))
		default_route_ifname(routes, links, AF_INET6, skip_ifindex, out->wan_ifname);
	ret = 0;
out:
	nl_cache_free(routes);
	nl_cache_free(links);
	return ret;
}

int hostinfo_read(struct nl_sock *sk, unsigned skip_ifindex, struct hostinfo *out)
{
	int ret;

	*out = (struct hostinfo){ 0 };
	ret = read_addresses(sk, skip_ifindex, out);
	if (ret == 0)
		ret = read_wan(sk, skip_ifindex, out);
	return ret;
}

void hostinfo_free(struct hostinfo *info)
{
	free(info->connected);
	free(info->local_addrs);
	*info = (struct hostinfo){ 0 };
}
