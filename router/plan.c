/*
 * The route plan (plan.h): the kernel state this node wants, computed from
 * the configuration, the peers and a few facts about the host. Pure: no
 * system calls and no state beyond const tables, so every rule below has a
 * case in tests/unit/test_plan.c.
 *
 * The exit node's two sides live in exitnode/: exit_client.c (use_exit_node:
 * the exit in use, its default routes and kill switch, LAN access) and
 * exit_server.c (exit_node: the WAN and the private-range guard). This file
 * calls them; they call back nothing of it. All three work on one struct
 * planner through the helpers of router/planner.h (planner.c), which sit
 * below them: one direction only, no file circle.
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
 *    node in use (exitnode/exit_client.c).
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
 *    the exit is in use without allow_lan_access (exit_client_allows_lan()).
 *  - RULE_PRIORITY_MESH: not fwmark FWMARK_BYPASS/FWMARK_MASK lookup
 *    ROUTE_TABLE.
 *
 * Subnet router (checked first; errors, not warnings)
 *  - subnet_router.routes may not hold a default (that is exit_node) nor
 *    overlap a mesh network.
 *
 * What this node serves (config and approval)
 *  - A static node serves its subnet_router.routes and exit_node as
 *    configured: the admin's config is the authority.
 *  - A mesh member (coordinator, joined or joining) serves only what the
 *    coordinator approved as well: the configured routes its netmap's self
 *    lists as approved, the exit node when configured and approved. Before
 *    the first netmap nothing is approved, so nothing is forwarded. A route
 *    or exit that is not served is neither forwarded, masqueraded nor
 *    given a forwarding sysctl: a peer that routes it into this node's TUN
 *    anyway (allowed IPs, a route of its own) hits the drop below.
 *
 * nftables facts: the table is always present, so TUN-ingress forwarding
 * ends in from_mesh's drop even on a host that forwards by itself
 * (ip_forward=1) and the node's mesh addresses answer only through the TUN
 * and loopback
 *  - self: the node's addresses and the resolver's it holds
 *    (host->resolver_addrs) as host prefixes.
 *  - lan_routes: the served routes; snat only with lan_routes.
 *  - exit_node, wan, allow_private and guarded: exit_server_nft()
 *    (exitnode/exit_server.c), only when the exit is served; a missing WAN is an
 *    error there.
 *  - Prefix lists are canonical: sorted (family, address, length), with
 *    every entry inside another one dropped (nftables interval sets refuse
 *    overlaps), so plan_nft_equal() compares them element by element.
 *  - devices: the addresses of the attached devices (device peers);
 *    devices_exit: those of the devices with device_exit, only when the
 *    exit is served; mesh_routes, with devices only: the mesh networks and
 *    the prefixes routed into the TUN except defaults, what devices may
 *    reach through the TUN (not the internet through an exit node this
 *    node uses).
 *  - connmark whenever ROUTE_TABLE has routes (the mark-based rule exists);
 *    clamp_mss whenever the node forwards (served LANs, exit, devices).
 *  - acl: the access policy this node enforces (host->policy), only with
 *    default "deny" (plan_acl.c): entry 0 for the mesh control port
 *    unless the filter has a rule 0, then the filter's entries, canonical;
 *    exit entries only with exit_node.
 *    "allow" or no policy: no acl, the table as without policies.
 *
 * Devices (stock WireGuard clients this node hubs: plan peers with device)
 *  - Their addresses lie in the mesh networks: no route of ours on any
 *    node. The TUN's connected route takes them to the engine, whose
 *    allowed IPs pick the hub (on other nodes) or the device's peer (here).
 *  - The engine authenticates sources: a device's peer sends only from the
 *    device's addresses, a mesh node never from one, so the renderer's
 *    "source is a device" is sound.
 *
 * Sysctls (only ever set to 1; the reconciler puts them back on stop)
 *  - net/ipv4/ip_forward: exit node, IPv4 subnet routes, or a device with
 *    an IPv4 address.
 *  - net/ipv6/conf/all/forwarding: exit node, IPv6 subnet routes, or a
 *    device with an IPv6 address.
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
#include "exit_client.h"
#include "exit_server.h"
#include "plan_acl.h"
#include "planner.h"

/* ---- small helpers (the planner_* ones are in planner.c) ---- */

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

