/*
 * The route plan (plan.h): the kernel state this node wants, computed from
 * the configuration, the peers and a few facts about the host. Pure: no
 * system calls and no state beyond const tables, so every rule below has a
 * case in tests/unit/test_plan.c.
 *
 * Prefixes
 *  - Mesh networks are the networks of the node's own `addresses` (the TUN's
 *    connected routes). A peer's allowed IP inside one of them is a mesh
 *    address: the connected route already leads into the TUN, so it needs no
 *    route of ours. Any other allowed IP except a default is a served prefix
 *    (a host prefix outside the mesh networks too: without a route it would
 *    be unreachable).
 *  - 0.0.0.0/0 or ::/0 in a peer's allowed IPs make it exit-capable; they
 *    are never routed nor given to the engine unless that peer is the exit
 *    node in use.
 *
 * Exit node in use (use_exit_node.peer)
 *  - Matched by name first, then by a mesh address when the value is an IP
 *    address. Unknown, or without a default in its allowed IPs: -EINVAL,
 *    the configuration cannot be served.
 *  - Default routes through the TUN for both families, plus unreachable
 *    defaults at ROUTE_METRIC_KILL_SWITCH: a family the exit does not offer
 *    still goes into the TUN, where the engine drops it (with a warning),
 *    rather than out of the uplink.
 *  - Independent of accept_routes: asking for an exit is explicit.
 *
 * Served prefixes (accept_routes)
 *  - Routed through the TUN (PLAN_ROUTE_TUN, ROUTE_METRIC_TUN), once each.
 *  - Skipped with a warning when this node serves it itself (equal to or
 *    inside subnet_router.routes), and, while the LAN rule exists, when it
 *    is equal to or inside a connected prefix of the host: rule 5300 finds
 *    the host's LAN route first, so the node reaches it directly. A served
 *    prefix that contains a LAN is routed; the LAN itself stays direct.
 *  - Two peers listing the same served prefix: a warning (the engine gives
 *    it to one of them only).
 *
 * Rules, for each family with a route in ROUTE_TABLE
 *  - RULE_PRIORITY_LAN: lookup main suppress_prefixlength 0; left out when
 *    the exit is in use without allow_lan_access.
 *  - RULE_PRIORITY_MESH: not fwmark FWMARK_BYPASS/FWMARK_MASK lookup
 *    ROUTE_TABLE.
 *
 * Subnet router and exit node (checked first; errors, not warnings)
 *  - subnet_router.routes may not hold a default (that is exit_node) nor
 *    overlap a mesh network.
 *  - exit_node.enabled needs a WAN: exit_node.wan_interface, else the
 *    host's default-route interface; never the TUN itself.
 *
 * nftables facts, present when forwarding (subnet router, exit node) or
 * when ROUTE_TABLE has routes
 *  - lan_routes: subnet_router.routes; snat only with lan_routes.
 *  - exit_node: wan; guarded = plan_private_ranges + the host's connected
 *    prefixes + its local addresses, empty with allow_private (the renderer
 *    accepts lan_routes before it drops guarded).
 *  - Prefix lists are canonical: sorted (family, address, length), with
 *    every entry inside another one dropped (nftables interval sets refuse
 *    overlaps), so plan_nft_equal() compares them element by element.
 *  - connmark whenever ROUTE_TABLE has routes (the mark-based rule exists);
 *    clamp_mss whenever the node forwards.
 *
 * Sysctls (only ever set to 1; the reconciler puts them back on stop)
 *  - net/ipv4/ip_forward: exit node, or IPv4 subnet routes.
 *  - net/ipv6/conf/all/forwarding: exit node, or IPv6 subnet routes.
 *  - net/ipv4/conf/all/src_valid_mark: connmark with IPv4 routes (IPv6 has
 *    no reverse-path sysctl that needs it), as wg-quick does.
 *
 * Engine allowed IPs: each peer's, minus defaults unless it is the exit in
 * use. Served prefixes left unrouted stay: they still authenticate what the
 * peer sends from them.
 */
