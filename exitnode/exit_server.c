/*
 * Exit-node server (exit_server.h): the WAN interface and the nftables
 * facts of a node that offers its uplink to the mesh; router/nft_render.c
 * turns the facts into the forward, masquerade and guard rules. Pure, like
 * the rest of the route plan (router/plan.c); every rule below has a case
 * in tests/unit/test_plan.c.
 *
 *  - exit_node.enabled needs a WAN: exit_node.wan_interface, else the
 *    host's default-route interface; never the TUN itself (-EINVAL).
 *  - guarded = exit_server_private_ranges + the host's connected prefixes
 *    + its local addresses, canonical (planner_prefixes_canonicalize()),
 *    and empty with allow_private; the renderer accepts lan_routes before it
 *    drops guarded, so a subnet router's own LANs stay reachable.
 *  - The forwarding sysctls an exit node needs are set by plan.c.
 */
#include "exit_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "planner.h"

/*
 * Checked against RFC 6890 and the IANA special-purpose registries. In:
 * "this network", RFC 1918, shared address space (RFC 6598, where the mesh
 * itself lives), loopback, link-local, IETF protocol assignments,
 * benchmarking, multicast and the reserved 240/4 (which holds the limited
 * broadcast address); for IPv6 the unspecified and loopback addresses,
 * IPv4-mapped addresses (a way around the IPv4 entries), ULA, link-local
 * and multicast. Left out on purpose: the documentation ranges (192.0.2/24,
 * 198.51.100/24, 203.0.113/24, 2001:db8::/32: nothing real lives there and
 * test topologies use them as the internet), and the globally reachable
 * translation and tunnelling prefixes (NAT64's 64:ff9b::/96, which is how
 * an IPv6-only uplink reaches IPv4; Teredo 2001::/32; 6to4 2002::/16 and
 * 192.88.99/24).
 */
const char *const exit_server_private_ranges[] = {
	"0.0.0.0/8",    "10.0.0.0/8",     "100.64.0.0/10",
	"127.0.0.0/8",  "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"224.0.0.0/4",  "240.0.0.0/4",    "::/128",
	"::1/128",      "::ffff:0:0/96",  "fc00::/7",
	"fe80::/10",    "ff00::/8",       NULL,
};

int exit_server_wan(struct planner *pl, char wan[IFNAMSIZ])
{
	const char *cfg_wan = pl->cfg->exit_node.wan_interface;

	if (cfg_wan[0] && !strcmp(cfg_wan, pl->tun))
		return planner_fail(pl,
				    "exit_node.wan_interface '%s' is the mesh interface itself; "
				    "name the uplink",
				    cfg_wan);
	if (cfg_wan[0]) {
		snprintf(wan, IFNAMSIZ, "%s", cfg_wan);
		return 0;
	}
	if (!pl->host->wan_ifname[0])
		return planner_fail(pl, "exit_node.enabled needs a WAN interface: set "
					"exit_node.wan_interface or give the host a default route");
	if (!strcmp(pl->host->wan_ifname, pl->tun))
		return planner_fail(
		    pl,
		    "exit_node.enabled: the host's default route goes through the "
		    "mesh interface '%s'; set exit_node.wan_interface to the uplink",
		    pl->tun);
	snprintf(wan, IFNAMSIZ, "%s", pl->host->wan_ifname);
	return 0;
}

static int guarded_fill(struct planner *pl, struct plan_prefixes *guarded)
{
	const struct plan_host *host = pl->host;
	struct prefix p;

	for (size_t i = 0; exit_server_private_ranges[i]; i++) {
		if (prefix_parse(&p, exit_server_private_ranges[i]) < 0)
			return -EINVAL;
		if (planner_prefixes_add(guarded, &p) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < host->n_connected; i++) {
		p = host->connected[i];
		prefix_mask(&p);
		if (planner_prefixes_add(guarded, &p) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < host->n_local_addrs; i++) {
		p = host->local_addrs[i];
		p.len = (uint8_t)(addr_len(p.family) * 8);
		if (planner_prefixes_add(guarded, &p) < 0)
			return -ENOMEM;
	}
	planner_prefixes_canonicalize(guarded);
	return 0;
}

int exit_server_nft(struct planner *pl, struct plan_nft *nft)
{
	int ret = exit_server_wan(pl, nft->wan);

	if (ret < 0)
		return ret;
	nft->exit_node = true;
	nft->allow_private = pl->cfg->exit_node.allow_private;
	return nft->allow_private ? 0 : guarded_fill(pl, &nft->guarded);
}