static bool has_family(const struct prefix *v, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == family)
			return true;
	return false;
}

static void prefixes_free(struct plan_prefixes *list)
{
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

static const char *fmt_prefix(const struct prefix *p, char buf[PREFIX_STR_LEN])
{
	prefix_format(p, buf, PREFIX_STR_LEN);
	return buf;
}

/* ---- the node's own networks ---- */

static int collect_mesh_networks(struct planner *pl)
{
	const struct prefix_list *addrs = &pl->cfg->addresses;

	for (size_t i = 0; i < addrs->n; i++) {
		struct prefix net = addrs->v[i];
		prefix_mask(&net);
		if (!prefixes_have(&pl->mesh, &net) && planner_prefixes_add(&pl->mesh, &net) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- checks of what this node serves ---- */

static int check_subnet_routes(struct planner *pl)
{
	const struct prefix_list *routes = &pl->cfg->subnet_router.routes;
	char a[PREFIX_STR_LEN], b[PREFIX_STR_LEN];

	for (size_t i = 0; i < routes->n; i++) {
		const struct prefix *r = &routes->v[i], *m;
		if (planner_is_default(r))
			return planner_fail(
			    pl,
			    "subnet_router.routes: %s is a default route; offer the "
			    "uplink with exit_node.enabled instead",
			    fmt_prefix(r, a));
		m = overlapping(pl->mesh.v, pl->mesh.n, r);
		if (m)
			return planner_fail(pl,
					    "subnet_router.routes: %s overlaps the mesh network %s "
					    "(addresses); advertise only LAN prefixes",
					    fmt_prefix(r, a), fmt_prefix(m, b));
	}
	return 0;
}

/* ---- what this node serves ---- */

static bool approved(const struct plan_host *host, const struct prefix *p)
{
	for (size_t i = 0; i < host->n_approved_routes; i++)
		if (prefix_equal(&host->approved_routes[i], p))
			return true;
	return false;
}

static int collect_served(struct planner *pl)
{
	const struct prefix_list *routes = &pl->cfg->subnet_router.routes;
	const struct plan_host *host = pl->host;

	for (size_t i = 0; i < routes->n; i++) {
		struct prefix net = routes->v[i];
		prefix_mask(&net);
		if (host->mesh_member && !approved(host, &net))
			continue;
		if (planner_prefixes_add(&pl->served, &net) < 0)
			return -ENOMEM;
	}
	planner_prefixes_canonicalize(&pl->served);
	pl->exit_served = pl->cfg->exit_node.enabled && (!host->mesh_member || host->exit_approved);
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
			if (planner_is_default(p) && !is_exit)
				continue;
			if (planner_prefixes_add(&pl->p.engine_allowed_ips[i], p) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* ---- routes ---- */

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
				return planner_warn(
				    pl,
				    "peers '%s' and '%s' both list %s in allowed_ips; "
				    "only one of them receives its traffic",
				    pl->peers[i].name, pl->peers[peer].name, fmt_prefix(p, a));
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
		return planner_warn(pl,
				    "peer '%s' serves %s, which this node serves itself (%s in "
				    "subnet_router.routes); not routed through the mesh",
				    name, fmt_prefix(p, a), fmt_prefix(m, b));
	m = pl->lan_rule ? inside_of(host->connected, host->n_connected, p) : NULL;
	if (m)
		return planner_warn(pl,
				    "peer '%s' serves %s inside this host's LAN %s; reaching it "
				    "directly",
				    name, fmt_prefix(p, a), fmt_prefix(m, b));
	return planner_route_add(pl, p, PLAN_ROUTE_TUN, ROUTE_METRIC_TUN);
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
			if (!planner_is_default(p) && !planner_is_mesh_address(pl, p))
				ret = route_served(pl, i, p);
		}
	}
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
	struct plan_rule *r = planner_append(&pl->p.rules, &pl->p.n_rules, sizeof(*r));

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

static int nft_self(struct planner *pl, struct plan_prefixes *self)
{
	const struct prefix_list *addrs = &pl->cfg->addresses;
	size_t n = addrs->n + pl->host->n_resolver_addrs;

	for (size_t i = 0; i < n; i++) {
		struct prefix p =
		    i < addrs->n ? addrs->v[i] : pl->host->resolver_addrs[i - addrs->n];
		p.len = (uint8_t)(addr_len(p.family) * 8);
		if (planner_prefixes_add(self, &p) < 0)
			return -ENOMEM;
	}
	planner_prefixes_canonicalize(self);
	return 0;
}

/* Where devices may go through the TUN: the mesh networks and the routed
 * prefixes, no default. */
static int nft_mesh_routes(struct planner *pl, struct plan_nft *nft)
{
	for (size_t i = 0; i < pl->mesh.n; i++)
		if (planner_prefixes_add(&nft->mesh_routes, &pl->mesh.v[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < pl->p.n_routes; i++) {
		const struct plan_route *r = &pl->p.routes[i];
		if (r->type == PLAN_ROUTE_TUN && !planner_is_default(&r->dst) &&
		    planner_prefixes_add(&nft->mesh_routes, &r->dst) < 0)
			return -ENOMEM;
	}
	planner_prefixes_canonicalize(&nft->mesh_routes);
	return 0;
}

/* The attached devices' addresses; with the exit served, also those that
 * may use it; with any, where they may go through the TUN. */
static int nft_devices(struct planner *pl, struct plan_nft *nft)
{
	for (size_t i = 0; i < pl->n_peers; i++) {
		const struct plan_peer *peer = &pl->peers[i];
		bool exit = pl->exit_served && peer->device_exit;

		for (size_t j = 0; peer->device && j < peer->n_allowed_ips; j++) {
			const struct prefix *p = &peer->allowed_ips[j];
			if (planner_prefixes_add(&nft->devices, p) < 0 ||
			    (exit && planner_prefixes_add(&nft->devices_exit, p) < 0))
				return -ENOMEM;
		}
	}
	planner_prefixes_canonicalize(&nft->devices);
	planner_prefixes_canonicalize(&nft->devices_exit);
	return nft->devices.n ? nft_mesh_routes(pl, nft) : 0;
}

static int nft_facts(struct planner *pl)
{
	const struct mg_config *cfg = pl->cfg;
	struct plan_nft *nft = &pl->p.nft;
	const struct plan_prefixes *lan = &pl->served;
	int ret;

	nft->present = true;
	nft->connmark = pl->p.n_routes > 0;
	snprintf(nft->tun, sizeof(nft->tun), "%s", pl->tun);
	nft->mtu = pl->host->mtu ? pl->host->mtu : cfg->mtu;
	if ((ret = nft_self(pl, &nft->self)) < 0 || (ret = nft_devices(pl, nft)) < 0)
		return ret;
	nft->clamp_mss = lan->n > 0 || pl->exit_served || nft->devices.n > 0;
	for (size_t i = 0; i < lan->n; i++)
		if (planner_prefixes_add(&nft->lan_routes, &lan->v[i]) < 0)
			return -ENOMEM;
	nft->snat = lan->n > 0 && cfg->subnet_router.snat;
	if (pl->exit_served && (ret = exit_server_nft(pl, nft)) < 0)
		return ret;
	return plan_acl_compute(pl, nft);
}

/* ---- sysctls ---- */

static int sysctls(struct planner *pl)
{
	const struct plan_prefixes *lan = &pl->served, *dev = &pl->p.nft.devices;
	bool exit_node = pl->exit_served;
	const struct {
		const char *path;
		bool wanted;
	} table[] = {
		{ "net/ipv4/ip_forward", exit_node || has_family(lan->v, lan->n, AF_INET) ||
					     has_family(dev->v, dev->n, AF_INET) },
		{ "net/ipv6/conf/all/forwarding", exit_node ||
						      has_family(lan->v, lan->n, AF_INET6) ||
						      has_family(dev->v, dev->n, AF_INET6) },
		{ "net/ipv4/conf/all/src_valid_mark",
		  pl->p.nft.connmark && routes_have_family(&pl->p, AF_INET) },
	};

	const char *wan = exit_node ? pl->p.nft.wan : pl->host->wan_ifname;
	struct plan_sysctl *s;

	/* A forwarding host ignores router advertisements unless accept_ra is
	 * 2, and turning forwarding on drops the default routes they gave
	 * unless it is 2 already: set first, a WAN's SLAAC default route
	 * stays. 0 (RAs turned off) stays too. */
	if (table[1].wanted && wan[0] && strcmp(wan, pl->tun)) {
		s = planner_append(&pl->p.sysctls, &pl->p.n_sysctls, sizeof(*s));
		if (!s)
			return -ENOMEM;
		snprintf(s->path, sizeof(s->path), "net/ipv6/conf/%s/accept_ra", wan);
		s->value = "2";
		s->unless = "0";
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (!table[i].wanted)
			continue;
		s = planner_append(&pl->p.sysctls, &pl->p.n_sysctls, sizeof(*s));
		if (!s)
			return -ENOMEM;
		snprintf(s->path, sizeof(s->path), "%s", table[i].path);
		s->value = "1"; /* string literals: static storage */
	}
	return 0;
}

/* ---- the whole plan ---- */

static int compute(struct planner *pl)
{
	int ret;

	if ((ret = collect_mesh_networks(pl)) < 0 || (ret = check_subnet_routes(pl)) < 0 ||
	    (ret = collect_served(pl)) < 0 || (ret = exit_client_choose_peer(pl)) < 0)
		return ret;
	pl->lan_rule = exit_client_allows_lan(pl);
	if ((ret = engine_allowed_ips(pl)) < 0 || (ret = routes_served(pl)) < 0 ||
	    (ret = exit_client_routes(pl)) < 0)
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
	prefixes_free(&pl.served);
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
	prefixes_free(&plan->nft.self);
	prefixes_free(&plan->nft.lan_routes);
	prefixes_free(&plan->nft.guarded);
	prefixes_free(&plan->nft.devices);
	prefixes_free(&plan->nft.devices_exit);
	prefixes_free(&plan->nft.mesh_routes);
	plan_acl_free(&plan->nft.acl);
	for (size_t i = 0; i < plan->n_peers && plan->engine_allowed_ips; i++)
		prefixes_free(&plan->engine_allowed_ips[i]);
	free(plan->engine_allowed_ips);
	for (size_t i = 0; i < plan->n_warnings; i++)
		free(plan->warnings[i]);
	free(plan->warnings);
	memset(plan, 0, sizeof(*plan));
	plan->exit_peer = -1;
}

bool plan_nft_equal(const struct plan_nft *a, const struct plan_nft *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return !strcmp(a->tun, b->tun) && a->mtu == b->mtu &&
	       planner_prefixes_equal(&a->self, &b->self) &&
	       planner_prefixes_equal(&a->lan_routes, &b->lan_routes) && a->snat == b->snat &&
	       a->exit_node == b->exit_node && !strcmp(a->wan, b->wan) &&
	       a->allow_private == b->allow_private &&
	       planner_prefixes_equal(&a->guarded, &b->guarded) &&
	       planner_prefixes_equal(&a->devices, &b->devices) &&
	       planner_prefixes_equal(&a->devices_exit, &b->devices_exit) &&
	       planner_prefixes_equal(&a->mesh_routes, &b->mesh_routes) &&
	       a->connmark == b->connmark && a->clamp_mss == b->clamp_mss &&
	       plan_acl_equal(&a->acl, &b->acl);
}

void plan_nft_free(struct plan_nft *nft)
{
	prefixes_free(&nft->self);
	prefixes_free(&nft->lan_routes);
	prefixes_free(&nft->guarded);
	prefixes_free(&nft->devices);
	prefixes_free(&nft->devices_exit);
	prefixes_free(&nft->mesh_routes);
	plan_acl_free(&nft->acl);
	*nft = (struct plan_nft){ 0 };
}

int plan_nft_copy(struct plan_nft *dst, const struct plan_nft *src)
{
	plan_nft_free(dst);
	*dst = *src;
	dst->self = dst->lan_routes = dst->guarded = (struct plan_prefixes){ 0 };
	dst->devices = dst->devices_exit = dst->mesh_routes = (struct plan_prefixes){ 0 };
	dst->acl = (struct plan_acl){ 0 };
	if (planner_prefixes_copy(&dst->self, &src->self) < 0 ||
	    planner_prefixes_copy(&dst->lan_routes, &src->lan_routes) < 0 ||
	    planner_prefixes_copy(&dst->guarded, &src->guarded) < 0 ||
	    planner_prefixes_copy(&dst->devices, &src->devices) < 0 ||
	    planner_prefixes_copy(&dst->devices_exit, &src->devices_exit) < 0 ||
	    planner_prefixes_copy(&dst->mesh_routes, &src->mesh_routes) < 0 ||
	    plan_acl_copy(&dst->acl, &src->acl) < 0) {
		plan_nft_free(dst);
		return -ENOMEM;
	}
	return 0;
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

static void put_acl_entry(struct textbuf *t, const struct plan_acl_entry *e)
{
	char protos[16];

	put(t, "nft acl rule %u %s from", e->rule, plan_acl_hook_name(e->hook));
	put_prefixes(t, &e->src);
	if (e->dst.n) {
		put(t, " to");
		put_prefixes(t, &e->dst);
	}
	put(t, " proto %s", plan_acl_protocols_format(e->protocols, protos, sizeof(protos)));
	for (size_t i = 0; i < e->n_ports; i++) {
		if (e->ports[i].lo == e->ports[i].hi)
			put(t, "%s%u", i ? "," : " port ", e->ports[i].lo);
		else
			put(t, "%s%u-%u", i ? "," : " port ", e->ports[i].lo, e->ports[i].hi);
	}
	put(t, "\n");
}

static void put_nft(struct textbuf *t, const struct plan_nft *nft)
{
	if (!nft->present)
		return;
	put(t, "nft tun %s mtu %u%s%s\n", nft->tun, nft->mtu, nft->connmark ? " connmark" : "",
	    nft->clamp_mss ? " clamp_mss" : "");
	if (nft->self.n) {
		put(t, "nft self");
		put_prefixes(t, &nft->self);
		put(t, "\n");
	}
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
	if (nft->devices.n) {
		put(t, "nft dev");
		put_prefixes(t, &nft->devices);
		put(t, "\n");
	}
	if (nft->devices_exit.n) {
		put(t, "nft devexit");
		put_prefixes(t, &nft->devices_exit);
		put(t, "\n");
	}
	if (nft->mesh_routes.n) {
		put(t, "nft meshnet");
		put_prefixes(t, &nft->mesh_routes);
		put(t, "\n");
	}
	if (nft->acl.deny)
		put(t, "nft acl deny\n");
	for (size_t i = 0; i < nft->acl.n_entries; i++)
		put_acl_entry(t, &nft->acl.entries[i]);
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
		put(&t, "sysctl %s=%s%s%s\n", plan->sysctls[i].path, plan->sysctls[i].value,
		    plan->sysctls[i].unless ? " unless " : "",
		    plan->sysctls[i].unless ? plan->sysctls[i].unless : "");
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