#include "plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

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
const char *const plan_private_ranges[] = {
	"0.0.0.0/8",    "10.0.0.0/8",     "100.64.0.0/10",
	"127.0.0.0/8",  "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"224.0.0.0/4",  "240.0.0.0/4",    "::/128",
	"::1/128",      "::ffff:0:0/96",  "fc00::/7",
	"fe80::/10",    "ff00::/8",       NULL,
};

/* The state of one computation; the plan is built in p and handed over
 * only on success. */
struct planner {
	const struct mg_config *cfg;
	const struct plan_peer *peers;
	size_t n_peers;
	const struct plan_host *host;
	const char *tun;
	struct plan_prefixes mesh; /* the mesh networks */
	bool lan_rule;             /* RULE_PRIORITY_LAN is wanted */
	struct route_plan p;
	char *errbuf;
	size_t errlen;
};

/* ---- small helpers ---- */

/* Appends one zeroed element of size bytes to the array *vp of *n; returns
 * it, or NULL when out of memory. */
static void *append(void *vp, size_t *n, size_t size)
{
	void **v = vp;
	char *grown = realloc(*v, (*n + 1) * size);

	if (!grown)
		return NULL;
	*v = grown;
	memset(grown + *n * size, 0, size);
	return grown + (*n)++ * size;
}

static int prefixes_add(struct plan_prefixes *list, const struct prefix *p)
{
	struct prefix *slot = append(&list->v, &list->n, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	*slot = *p;
	return 0;
}

static bool prefixes_have(const struct plan_prefixes *list, const struct prefix *p)
{
	for (size_t i = 0; i < list->n; i++)
		if (prefix_equal(&list->v[i], p))
			return true;
	return false;
}

/* The entry of list that contains p (or equals it), or NULL. */
static const struct prefix *inside_of(const struct prefix *list, size_t n, const struct prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_contains(&list[i], p))
			return &list[i];
	return NULL;
}

/* The entry of list that overlaps p, or NULL. */
static const struct prefix *overlapping(const struct prefix *list, size_t n, const struct prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_overlaps(&list[i], p))
			return &list[i];
	return NULL;
}

static bool is_default(const struct prefix *p)
{
	return p->len == 0;
}

static bool has_family(const struct prefix *v, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == family)
			return true;
	return false;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, addr_len(x->family));
	return c ? c : (int)x->len - (int)y->len;
}

/* Sorts list and drops every entry that lies inside another one. */
static void prefixes_canonicalize(struct plan_prefixes *list)
{
	size_t kept = 0;

	if (list->n == 0)
		return;
	qsort(list->v, list->n, sizeof(*list->v), prefix_cmp);
	/* After sorting, an entry inside another follows it (or an entry
	 * inside that one) directly. */
	for (size_t i = 0; i < list->n; i++) {
		if (kept && prefix_contains(&list->v[kept - 1], &list->v[i]))
			continue;
		list->v[kept++] = list->v[i];
	}
	list->n = kept;
}

