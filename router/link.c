/* Link state and addresses over rtnetlink; see link.h. */
#include "link.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdbool.h>
#include <string.h>

struct nl_sock *rtnl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk) {
		errno = ENOMEM;
		return NULL;
	}
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	return sk;
}

void rtnl_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

/* libnl's error codes are its own; map the common ones back to errno. */
static int nl_to_errno(int err)
{
	switch (-err) {
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	default:
		return -EIO;
	}
}

int link_up(struct nl_sock *sk, unsigned ifindex, uint32_t mtu)
{
	struct rtnl_link *orig = NULL, *change = NULL;
	int ret;

	ret = rtnl_link_get_kernel(sk, (int)ifindex, NULL, &orig);
	if (ret < 0)
		return nl_to_errno(ret);
	change = rtnl_link_alloc();
	if (!change) {
		ret = -ENOMEM;
		goto out;
	}
	rtnl_link_set_mtu(change, mtu);
	rtnl_link_set_flags(change, IFF_UP);
	ret = rtnl_link_change(sk, orig, change, 0);
	ret = ret < 0 ? nl_to_errno(ret) : 0;
out:
	rtnl_link_put(change);
	rtnl_link_put(orig);
	return ret;
}

static struct rtnl_addr *addr_object(unsigned ifindex, const struct prefix *p, bool service)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(p->family, p->addr, addr_len(p->family));

	if (!a || !local) {
		rtnl_addr_put(a);
		nl_addr_put(local);
		return NULL;
	}
	nl_addr_set_prefixlen(local, p->len);
	rtnl_addr_set_ifindex(a, (int)ifindex);
	rtnl_addr_set_local(a, local);
	rtnl_addr_set_prefixlen(a, p->len);
	if (p->family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	if (service && p->family == AF_INET)
		rtnl_addr_set_scope(a, RT_SCOPE_HOST);
	if (service && p->family == AF_INET6) {
		rtnl_addr_set_valid_lifetime(a, 0xffffffff);
		rtnl_addr_set_preferred_lifetime(a, 0);
	}
	nl_addr_put(local);
	return a;
}

static bool addr_wanted(struct rtnl_addr *a, const struct prefix *addrs, size_t count)
{
	struct nl_addr *local = rtnl_addr_get_local(a);

	for (size_t i = 0; i < count; i++) {
		if (addrs[i].family == nl_addr_get_family(local) &&
		    addrs[i].len == rtnl_addr_get_prefixlen(a) &&
		    memcmp(addrs[i].addr, nl_addr_get_binary_addr(local),
			   addr_len(addrs[i].family)) == 0)
			return true;
	}
	return false;
}

/* Removes the link's addresses that are not wanted (IPv6 link-local stays). */
static int remove_unwanted(struct nl_sock *sk, unsigned ifindex, const struct prefix *addrs,
			   size_t count)
{
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	int ret = rtnl_addr_alloc_cache(sk, &cache);

	if (ret < 0)
		return nl_to_errno(ret);
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *a = (struct rtnl_addr *)obj;
		if (rtnl_addr_get_ifindex(a) != (int)ifindex || addr_wanted(a, addrs, count) ||
		    rtnl_addr_get_scope(a) == RT_SCOPE_LINK)
			continue;
		ret = rtnl_addr_delete(sk, a, 0);
		if (ret < 0 && ret != -NLE_OBJ_NOTFOUND && ret != -NLE_NOADDR)
			break;
		ret = 0;
	}
	nl_cache_free(cache);
	return ret < 0 ? nl_to_errno(ret) : 0;
}

int link_set_addresses(struct nl_sock *sk, unsigned ifindex, const struct prefix *addrs,
		       size_t count, size_t n_service)
{
	int ret = remove_unwanted(sk, ifindex, addrs, count);

	for (size_t i = 0; ret == 0 && i < count; i++) {
		struct rtnl_addr *a = addr_object(ifindex, &addrs[i], i + n_service >= count);
		if (!a)
			return -ENOMEM;
		ret = rtnl_addr_add(sk, a, NLM_F_REPLACE);
		ret = ret < 0 ? nl_to_errno(ret) : 0;
		rtnl_addr_put(a);
	}
	return ret;
}

unsigned link_index(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = NULL;
	unsigned index = 0;

	if (rtnl_link_get_kernel(sk, 0, name, &link) == 0)
		index = (unsigned)rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return index;
}

int link_delete(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = NULL;
	int ret = rtnl_link_get_kernel(sk, 0, name, &link);

	if (ret < 0)
		return ret == -NLE_OBJ_NOTFOUND || ret == -NLE_NODEV ? 0 : nl_to_errno(ret);
	ret = rtnl_link_delete(sk, link);
	rtnl_link_put(link);
	return ret < 0 && ret != -NLE_OBJ_NOTFOUND ? nl_to_errno(ret) : 0;
}