static void prefixes_free(struct plan_prefixes *list)
{
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

__attribute__((format(printf, 2, 3))) static int fail(struct planner *pl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pl->errbuf, pl->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

__attribute__((format(printf, 2, 3))) static int warn(struct planner *pl, const char *fmt, ...)
{
	char **slot = append(&pl->p.warnings, &pl->p.n_warnings, sizeof(*slot));
	va_list ap;
	int ret;

	if (!slot)
		return -ENOMEM;
	va_start(ap, fmt);
	ret = vasprintf(slot, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		*slot = NULL;
		return -ENOMEM;
	}
	return 0;
}

static const char *fmt_prefix(const struct prefix *p, char buf[PREFIX_STR_LEN])
{
	prefix_format(p, buf, PREFIX_STR_LEN);
	return buf;
}

/* ---- the node's own networks and the exit in use ---- */

static int collect_mesh_networks(struct planner *pl)
{
	const struct prefix_list *addrs = &pl->cfg->addresses;

	for (size_t i = 0; i < addrs->n; i++) {
		struct prefix net = addrs->v[i];
		prefix_mask(&net);
		if (!prefixes_have(&pl->mesh, &net) && prefixes_add(&pl->mesh, &net) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool is_mesh_address(const struct planner *pl, const struct prefix *p)
{
	return inside_of(pl->mesh.v, pl->mesh.n, p) != NULL;
}

static bool exit_capable(const struct plan_peer *peer, int family)
{
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		const struct prefix *p = &peer->allowed_ips[i];
		if (is_default(p) && (family == AF_UNSPEC || p->family == family))
			return true;
	}
	return false;
}

/* True if addr (a host prefix) is one of the peer's mesh addresses. */
static bool peer_has_mesh_address(const struct planner *pl, const struct plan_peer *peer,
				  const struct prefix *addr)
{
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		const struct prefix *p = &peer->allowed_ips[i];
		if (!is_default(p) && is_mesh_address(pl, p) && prefix_contains(p, addr))
			return true;
	}
	return false;
}

static long find_peer(const struct planner *pl, const char *want)
{
	struct prefix addr;

	for (size_t i = 0; i < pl->n_peers; i++)
		if (!strcmp(pl->peers[i].name, want))
			return (long)i;
	if (strchr(want, '/') || prefix_parse(&addr, want) < 0)
		return -1;
	for (size_t i = 0; i < pl->n_peers; i++)
		if (peer_has_mesh_address(pl, &pl->peers[i], &addr))
			return (long)i;
	return -1;
}

static int choose_exit_peer(struct planner *pl)
{
	const char *want = pl->cfg->use_exit_node.peer;
	const struct plan_peer *peer;
	long i;

	pl->p.exit_peer = -1;
	if (!want[0])
		return 0;
	i = find_peer(pl, want);
	if (i < 0)
		return fail(pl,
			    "use_exit_node.peer '%s' is not a known peer: no peer has that name "
			    "or mesh address",
			    want);
	peer = &pl->peers[i];
	if (!exit_capable(peer, AF_UNSPEC))
		return fail(pl,
			    "use_exit_node.peer '%s' is not an exit node: its allowed_ips have "
			    "no 0.0.0.0/0 or ::/0",
			    want);
	pl->p.exit_peer = i;
	if (!exit_capable(peer, AF_INET))
		return warn(pl,
			    "exit node '%s' offers IPv6 only; IPv4 traffic is dropped rather "
			    "than sent outside the mesh",
			    peer->name);
	if (!exit_capable(peer, AF_INET6))
		return warn(pl,
			    "exit node '%s' offers IPv4 only; IPv6 traffic is dropped rather "
			    "than sent outside the mesh",
			    peer->name);
	return 0;
}

/* ---- checks of what this node serves ---- */

static int check_subnet_routes(struct planner *pl)
{
	const struct prefix_list *routes = &pl->cfg->subnet_router.routes;
	char a[PREFIX_STR_LEN], b[PREFIX_STR_LEN];

	for (size_t i = 0; i < routes->n; i++) {
		const struct prefix *r = &routes->v[i], *m;
		if (is_default(r))
			return fail(pl,
				    "subnet_router.routes: %s is a default route; offer the "
				    "uplink with exit_node.enabled instead",
				    fmt_prefix(r, a));
		m = overlapping(pl->mesh.v, pl->mesh.n, r);
		if (m)
			return fail(pl,
				    "subnet_router.routes: %s overlaps the mesh network %s "
				    "(addresses); advertise only LAN prefixes",
				    fmt_prefix(r, a), fmt_prefix(m, b));
	}
	return 0;
}

/* The exit node's WAN interface into wan, or -EINVAL. */
static int choose_wan(struct planner *pl, char wan[IFNAMSIZ])
{
	const char *cfg_wan = pl->cfg->exit_node.wan_interface;

	if (cfg_wan[0] && !strcmp(cfg_wan, pl->tun))
		return fail(pl,
			    "exit_node.wan_interface '%s' is the mesh interface itself; name "
			    "the uplink",
			    cfg_wan);
	if (cfg_wan[0]) {
		snprintf(wan, IFNAMSIZ, "%s", cfg_wan);
		return 0;
	}
	if (!pl->host->wan_ifname[0])
		return fail(pl, "exit_node.enabled needs a WAN interface: set "
				"exit_node.wan_interface or give the host a default route");
	if (!strcmp(pl->host->wan_ifname, pl->tun))
		return fail(pl,
			    "exit_node.enabled: the host's default route goes through the mesh "
			    "interface '%s'; set exit_node.wan_interface to the uplink",
			    pl->tun);
	snprintf(wan, IFNAMSIZ, "%s", pl->host->wan_ifname);
	return 0;
}

/* ---- engine allowed IPs ---- */

static int engine_allowed_ips(struct planner *pl)
{
	pl->p.n_peers = pl->n_peers;
	if (!pl->n_peers)
		return 0;
	pl->p.engine_allowed_ips = calloc(pl->n_peers, sizeof(*pl->p.engine_allowed_ips));
	if (!pl->p.engine_allowed_ips)
		return -ENOMEM;
	for (size_t i = 0; i < pl->n_peers; i++) {
		const struct plan_peer *peer = &pl->peers[i];
		bool is_exit = (long)i == pl->p.exit_peer;
		for (size_t j = 0; j < peer->n_allowed_ips; j++) {
			const struct prefix *p = &peer->allowed_ips[j];
			if (is_default(p) && !is_exit)
				continue;
			if (prefixes_add(&pl->p.engine_allowed_ips[i], p) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* ---- routes ---- */

static int route_add(struct planner *pl, const struct prefix *dst, enum plan_route_type type,
		     uint32_t metric)
{
	struct plan_route *r = append(&pl->p.routes, &pl->p.n_routes, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->dst = *dst;
	r->type = type;
	r->metric = metric;
	return 0;
}

static bool route_have(const struct planner *pl, const struct prefix *dst,
		       enum plan_route_type type)
{
	for (size_t i = 0; i < pl->p.n_routes; i++)
		if (pl->p.routes[i].type == type && prefix_equal(&pl->p.routes[i].dst, dst))
			return true;
	return false;
}

/* Warns when an earlier peer lists the same served prefix. */
static int warn_duplicate(struct planner *pl, size_t peer, const struct prefix *p)
{
	char a[PREFIX_STR_LEN];

	for (size_t i = 0; i < peer; i++)
		for (size_t j = 0; j < pl->peers[i].n_allowed_ips; j++)
			if (prefix_equal(&pl->peers[i].allowed_ips[j], p))
				return warn(pl,
					    "peers '%s' and '%s' both list %s in allowed_ips; "
					    "only one of them receives its traffic",
					    pl->peers[i].name, pl->peers[peer].name,
					    fmt_prefix(p, a));
	return 0;
}

/* Routes one served prefix of a peer, or says why not. */
static int route_served(struct planner *pl, size_t peer, const struct prefix *p)
{
	const struct prefix_list *own = &pl->cfg->subnet_router.routes;
	const struct plan_host *host = pl->host;
	const char *name = pl->peers[peer].name;
	char a[PREFIX_STR_LEN], b[PREFIX_STR_LEN];
	const struct prefix *m;

	if (route_have(pl, p, PLAN_ROUTE_TUN))
		return warn_duplicate(pl, peer, p);
	m = inside_of(own->v, own->n, p);
	if (m)
		return warn(pl,
			    "peer '%s' serves %s, which this node serves itself (%s in "
			    "subnet_router.routes); not routed through the mesh",
			    name, fmt_prefix(p, a), fmt_prefix(m, b));
	m = pl->lan_rule ? inside_of(host->connected, host->n_connected, p) : NULL;
	if (m)
		return warn(pl,
			    "peer '%s' serves %s inside this host's LAN %s; reaching it "
			    "directly",
			    name, fmt_prefix(p, a), fmt_prefix(m, b));
	return route_add(pl, p, PLAN_ROUTE_TUN, ROUTE_METRIC_TUN);
}

static int routes_served(struct planner *pl)
{
	int ret = 0;

	if (!pl->cfg->accept_routes)
		return 0;
	for (size_t i = 0; i < pl->n_peers && !ret; i++) {
		const struct plan_peer *peer = &pl->peers[i];
		for (size_t j = 0; j < peer->n_allowed_ips && !ret; j++) {
			const struct prefix *p = &peer->allowed_ips[j];
			if (!is_default(p) && !is_mesh_address(pl, p))
				ret = route_served(pl, i, p);
		}
	}
	return ret;
}

static int routes_exit(struct planner *pl)
{
	static const struct prefix defaults[] = { { .family = AF_INET }, { .family = AF_INET6 } };
	int ret = 0;

	if (pl->p.exit_peer < 0)
		return 0;
	for (size_t i = 0; i < 2 && !ret; i++)
		ret = route_add(pl, &defaults[i], PLAN_ROUTE_TUN, ROUTE_METRIC_TUN);
	for (size_t i = 0; i < 2 && !ret; i++)
		ret = route_add(pl, &defaults[i], PLAN_ROUTE_UNREACHABLE, ROUTE_METRIC_KILL_SWITCH);
	return ret;
}

static bool routes_have_family(const struct route_plan *p, int family)
{
	for (size_t i = 0; i < p->n_routes; i++)
		if (p->routes[i].dst.family == family)
			return true;
	return false;
}

/* ---- rules ---- */

static int rule_add(struct planner *pl, const struct plan_rule *rule)
{
	struct plan_rule *r = append(&pl->p.rules, &pl->p.n_rules, sizeof(*r));

	if (!r)
		return -ENOMEM;
	*r = *rule;
	return 0;
}

static int rules_family(struct planner *pl, int family)
{
	const struct plan_rule lan = {
		.family = family,
		.priority = RULE_PRIORITY_LAN,
		.table = 254, /* RT_TABLE_MAIN */
		.suppress_prefixlen = 0,
	};
	const struct plan_rule mesh = {
		.family = family,
		.priority = RULE_PRIORITY_MESH,
		.table = ROUTE_TABLE,
		.fwmark = FWMARK_BYPASS,
		.fwmask = FWMARK_MASK,
		.invert = true,
		.suppress_prefixlen = -1,
	};
	int ret;

	if (!routes_have_family(&pl->p, family))
		return 0;
	if (pl->lan_rule && (ret = rule_add(pl, &lan)) < 0)
		return ret;
	return rule_add(pl, &mesh);
}

/* ---- nftables facts ---- */

static int guarded_fill(struct planner *pl, struct plan_prefixes *guarded)
{
	const struct plan_host *host = pl->host;
	struct prefix p;

	for (size_t i = 0; plan_private_ranges[i]; i++) {
		if (prefix_parse(&p, plan_private_ranges[i]) < 0)
			return -EINVAL;
		if (prefixes_add(guarded, &p) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < host->n_connected; i++) {
		p = host->connected[i];
		prefix_mask(&p);
		if (prefixes_add(guarded, &p) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < host->n_local_addrs; i++) {
		p = host->local_addrs[i];
		p.len = (uint8_t)(addr_len(p.family) * 8);
		if (prefixes_add(guarded, &p) < 0)
			return -ENOMEM;
	}
	prefixes_canonicalize(guarded);
	return 0;
}

static int nft_exit_node(struct planner *pl, struct plan_nft *nft)
{
	int ret = choose_wan(pl, nft->wan);

	if (ret < 0)
		return ret;
	nft->exit_node = true;
	nft->allow_private = pl->cfg->exit_node.allow_private;
	return nft->allow_private ? 0 : guarded_fill(pl, &nft->guarded);
}

static int nft_facts(struct planner *pl)
{
	const struct mg_config *cfg = pl->cfg;
	struct plan_nft *nft = &pl->p.nft;
	const struct prefix_list *lan = &cfg->subnet_router.routes;
	bool forwarding = lan->n > 0 || cfg->exit_node.enabled;
	int ret;

	nft->connmark = pl->p.n_routes > 0;
	nft->clamp_mss = forwarding;
	nft->present = forwarding || nft->connmark;
	if (!nft->present)
		return 0;
	snprintf(nft->tun, sizeof(nft->tun), "%s", pl->tun);
	nft->mtu = pl->host->mtu ? pl->host->mtu : cfg->mtu;
	for (size_t i = 0; i < lan->n; i++)
		if (prefixes_add(&nft->lan_routes, &lan->v[i]) < 0)
			return -ENOMEM;
	prefixes_canonicalize(&nft->lan_routes);
	nft->snat = lan->n > 0 && cfg->subnet_router.snat;
	if (cfg->exit_node.enabled && (ret = nft_exit_node(pl, nft)) < 0)
		return ret;
	return 0;
}

/* ---- sysctls ---- */

static int sysctls(struct planner *pl)
{
	const struct mg_config *cfg = pl->cfg;
	const struct prefix_list *lan = &cfg->subnet_router.routes;
	bool exit_node = cfg->exit_node.enabled;
	const struct {
		const char *path;
		bool wanted;
	} table[] = {
		{ "net/ipv4/ip_forward", exit_node || has_family(lan->v, lan->n, AF_INET) },
		{ "net/ipv6/conf/all/forwarding",
		  exit_node || has_family(lan->v, lan->n, AF_INET6) },
		{ "net/ipv4/conf/all/src_valid_mark",
		  pl->p.nft.connmark && routes_have_family(&pl->p, AF_INET) },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct plan_sysctl *s;
		if (!table[i].wanted)
			continue;
		s = append(&pl->p.sysctls, &pl->p.n_sysctls, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->path = table[i].path; /* string literals: static storage */
		s->value = "1";
	}
	return 0;
}

/* ---- the whole plan ---- */

static int compute(struct planner *pl)
{
	const struct mg_config *cfg = pl->cfg;
	int ret;

	if ((ret = collect_mesh_networks(pl)) < 0 || (ret = check_subnet_routes(pl)) < 0 ||
	    (ret = choose_exit_peer(pl)) < 0)
		return ret;
	pl->lan_rule = pl->p.exit_peer < 0 || cfg->use_exit_node.allow_lan_access;
	if ((ret = engine_allowed_ips(pl)) < 0 || (ret = routes_served(pl)) < 0 ||
	    (ret = routes_exit(pl)) < 0)
		return ret;
	if ((ret = rules_family(pl, AF_INET)) < 0 || (ret = rules_family(pl, AF_INET6)) < 0)
		return ret;
	if ((ret = nft_facts(pl)) < 0)
		return ret;
	return sysctls(pl);
}

int route_plan_compute(const struct mg_config *cfg, const struct plan_peer *peers, size_t n_peers,
		       const struct plan_host *host, struct route_plan *out, char *errbuf,
		       size_t errlen)
{
	struct planner pl = {
		.cfg = cfg,
		.peers = peers,
		.n_peers = n_peers,
		.host = host,
		.tun = host->tun_name && host->tun_name[0] ? host->tun_name : cfg->interface,
		.errbuf = errbuf,
		.errlen = errlen,
	};
	int ret;

	if (errlen)
		errbuf[0] = '\0';
	ret = compute(&pl);
	prefixes_free(&pl.mesh);
	if (ret == -ENOMEM)
		snprintf(errbuf, errlen, "out of memory computing the route plan");
	if (ret < 0) {
		route_plan_free(&pl.p);
		memset(out, 0, sizeof(*out));
		out->exit_peer = -1;
		return ret;
	}
	*out = pl.p;
	return 0;
}

void route_plan_free(struct route_plan *plan)
{
	if (!plan)
		return;
	free(plan->routes);
	free(plan->rules);
	free(plan->sysctls);
	prefixes_free(&plan->nft.lan_routes);
	prefixes_free(&plan->nft.guarded);
	for (size_t i = 0; i < plan->n_peers && plan->engine_allowed_ips; i++)
		prefixes_free(&plan->engine_allowed_ips[i]);
	free(plan->engine_allowed_ips);
	for (size_t i = 0; i < plan->n_warnings; i++)
		free(plan->warnings[i]);
	free(plan->warnings);
	memset(plan, 0, sizeof(*plan));
	plan->exit_peer = -1;
}

static bool prefixes_equal(const struct plan_prefixes *a, const struct plan_prefixes *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!prefix_equal(&a->v[i], &b->v[i]))
			return false;
	return true;
}

bool plan_nft_equal(const struct plan_nft *a, const struct plan_nft *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return !strcmp(a->tun, b->tun) && a->mtu == b->mtu &&
	       prefixes_equal(&a->lan_routes, &b->lan_routes) && a->snat == b->snat &&
	       a->exit_node == b->exit_node && !strcmp(a->wan, b->wan) &&
	       a->allow_private == b->allow_private && prefixes_equal(&a->guarded, &b->guarded) &&
	       a->connmark == b->connmark && a->clamp_mss == b->clamp_mss;
}

/* ---- text form ---- */

struct textbuf {
	char *buf;
	size_t len, used; /* used may pass len: the length wanted */
};

__attribute__((format(printf, 2, 3))) static void put(struct textbuf *t, const char *fmt, ...)
{
	size_t room = t->used < t->len ? t->len - t->used : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? t->buf + t->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->used += (size_t)n;
}

static void put_prefixes(struct textbuf *t, const struct plan_prefixes *list)
{
	char a[PREFIX_STR_LEN];

	for (size_t i = 0; i < list->n; i++)
		put(t, " %s", fmt_prefix(&list->v[i], a));
}

static const char *family_name(int family)
{
	return family == AF_INET ? "ipv4" : "ipv6";
}

static void put_rule(struct textbuf *t, const struct plan_rule *r)
{
	put(t, "rule %s %u", family_name(r->family), r->priority);
	if (r->fwmask)
		put(t, "%s fwmark 0x%x/0x%x", r->invert ? " not" : "", r->fwmark, r->fwmask);
	if (r->table == 254)
		put(t, " lookup main");
	else
		put(t, " lookup %u", r->table);
	if (r->suppress_prefixlen >= 0)
		put(t, " suppress_prefixlength %d", r->suppress_prefixlen);
	put(t, "\n");
}

static void put_nft(struct textbuf *t, const struct plan_nft *nft)
{
	if (!nft->present)
		return;
	put(t, "nft tun %s mtu %u%s%s\n", nft->tun, nft->mtu, nft->connmark ? " connmark" : "",
	    nft->clamp_mss ? " clamp_mss" : "");
	if (nft->lan_routes.n) {
		put(t, "nft lan");
		put_prefixes(t, &nft->lan_routes);
		put(t, "%s\n", nft->snat ? " snat" : "");
	}
	if (nft->exit_node)
		put(t, "nft exit wan %s%s\n", nft->wan, nft->allow_private ? " allow_private" : "");
	if (nft->guarded.n) {
		put(t, "nft guarded");
		put_prefixes(t, &nft->guarded);
		put(t, "\n");
	}
}

size_t route_plan_format(const struct route_plan *plan, char *buf, size_t len)
{
	struct textbuf t = { .buf = buf, .len = len };
	char a[PREFIX_STR_LEN];

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < plan->n_routes; i++) {
		const struct plan_route *r = &plan->routes[i];
		put(&t, "route %s %s metric %u\n",
		    r->type == PLAN_ROUTE_TUN ? "tun" : "unreachable", fmt_prefix(&r->dst, a),
		    r->metric);
	}
	for (size_t i = 0; i < plan->n_rules; i++)
		put_rule(&t, &plan->rules[i]);
	for (size_t i = 0; i < plan->n_sysctls; i++)
		put(&t, "sysctl %s=%s\n", plan->sysctls[i].path, plan->sysctls[i].value);
	put_nft(&t, &plan->nft);
	for (size_t i = 0; i < plan->n_peers; i++) {
		put(&t, "peer %zu%s", i, (long)i == plan->exit_peer ? " exit" : "");
		put_prefixes(&t, &plan->engine_allowed_ips[i]);
		put(&t, "\n");
	}
	for (size_t i = 0; i < plan->n_warnings; i++)
		put(&t, "warning %s\n", plan->warnings[i]);
	return t.used;
}
